#!/usr/bin/env python3
"""Regenerate the `config` part of values.schema.json from otelbot's settings model.

    python helm/otelbot/update-schema.py

The chart renders `config` into the settings file the bot reads, so the schema of `config` is the
JSON Schema of ``bot.config.Settings`` with two kinds of fields removed. Secret fields (tokens,
the Redis URL, passwords) go, because they come from Secrets. `playbooks`, `queries.file`,
`slack.mode`, `slack.port` and `slack.host` go, because the chart sets them as environment
variables, which override the file. Run it after changing ``bot/config.py``: tests/chart fails while the committed
schema differs from this output. The rest of values.schema.json is edited by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

SCHEMA_FILE = Path(__file__).resolve().parent / "values.schema.json"
REPO_DIR = Path(__file__).resolve().parents[2]

# Settings that the chart passes as environment variables, by model and field.
CHART_OWNED = {"Settings": {"playbooks"}, "SlackSettings": {"mode", "port", "host"}, "QuerySettings": {"file"}}
_DROPPED_KEYS = {"title", "default"}
_DROPPED_FORMATS = {"path", "password"}


def _is_secret(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("writeOnly") for option in options)


def _clean(node: Any) -> Any:
    """Drop annotations a validator does not need, secret fields and pydantic's custom formats."""
    if isinstance(node, list):
        return [_clean(item) for item in node]
    if not isinstance(node, dict):
        return node

    cleaned: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "format" and value in _DROPPED_FORMATS):
            continue
        if key == "$ref":
            cleaned[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "properties":
            cleaned[key] = {name: _clean(field) for name, field in value.items() if not _is_secret(field)}
        else:
            cleaned[key] = _clean(value)

    if "required" in cleaned and "properties" in cleaned:
        cleaned["required"] = [name for name in cleaned["required"] if name in cleaned["properties"]]
        if not cleaned["required"]:
            del cleaned["required"]
    return cleaned


def _drop_chart_owned(model: str, schema: dict[str, Any]) -> dict[str, Any]:
    owned = CHART_OWNED.get(model, set())
    schema["properties"] = {name: field for name, field in schema["properties"].items() if name not in owned}
    return schema


def config_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """Return the schema of `config` and the definitions it refers to."""
    sys.path.insert(0, str(REPO_DIR))
    from bot.config import Settings

    raw = Settings.model_json_schema()
    definitions = {name: _drop_chart_owned(name, _clean(schema)) for name, schema in raw.pop("$defs", {}).items()}
    config = _drop_chart_owned("Settings", _clean(raw))
    definitions = {name: definitions[name] for name in sorted(_referenced(config, definitions))}
    config["description"] = (
        "otelbot's settings file (bot/config.py), without tokens, the Redis URL and the settings the chart sets itself."
    )
    return config, definitions


def _referenced(node: Any, definitions: dict[str, Any], found: set[str] | None = None) -> set[str]:
    """Return the names of the definitions that ``node`` refers to, directly or through others."""
    found = set() if found is None else found
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        name = ref.removeprefix("#/definitions/")
        if ref.startswith("#/definitions/") and name not in found:
            found.add(name)
            _referenced(definitions[name], definitions, found)
        for value in node.values():
            _referenced(value, definitions, found)
    elif isinstance(node, list):
        for item in node:
            _referenced(item, definitions, found)
    return found


def render_schema(current: dict[str, Any]) -> dict[str, Any]:
    """Return ``current`` with `config` and `definitions` replaced by the generated ones."""
    config, definitions = config_schema()
    updated = dict(current)
    updated["properties"] = dict(current["properties"])
    updated["properties"]["config"] = config
    updated["definitions"] = definitions
    return updated


def main() -> None:
    current = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    SCHEMA_FILE.write_text(json.dumps(render_schema(current), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
