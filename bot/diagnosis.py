"""What a diagnosis produces: findings per check, the causes that hold, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from bot.checks.base import CheckStatus, Evidence
from bot.i18n import LocalizedText

__all__ = ["Candidate", "CauseFinding", "Diagnosis", "Finding", "Verdict"]


class Verdict(StrEnum):
    """Overall result of a diagnosis."""

    PROBLEM = "problem"
    HEALTHY = "healthy"
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class Candidate:
    """A playbook the matcher considered, with its score."""

    playbook_id: str
    title: LocalizedText
    score: float


@dataclass
class Finding:
    """The result of one check."""

    check_id: str
    title: LocalizedText
    status: CheckStatus
    evidence: list[Evidence] = field(default_factory=list)
    reason: LocalizedText | None = None
    duration_ms: int = 0


@dataclass(frozen=True)
class CauseFinding:
    """A cause whose condition holds, with its patch filled in for this cluster."""

    cause_id: str
    title: LocalizedText
    explanation: LocalizedText
    patch_path: str
    patch_format: str
    patch_content: str
    patch_note: LocalizedText | None
    verify: list[str]


@dataclass
class Diagnosis:
    """One run of a playbook against a cluster."""

    run_id: str
    query: str
    playbook_id: str
    playbook_title: LocalizedText
    namespace: str
    inputs: dict[str, str]
    started_at: datetime
    candidates: list[Candidate] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    causes: list[CauseFinding] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    verdict: Verdict = Verdict.INCONCLUSIVE
    duration_ms: int = 0
    sample: bool = False

    def finding(self, check_id: str) -> Finding | None:
        return next((item for item in self.findings if item.check_id == check_id), None)
