"""Bad values fail at install with their message; good ones give settings the bot accepts."""

from __future__ import annotations

import base64
import importlib.util
import json
from pathlib import Path
from typing import Any

import helm_python
import pytest
import yaml

from bot.app import load_catalog
from bot.config import REPO_PLAYBOOKS, load_settings
from tests.chart.conftest import CHART_DIR, HTTP_TOKENS, SOCKET_TOKENS, VALUE_SETS, Rendered


def values_with(**overrides: Any) -> dict[str, Any]:
    return {"slack": dict(SOCKET_TOKENS), **overrides}


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (values_with(replicaCount=3), r"replicaCount=3 needs slack.mode=http and Redis: in Socket Mode only one replica may run"),
        (
            values_with(replicaCount=3, redis={"bundled": {"enabled": True}}),
            r"replicaCount=3 needs slack.mode=http and Redis",
        ),
        (
            {"replicaCount": 3, "slack": {"mode": "http", **HTTP_TOKENS}},
            r"replicaCount=3 needs Redis so that replicas share recheck context and run locks",
        ),
        (
            values_with(redis={"url": "redis://redis:6379/0", "bundled": {"enabled": True}}),
            r"set only one of redis.url, redis.existingSecret and redis.bundled.enabled",
        ),
        (values_with(ingress={"enabled": True}), r"ingress.enabled=true needs slack.mode=http"),
        ({}, r"slack.botToken is required"),
        ({"slack": {"botToken": "xoxb-1"}}, r"slack.appToken is required in Socket Mode"),
        ({"slack": {"mode": "http", "botToken": "xoxb-1"}}, r"slack.signingSecret is required in HTTP mode"),
    ],
    ids=[
        "replicas-in-socket-mode",
        "replicas-in-socket-mode-with-redis",
        "replicas-without-redis",
        "two-redis-sources",
        "ingress-in-socket-mode",
        "no-bot-token",
        "no-app-token",
        "no-signing-secret",
    ],
)
def test_bad_combination_fails(render, values: dict, message: str) -> None:
    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


@pytest.mark.parametrize(
    ("values", "pointer"),
    [
        (values_with(replicaCount="three"), r"at '/replicaCount': got string, want integer"),
        (values_with(slack={**SOCKET_TOKENS, "mode": "websocket"}), r"at '/slack/mode': value must be one of 'socket', 'http'"),
        (values_with(slack={**SOCKET_TOKENS, "port": 80}), r"at '/slack/port'"),
        (values_with(slack={"botToken": "xapp-wrong-kind", "appToken": "xapp-1"}), r"at '/slack/botToken'"),
        (values_with(config={"lang": "fr"}), r"at '/config/lang': value must be one of 'ko', 'en'"),
        (values_with(config={"cluster": {"namespace": 7}}), r"at '/config/cluster/namespace': got number, want string"),
        (values_with(config={"backends": {"loki": {"service": "loki"}}}), r"at '/config/backends/loki': missing property 'port'"),
        (values_with(config={"slack": {"mode": "http"}}), r"at '/config/slack': additional properties 'mode' not allowed"),
        (values_with(config={"slack": {"bot_token": "xoxb-1"}}), r"at '/config/slack': additional properties 'bot_token' not allowed"),
        (values_with(config={"state": {"redis_url": "redis://x"}}), r"at '/config/state': additional properties 'redis_url' not allowed"),
        (values_with(config={"playbooks": {"dirs": ["/x"]}}), r"at '/config': additional properties 'playbooks' not allowed"),
        (values_with(config={"queries": {"file": "/x.yaml"}}), r"at '/config/queries': additional properties 'file' not allowed"),
        (values_with(redis={"url": "http://redis:6379"}), r"at '/redis/url'"),
        (values_with(extraPlaybooks={"notes.txt": "id: x"}), r"'notes.txt' does not match pattern"),
        (values_with(unknownKey=True), r"additional properties 'unknownKey' not allowed"),
    ],
    ids=[
        "replicas-string",
        "slack-mode",
        "privileged-port",
        "bot-token-prefix",
        "lang",
        "namespace-type",
        "backend-without-port",
        "chart-owned-setting",
        "token-in-config",
        "redis-url-in-config",
        "playbook-dirs-in-config",
        "queries-file-in-config",
        "redis-url-scheme",
        "playbook-file-name",
        "unknown-key",
    ],
)
def test_wrong_value_fails_schema(render, values: dict, pointer: str) -> None:
    with pytest.raises(helm_python.HelmValuesError, match=pointer):
        render(values)


def test_schema_config_matches_settings_model() -> None:
    spec = importlib.util.spec_from_file_location("update_schema", CHART_DIR / "update-schema.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads((CHART_DIR / "values.schema.json").read_text(encoding="utf-8"))

    assert module.render_schema(committed) == committed, (
        "values.schema.json is out of date with bot/config.py: run python helm/otelbot/update-schema.py"
    )


def test_default_values_pass_schema(chart) -> None:
    chart.validate_schema(VALUE_SETS["default"])


def start_pod_locally(rendered: Rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Write the pod's mounted files under ``tmp_path``, set its environment and return the playbook directory."""
    config_dir = tmp_path / "config"
    playbook_dir = tmp_path / "playbooks"
    config_dir.mkdir()
    playbook_dir.mkdir()
    for name, text in rendered.one("ConfigMap", "otelbot-config")["data"].items():
        (config_dir / name).write_text(text, encoding="utf-8")
    for name, text in (rendered.one("ConfigMap", "otelbot-playbooks").get("data") or {}).items():
        (playbook_dir / name).write_text(text, encoding="utf-8")

    secrets = {secret["metadata"]["name"]: secret["data"] for secret in rendered.of_kind("Secret")}
    for env in rendered.bot_container()["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        value = base64.b64decode(secrets[ref["name"]][ref["key"]]).decode() if ref else env["value"]
        monkeypatch.setenv(env["name"], value)
    monkeypatch.setenv("OTELBOT_CONFIG", str(config_dir / "settings.yaml"))
    monkeypatch.setenv("OTELBOT_PLAYBOOKS__DIRS", json.dumps([str(REPO_PLAYBOOKS), str(playbook_dir)]))
    return playbook_dir


def test_bot_accepts_rendered_settings(render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    values = values_with(config={"lang": "en", "cluster": {"namespace": "monitoring"}, "slack": {"incident_channels": ["inc-*"]}})
    start_pod_locally(render(values), tmp_path, monkeypatch)

    settings = load_settings()
    assert settings.lang == "en"
    assert settings.cluster.namespace == "monitoring"
    assert settings.slack.mode == "socket"
    assert settings.slack.port == 3000
    assert settings.slack.host == "0.0.0.0"
    assert settings.slack.incident_channels == ["inc-*"]
    assert settings.slack.bot_token.get_secret_value() == SOCKET_TOKENS["botToken"]
    assert settings.slack.app_token.get_secret_value() == SOCKET_TOKENS["appToken"]
    assert settings.log_format == "json"
    assert str(settings.queries.file) == "/app/queries/queries.yaml"


def test_bot_accepts_http_mode_settings(render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start_pod_locally(render(VALUE_SETS["http-3-replicas-external-redis"]), tmp_path, monkeypatch)

    settings = load_settings()
    assert settings.slack.mode == "http"
    assert settings.slack.signing_secret.get_secret_value() == HTTP_TOKENS["signingSecret"]
    assert settings.state.redis_url.get_secret_value() == "redis://:password@redis.example.internal:6379/0"


def test_extra_playbooks_load_beside_built_in(render, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built_in = (REPO_PLAYBOOKS / "spanmetrics-missing.yaml").read_text(encoding="utf-8")
    as_text = built_in.replace("id: spanmetrics-missing", "id: team-spanmetrics", 1)
    as_map = yaml.safe_load(built_in) | {"id": "team-spanmetrics-map"}
    values = values_with(extraPlaybooks={"team.yaml": as_text, "team-map.yaml": as_map, "spanmetrics-missing.yaml": built_in})
    playbook_dir = start_pod_locally(render(values), tmp_path, monkeypatch)

    catalog = load_catalog(load_settings())
    ids = catalog.playbooks.ids()
    assert "team-spanmetrics" in ids
    assert "team-spanmetrics-map" in ids
    assert catalog.playbooks.by_id["spanmetrics-missing"].path == playbook_dir / "spanmetrics-missing.yaml"


def test_null_removes_default_backend(render) -> None:
    rendered = render(values_with(config={"backends": {"grafana": None}}))

    settings = yaml.safe_load(rendered.one("ConfigMap", "otelbot-config")["data"]["settings.yaml"])
    assert sorted(settings["backends"]) == ["otel-collector", "prometheus", "tempo"]
