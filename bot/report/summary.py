"""Pieces every renderer shares: status marks and the one evidence line a check shows."""

from __future__ import annotations

from bot.checks.base import CheckStatus
from bot.diagnosis import Finding

__all__ = ["STATUS_MARKS", "evidence_line", "evidence_lines"]

STATUS_MARKS = {
    CheckStatus.PASS: "✅",
    CheckStatus.FAIL: "❌",
    CheckStatus.ERROR: "⚠️",
    CheckStatus.SKIPPED: "⏭",
}


def evidence_lines(finding: Finding, lang: str) -> list[str]:
    """Return every evidence line of a finding in ``lang``, the reason first when there is one."""
    lines = [finding.reason.get(lang)] if finding.reason is not None else []
    lines.extend(item.text.get(lang) for item in finding.evidence)
    return lines


def evidence_line(finding: Finding, lang: str) -> str:
    """Return the one line that best explains a finding: its reason, else the first failed observation."""
    if finding.reason is not None:
        return finding.reason.get(lang)
    failed = [item for item in finding.evidence if item.ok is False]
    chosen = failed or [item for item in finding.evidence if item.ok is not None] or finding.evidence
    return chosen[0].text.get(lang) if chosen else ""
