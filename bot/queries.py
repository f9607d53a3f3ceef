"""Named PromQL queries over span metrics and service graph metrics, for ``otelbot query NAME``.

Definitions live in a YAML file (``queries.file`` in settings; ``queries/queries.yaml`` in the
repository). A definition's PromQL has two placeholders, each allowed in one place only:

- ``{service}`` as the quoted value of a label matcher. With ``=~`` the service is optional, and
  without one the matcher becomes ``=~".+"`` (every service). With ``=`` the service is required.
- ``{window}`` as the range of a range vector, ``[{window}]``, or of a subquery, ``[{window}:1m]``.

A service must be a Kubernetes name and is escaped for the matcher it goes into, and a window must
be a PromQL duration no longer than ``queries.max_window``. Queries run as instant queries through
the same backend client as the ``promql`` check.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.checks.base import ID_PATTERN, CheckContext
from bot.checks.promql import query as run_instant_query
from bot.errors import BackendError, ClusterError, ConfigError
from bot.i18n import LocalizedText

__all__ = [
    "Objective",
    "PreparedQuery",
    "QueryDefinition",
    "QueryResult",
    "Series",
    "Unit",
    "load_queries",
    "parse_window",
    "prepare_query",
    "run_query",
]

Unit = Literal["ratio", "seconds", "requests-per-second", "percent"]

K8S_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SERVICE_MATCHER = re.compile(r'(?P<label>[a-zA-Z_][a-zA-Z0-9_]*)\s*(?P<op>=~|=)\s*"\{service\}"')
_WINDOW_RANGE = re.compile(r"\[\{window\}(?=[\]:])")
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_WINDOW = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")
_WINDOW_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_WINDOW_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
# RE2 metacharacters: a service name is matched literally even inside =~.
_REGEX_SPECIAL = re.compile(r"([\\.+*?()|\[\]{}^$])")


def parse_window(value: str) -> float:
    """Parse a PromQL duration such as ``5m`` or ``1h30m`` into seconds; raises ValueError."""
    if not _WINDOW.match(value):
        raise ValueError(f"invalid window {value!r}: use a PromQL duration such as 5m, 1h or 1h30m")
    seconds = sum(int(number) * _WINDOW_SECONDS[unit] for number, unit in _WINDOW_PART.findall(value))
    if seconds <= 0:
        raise ValueError(f"invalid window {value!r}: it must be longer than zero")
    return seconds


class Objective(BaseModel):
    """A target each value is compared with, e.g. ``< 0.5`` seconds for a p99 latency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    op: Literal["<", "<=", ">", ">="]
    value: float = Field(description="Target in the query's unit (ratio 0-1, seconds, requests per second or percent).")

    def met(self, value: float | None) -> bool | None:
        """Return whether ``value`` meets the objective, or None when there is no finite value."""
        if value is None or not math.isfinite(value):
            return None
        if self.op == "<":
            return value < self.value
        if self.op == "<=":
            return value <= self.value
        if self.op == ">":
            return value > self.value
        return value >= self.value


class QueryDefinition(BaseModel):
    """One named query as the YAML file defines it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=ID_PATTERN, description="Name given to `otelbot query`, kebab-case.")
    title: LocalizedText
    unit: Unit = Field(description="Unit of the values: ratio (0-1), seconds, requests-per-second or percent.")
    promql: str = Field(min_length=1, description="PromQL with {service} and {window} placeholders.")
    window: str = Field(default="5m", description="Range used when --window is not given.")
    stat: str | None = Field(default=None, max_length=8, description="Short name shown before each value, e.g. p95.")
    objective: Objective | None = None

    @field_validator("window")
    @classmethod
    def _valid_window(cls, value: str) -> str:
        parse_window(value)
        return value

    @model_validator(mode="after")
    def _placeholders(self) -> "QueryDefinition":
        unknown = sorted(set(_PLACEHOLDER.findall(self.promql)) - {"service", "window"})
        if unknown:
            raise ValueError(f"query {self.name}: unknown placeholder {{{unknown[0]}}}; only {{service}} and {{window}} exist")
        if self.promql.count("{service}") != len(_SERVICE_MATCHER.findall(self.promql)):
            raise ValueError(f'query {self.name}: {{service}} may only be a label matcher value, e.g. service_name=~"{{service}}"')
        if self.promql.count("{window}") != len(_WINDOW_RANGE.findall(self.promql)):
            raise ValueError(f"query {self.name}: {{window}} may only be a range, e.g. [{{window}}]")
        return self

    @property
    def service_required(self) -> bool:
        """Tell whether the query needs --service: true when a matcher compares with = rather than =~."""
        return any(match.group("op") == "=" for match in _SERVICE_MATCHER.finditer(self.promql))


class _QueryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    queries: list[QueryDefinition] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> "_QueryFile":
        names = [item.name for item in self.queries]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate query name {duplicates[0]!r}")
        return self


def load_queries(path: Path) -> dict[str, QueryDefinition]:
    """Load and validate the query file; return the definitions by name, in file order.

    Raises ConfigError naming the file and the invalid entry.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"query file not found: {path}. Set queries.file in the config (OTELBOT_QUERIES__FILE).") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"query file {path} is not valid YAML: {exc}") from exc

    try:
        parsed = _QueryFile.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"query file {path}: {where}: {message}" if where else f"query file {path}: {message}") from exc
    return {item.name: item for item in parsed.queries}


@dataclass(frozen=True)
class PreparedQuery:
    """A definition with its service and window checked and its PromQL filled in."""

    definition: QueryDefinition
    service: str | None
    window: str
    promql: str


def prepare_query(
    definitions: dict[str, QueryDefinition], name: str, *, service: str | None, window: str | None, max_window: str
) -> PreparedQuery:
    """Look up ``name`` and fill its PromQL; raises ConfigError for an unknown name or an invalid value."""
    definition = definitions.get(name)
    if definition is None:
        raise ConfigError.of("unknown_query", name=repr(name))

    if service is not None and not K8S_NAME.fullmatch(service):
        raise ConfigError.of("query_invalid_service", service=repr(service))
    if service is None and definition.service_required:
        raise ConfigError.of("query_needs_service", name=name)

    chosen_window = window or definition.window
    try:
        seconds = parse_window(chosen_window)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    if seconds > parse_window(max_window):
        raise ConfigError.of("query_window_too_long", window=repr(chosen_window), max_window=max_window)

    return PreparedQuery(definition, service, chosen_window, _fill(definition.promql, service=service, window=chosen_window))


def _fill(promql: str, *, service: str | None, window: str) -> str:
    def matcher(match: re.Match[str]) -> str:
        operator = match.group("op")
        if service is None:
            value = ".+"
        elif operator == "=~":
            value = _REGEX_SPECIAL.sub(r"\\\1", service)
        else:
            value = service
        return f'{match.group("label")}{operator}"{_promql_string(value)}"'

    filled = _SERVICE_MATCHER.sub(matcher, promql)
    return _WINDOW_RANGE.sub(f"[{window}", filled).strip()


def _promql_string(value: str) -> str:
    """Escape a value for a double-quoted PromQL string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


@dataclass(frozen=True)
class Series:
    """One series of the result: its labels and its value (NaN and infinities kept as floats)."""

    labels: dict[str, str]
    value: float | None


@dataclass
class QueryResult:
    """Outcome of running a prepared query: its series, or the error that stopped it."""

    query: PreparedQuery
    series: list[Series] = field(default_factory=list)
    error: str | None = None


async def run_query(ctx: CheckContext, prepared: PreparedQuery, *, backend: str, timeout_s: float) -> QueryResult:
    """Run ``prepared`` as an instant query; Prometheus errors and unreachable backends land in ``error``."""
    try:
        document = await run_instant_query(ctx, prepared.promql, backend=backend, timeout_s=timeout_s)
    except (BackendError, ClusterError) as exc:
        return QueryResult(prepared, error=str(exc))
    if isinstance(document, str):
        return QueryResult(prepared, error=document)

    series = [Series(_without_name(labels), value) for labels, value in zip(document["series"], document["values"])]
    return QueryResult(prepared, series=sorted(series, key=_order))


def _without_name(labels: dict[str, Any]) -> dict[str, str]:
    return {str(key): str(value) for key, value in labels.items() if key != "__name__"}


def _order(series: Series) -> tuple[int, float, str]:
    """Sort largest value first, then series without a finite value, each by labels."""
    value = series.value
    finite = value is not None and math.isfinite(value)
    return (0 if finite else 1, -value if finite else 0.0, repr(sorted(series.labels.items())))
