"""The playbook format: one YAML file per playbook, validated into these immutable models.

Unknown keys are rejected everywhere, every user-facing text exists in Korean and English, and
cross references (check ``needs``, cause conditions) must name checks of the same playbook.
``otelbot playbooks schema`` prints the JSON Schema of ``Playbook`` for editors.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.checks import Check
from bot.checks.base import ID_PATTERN, CheckStatus
from bot.i18n import LocalizedText

__all__ = ["Cause", "Condition", "Input", "Patch", "Playbook", "Symptoms"]

K8S_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Symptoms(_Model):
    """Phrases people use for the problem, in both languages."""

    ko: list[str] = Field(min_length=1, description="Korean phrases.")
    en: list[str] = Field(min_length=1, description="English phrases.")


class Input(_Model):
    """A value the playbook needs from the request, such as the workload to look at."""

    name: Literal["workload", "service", "window", "datasource"] = Field(description="Placeholder name used as {name}.")
    description: LocalizedText
    default: str | None = Field(default=None, description="Value used when the request gives none.")
    pattern: str = Field(
        default=K8S_NAME,
        description="Regular expression a value must match in full; workload and service keep the Kubernetes name pattern.",
    )

    @model_validator(mode="after")
    def _kubernetes_name(self) -> "Input":
        # A workload or service from a request goes into API paths and PromQL label matchers, so
        # no playbook may loosen the Kubernetes name rule for them.
        if self.name in ("workload", "service") and self.pattern != K8S_NAME:
            raise ValueError(f"input {self.name} must be a Kubernetes name; remove its pattern")
        return self


class Patch(_Model):
    """The suggested change: which file, in which format, with what content."""

    path: str = Field(description="File the change belongs in; {placeholders} are filled.")
    format: Literal["yaml", "json", "go", "promql", "shell", "text"]
    content: str = Field(min_length=1)
    note: LocalizedText | None = Field(default=None, description="How to apply the change, if it needs saying.")


StatusSet = CheckStatus | list[CheckStatus]


class Condition(_Model):
    """Check results that imply a cause: every ``all`` entry holds, and at least one ``any`` entry."""

    all: dict[str, StatusSet] = Field(default_factory=dict, description="check id -> status (or statuses).")
    any: dict[str, StatusSet] = Field(default_factory=dict, description="check id -> status (or statuses).")

    @model_validator(mode="after")
    def _not_empty(self) -> "Condition":
        if not self.all and not self.any:
            raise ValueError("a condition needs at least one entry under all or any")
        return self

    def check_ids(self) -> set[str]:
        return set(self.all) | set(self.any)

    def holds(self, statuses: dict[str, CheckStatus]) -> bool:
        def matches(check_id: str, expected: StatusSet) -> bool:
            allowed = expected if isinstance(expected, list) else [expected]
            return statuses.get(check_id) in allowed

        every = all(matches(check_id, expected) for check_id, expected in self.all.items())
        some = not self.any or any(matches(check_id, expected) for check_id, expected in self.any.items())
        return every and some


class Cause(_Model):
    """A diagnosed cause: when it holds, what it means and how to fix it."""

    id: str = Field(pattern=ID_PATTERN)
    title: LocalizedText
    explanation: LocalizedText
    when: Condition
    patch: Patch
    verify: list[str] = Field(default_factory=list, description="Commands a person can run to confirm by hand.")


class Playbook(_Model):
    """A troubleshooting playbook: symptoms, read-only checks and the causes they imply."""

    id: str = Field(pattern=ID_PATTERN, description="Stable id, kebab-case.")
    title: LocalizedText
    summary: LocalizedText | None = None
    source: str = Field(min_length=1, description="Where the playbook comes from, e.g. a runbook section.")
    symptoms: Symptoms
    signatures: list[str] = Field(default_factory=list, description="Regular expressions for pasted log or error lines.")
    inputs: list[Input] = Field(default_factory=list)
    checks: list[Check] = Field(min_length=1)
    causes: list[Cause] = Field(min_length=1)
    commands: list[str] = Field(default_factory=list, description="Debugging commands a person can run, shown in reports.")

    @field_validator("signatures")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns

    @model_validator(mode="after")
    def _references(self) -> "Playbook":
        check_ids = [check.id for check in self.checks]
        _no_duplicates("check id", check_ids)
        _no_duplicates("cause id", [cause.id for cause in self.causes])
        known = set(check_ids)
        for check in self.checks:
            unknown = set(check.needs) - known
            if unknown:
                raise ValueError(f"check {check.id} needs unknown checks: {', '.join(sorted(unknown))}")
        for cause in self.causes:
            unknown = cause.when.check_ids() - known
            if unknown:
                raise ValueError(f"cause {cause.id} refers to unknown checks: {', '.join(sorted(unknown))}")
        _no_cycles({check.id: list(check.needs) for check in self.checks})
        return self

    def check(self, check_id: str) -> Check:
        return next(check for check in self.checks if check.id == check_id)


def _no_duplicates(what: str, values: list[str]) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise ValueError(f"duplicate {what} {value!r}")
        seen.add(value)


def _no_cycles(graph: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            raise ValueError(f"checks depend on each other in a cycle: {' -> '.join(trail + [node])}")
        state[node] = 1
        for child in graph.get(node, []):
            visit(child, trail + [node])
        state[node] = 2

    for node in graph:
        visit(node, [])
