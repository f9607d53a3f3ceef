"""The plain-text report, read in a terminal the way the Slack reply reads in a thread."""

from __future__ import annotations

from bot.checks.base import CheckStatus
from bot.diagnosis import Diagnosis, Verdict
from bot.i18n import tr
from bot.report.summary import STATUS_MARKS, evidence_line

__all__ = ["render_text"]

_MAX_NEUTRAL_LINES = 3
_VERDICT_MARKS = {Verdict.PROBLEM: "❌", Verdict.HEALTHY: "✅", Verdict.INCONCLUSIVE: "⚠️"}


def render_text(diagnosis: Diagnosis, lang: str) -> str:
    """Render verdict, checks with one evidence line each, causes with patches, then commands."""
    lines: list[str] = []
    if diagnosis.sample:
        lines += [tr(lang, "report.sample"), ""]

    verdict = tr(lang, f"report.verdict.{diagnosis.verdict.value}")
    lines.append(f"{_VERDICT_MARKS[diagnosis.verdict]} {verdict}")
    lines.append(f"   {tr(lang, 'report.playbook')}: {diagnosis.playbook_title.get(lang)} ({diagnosis.playbook_id})")
    lines.append(f"   {tr(lang, 'report.namespace')}: {diagnosis.namespace}")
    lines.append("")

    lines.append(tr(lang, "report.checks"))
    for finding in diagnosis.findings:
        status = tr(lang, f"report.status.{finding.status.value}")
        lines.append(f"  {STATUS_MARKS[finding.status]} {finding.title.get(lang)} [{status}, {finding.duration_ms} ms]")
        detail = evidence_line(finding, lang)
        if detail:
            lines.append(f"      {detail}")
        if finding.status is CheckStatus.FAIL:
            # Neutral observations (which names exist, which version runs) explain a failure.
            neutral = [item.text.get(lang) for item in finding.evidence if item.ok is None]
            lines.extend(f"      · {text}" for text in neutral[:_MAX_NEUTRAL_LINES] if text != detail)
    lines.append("")

    if diagnosis.verdict is Verdict.PROBLEM and not diagnosis.causes:
        lines += [tr(lang, "report.no_cause"), ""]
    for cause in diagnosis.causes:
        lines.append(f"{tr(lang, 'report.cause')}: {cause.title.get(lang)} ({cause.cause_id})")
        lines.extend(f"  {line}" for line in cause.explanation.get(lang).strip().splitlines())
        lines.append("")
        lines.append(f"{tr(lang, 'report.patch')} · {tr(lang, 'report.patch_file', path=cause.patch_path)}")
        if cause.patch_note is not None:
            lines.append(f"  {cause.patch_note.get(lang).strip()}")
        lines.append(f"```{cause.patch_format}")
        lines.extend(cause.patch_content.rstrip().splitlines())
        lines.append("```")
        if cause.verify:
            lines.append(tr(lang, "report.verify"))
            lines.extend(f"  $ {command}" for command in cause.verify)
        lines.append("")

    shown = {command for cause in diagnosis.causes for command in cause.verify}
    commands = [command for command in diagnosis.commands if command not in shown]
    if commands:
        lines.append(tr(lang, "report.commands"))
        lines.extend(f"  $ {command}" for command in commands)
        lines.append("")

    if len(diagnosis.candidates) > 1:
        others = ", ".join(f"{item.playbook_id} ({item.score:.2f})" for item in diagnosis.candidates[1:4])
        lines.append(f"{tr(lang, 'report.candidates')}: {others}")
    lines.append(tr(lang, "report.duration", count=len(diagnosis.findings), ms=diagnosis.duration_ms, run_id=diagnosis.run_id))
    return "\n".join(lines)
