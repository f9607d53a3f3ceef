"""What every check kind shares: the model fields, assertions on documents, outcomes.

A check kind is a pydantic model (its parameters, validated when the playbook loads) and an async
``run`` function that reads from the cluster or a backend through ``CheckContext`` and returns a
``CheckOutcome``. Assertions select a value with a JMESPath expression and compare it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import jmespath
import jmespath.exceptions
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.i18n import LocalizedText, both, tr
from bot.redact import redact, redact_document

if TYPE_CHECKING:
    from bot.backends import BackendClient
    from bot.cluster import ClusterReader
    from bot.config import Settings

__all__ = [
    "Assertion",
    "CheckBase",
    "CheckContext",
    "CheckOutcome",
    "CheckStatus",
    "Evidence",
    "ID_PATTERN",
    "evaluate_assertions",
    "parse_duration",
    "short",
]

ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

_OPERATORS = (
    "equals",
    "not_equals",
    "contains",
    "not_contains",
    "matches",
    "not_matches",
    "one_of",
    "exists",
    "empty",
    "gt",
    "ge",
    "lt",
    "le",
)

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


class CheckStatus(StrEnum):
    """Result of one check."""

    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"
    SKIPPED = "skipped"


def parse_duration(value: str) -> float:
    """Parse a duration such as ``90s``, ``5m`` or ``1h30m`` into seconds.

    Raises ValueError for anything else.
    """
    text = value.strip()
    parts = re.findall(r"\d+(?:\.\d+)?(?:ms|s|m|h|d)", text)
    if not parts or "".join(parts) != text:
        raise ValueError(f"invalid duration {value!r}: use a number and a unit (ms, s, m, h, d), e.g. 5m")
    total = 0.0
    for part in parts:
        number, unit = _DURATION.match(part).groups()  # type: ignore[union-attr]
        total += float(number) * _DURATION_UNITS[unit]
    return total


def short(value: Any, limit: int = 160) -> str:
    """Render a value on one line for evidence, credentials masked, cut to ``limit`` characters.

    Masking comes before the cut, because a credential cut in half no longer matches a rule.
    """
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    text = redact(" ".join(text.split()))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Assertion(BaseModel):
    """One expectation on a value selected from the check's document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="@", description="JMESPath expression that selects the value; @ is the whole document.")
    label: LocalizedText | None = Field(default=None, description="What the expectation means, shown as evidence.")
    equals: Any = None
    not_equals: Any = None
    contains: Any = None
    not_contains: Any = None
    matches: str | None = Field(default=None, description="Regular expression searched in a string, or in any element of a list.")
    not_matches: str | None = None
    one_of: list[Any] | None = None
    exists: bool | None = None
    empty: bool | None = None
    gt: float | str | None = Field(default=None, description="Number, or a duration such as 5m compared in seconds.")
    ge: float | str | None = None
    lt: float | str | None = None
    le: float | str | None = None

    @field_validator("path")
    @classmethod
    def _compile_path(cls, value: str) -> str:
        try:
            jmespath.compile(value)
        except jmespath.exceptions.JMESPathError as exc:
            raise ValueError(f"invalid JMESPath expression {value!r}: {exc}") from exc
        return value

    @field_validator("matches", "not_matches")
    @classmethod
    def _compile_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {value!r}: {exc}") from exc
        return value

    @field_validator("gt", "ge", "lt", "le")
    @classmethod
    def _check_bound(cls, value: float | str | None) -> float | str | None:
        if isinstance(value, str):
            parse_duration(value)
        return value

    @model_validator(mode="after")
    def _one_operator(self) -> "Assertion":
        given = [name for name in _OPERATORS if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(f"an assertion needs exactly one operator of {', '.join(_OPERATORS)}; got {given or 'none'}")
        return self

    @property
    def operator(self) -> str:
        return next(name for name in _OPERATORS if name in self.model_fields_set)

    @property
    def expected(self) -> Any:
        return getattr(self, self.operator)


class CheckBase(BaseModel):
    """Fields every check has, whatever its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=ID_PATTERN, description="Stable id, unique in the playbook, kebab-case.")
    title: LocalizedText = Field(description="What the check looks at, as a person would say it.")
    timeout_s: float | None = Field(default=None, gt=0, le=300, description="Timeout in seconds; the settings default when unset.")
    needs: list[str] = Field(default_factory=list, description="Checks that must pass before this one runs; otherwise it is skipped.")
    expect: list[Assertion] = Field(default_factory=list, description="Assertions on the document the check reads.")

    def template_fields(self) -> dict[str, Any]:
        """Return the parameters whose strings may contain {variables}."""
        return self.model_dump(exclude={"id", "title", "timeout_s", "needs", "expect", "kind"})


@dataclass(frozen=True)
class Evidence:
    """One observation a check made, in both languages, with optional raw detail."""

    text: LocalizedText
    ok: bool | None = None
    detail: str | None = None


@dataclass
class CheckOutcome:
    """What running a check produced."""

    status: CheckStatus
    evidence: list[Evidence] = field(default_factory=list)
    reason: LocalizedText | None = None

    @classmethod
    def from_evidence(cls, evidence: list[Evidence]) -> "CheckOutcome":
        failed = any(item.ok is False for item in evidence)
        return cls(CheckStatus.FAIL if failed else CheckStatus.PASS, evidence)


@dataclass(frozen=True)
class CheckContext:
    """What a check may use: read-only clients, settings and the run's template variables."""

    settings: "Settings"
    cluster: "ClusterReader | None"
    backends: "BackendClient"
    variables: dict[str, str]
    namespace: str


def evaluate_assertions(assertions: list[Assertion], document: Any, *, prefix: str = "") -> list[Evidence]:
    """Evaluate each assertion on ``document`` and return one evidence line per assertion.

    The assertions see the document with its credentials masked (``redact_document``), so a
    value they select and show can be a credential only as a marker.
    """
    if not assertions:
        return []
    masked = redact_document(document)
    return [_evaluate(assertion, masked, prefix) for assertion in assertions]


def _evaluate(assertion: Assertion, document: Any, prefix: str) -> Evidence:
    actual = jmespath.search(assertion.path, document)
    ok = _holds(assertion.operator, actual, assertion.expected)
    shown_path = prefix + assertion.path
    if assertion.label is not None:
        key = "evidence.label_ok" if ok else "evidence.label_failed"
        value = short(actual)
        text = LocalizedText(
            ko=tr("ko", key, label=assertion.label.ko, value=value),
            en=tr("en", key, label=assertion.label.en, value=value),
        )
    else:
        text = both(
            f"evidence.op.{assertion.operator}.{'ok' if ok else 'failed'}",
            path=shown_path,
            expected=short(assertion.expected, 80),
            value=short(actual),
        )
    return Evidence(text=text, ok=ok)


def _holds(operator: str, actual: Any, expected: Any) -> bool:
    if operator == "exists":
        return (actual is not None) == expected
    if operator == "empty":
        is_empty = actual is None or (hasattr(actual, "__len__") and len(actual) == 0)
        return is_empty == expected
    if operator == "not_contains":
        return actual is None or not _contains(actual, expected)
    if operator == "not_matches":
        return actual is None or not _matches(actual, expected)
    if operator == "not_equals":
        return actual != expected
    if actual is None:
        return False
    if operator == "equals":
        return actual == expected
    if operator == "contains":
        return _contains(actual, expected)
    if operator == "matches":
        return _matches(actual, expected)
    if operator == "one_of":
        return actual in expected
    return _compare(operator, actual, expected)


def _contains(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str):
        return str(expected) in actual
    if isinstance(actual, dict):
        return expected in actual
    if isinstance(actual, list):
        return expected in actual
    return False


def _matches(actual: Any, pattern: str) -> bool:
    regex = re.compile(pattern)
    if isinstance(actual, list):
        return any(regex.search(_as_text(item)) for item in actual)
    return regex.search(_as_text(actual)) is not None


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _compare(operator: str, actual: Any, expected: float | str) -> bool:
    try:
        left = _as_number(actual)
        right = _as_number(expected)
    except ValueError:
        return False
    if operator == "gt":
        return left > right
    if operator == "ge":
        return left >= right
    if operator == "lt":
        return left < right
    return left <= right


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return parse_duration(value)
    raise ValueError(f"not a number or duration: {value!r}")
