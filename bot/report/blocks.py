"""The Slack report in Block Kit: pure functions from a diagnosis to message blocks.

Every message comes with a plain-text ``text`` fallback (notifications, screen readers, clients
without blocks). Slack rejects a message that breaks a Block Kit limit, so the renderers keep
within them. The limits are 50 blocks a message, 3,000 characters a text object, 150 a header,
75 a button label and 2,000 a button value (Block Kit reference, and the validators of slack_sdk
3.48). What does not fit is cut with a note, and the full text is returned as ``overflow``
messages for the report's thread.

This module imports nothing from Slack's libraries; ``bot/slack/`` sends what it returns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable

from bot.checks.base import CheckStatus
from bot.diagnosis import Diagnosis, Finding, Verdict
from bot.i18n import LANGS, LocalizedText, tr
from bot.playbooks.schema import Playbook
from bot.report.summary import STATUS_MARKS, evidence_line, evidence_lines

__all__ = [
    "ACTION_RECHECK",
    "ACTION_RUN_PLAYBOOK",
    "ACTION_SHOW_EVIDENCE",
    "Alternative",
    "RUN_ACTION_PATTERN",
    "Changes",
    "MAX_BLOCKS",
    "Message",
    "Recheck",
    "RenderedReport",
    "ReportContext",
    "button",
    "compare_statuses",
    "context_block",
    "escape",
    "evidence_dictionary",
    "evidence_document",
    "fit_text",
    "header_block",
    "render_evidence",
    "render_progress",
    "render_report",
    "run_action_id",
    "run_action_index",
    "section",
    "text_messages",
]

ACTION_RECHECK = "otelbot_recheck"
ACTION_SHOW_EVIDENCE = "otelbot_show_evidence"
ACTION_RUN_PLAYBOOK = "otelbot_run_playbook"
# The Run buttons of a message all carry the run id of that message's record, and the action id
# ``otelbot_run_playbook:N`` picks the record's Nth choice. Slack rejects a block whose buttons
# share an action id, and a button value carries only a run id, so the choice goes in the action id.
RUN_ACTION_PATTERN = re.compile(rf"^{ACTION_RUN_PLAYBOOK}(?::(\d{{1,2}}))?$")

MAX_BLOCKS = 50
TEXT_MAX = 3000
HEADER_MAX = 150
BUTTON_LABEL_MAX = 75
BUTTON_VALUE_MAX = 2000
CONTEXT_ELEMENTS_MAX = 10
ACTIONS_ELEMENTS_MAX = 25
# NOTE: Python counts code points. Slack may count an emoji as two characters, so texts are cut
# 100 characters early to keep a text near the limit from being rejected.
TEXT_BUDGET = TEXT_MAX - 100
# One evidence line in the report; a longer one is cut and shown whole in the thread.
EVIDENCE_LINE_MAX = 300
# The plain-text fallback of a message; Slack truncates ``text`` far later (40,000).
FALLBACK_MAX = 3000
# Messages one report or one Show evidence may post in a thread (each up to 50 sections).
MAX_THREAD_MESSAGES = 5

VERDICT_MARKS = {Verdict.PROBLEM: "❌", Verdict.HEALTHY: "✅", Verdict.INCONCLUSIVE: "⚠️"}
PENDING_MARK = "⏳"
BAD_STATUSES = frozenset({CheckStatus.FAIL.value, CheckStatus.ERROR.value})

_PARTIAL_ENTITY = re.compile(r"&[a-z]*$")


@dataclass(frozen=True)
class Message:
    """One Slack message: the plain-text fallback and the blocks."""

    text: str
    blocks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class RenderedReport:
    """The report message, and the messages for its thread holding what the report had to cut."""

    message: Message
    overflow: list[Message] = field(default_factory=list)


@dataclass(frozen=True)
class Changes:
    """Check ids by how their status moved since the previous run; failing means fail or error."""

    fixed: tuple[str, ...] = ()
    still_failing: tuple[str, ...] = ()
    newly_failing: tuple[str, ...] = ()


@dataclass(frozen=True)
class Recheck:
    """A Recheck press: the user, the time, and the changes since the previous run."""

    user: str
    at: datetime
    changes: Changes


def run_action_id(index: int) -> str:
    """Return the action id of the Run button for the ``index``-th playbook a message offers."""
    return f"{ACTION_RUN_PLAYBOOK}:{index}"


def run_action_index(action_id: str) -> int | None:
    """Return N of ``otelbot_run_playbook:N``, or None for the bare id and for any other action id."""
    match = RUN_ACTION_PATTERN.match(action_id)
    if match is None or match.group(1) is None:
        return None
    return int(match.group(1))


@dataclass(frozen=True)
class Alternative:
    """Another playbook the request matched, offered with a Run button that carries the report's run id.

    ``choice`` is its position in the run record's choices, which the button's action id names.
    """

    playbook_id: str
    title: LocalizedText
    choice: int


@dataclass(frozen=True)
class ReportContext:
    """Report content besides the diagnosis: the requester, the request and the button values."""

    requester: str
    request: str
    run_id: str
    alternatives: tuple[Alternative, ...] = ()
    recheck: Recheck | None = None
    degraded: bool = False
    """True when the state store serves from memory, so the footer warns that a Recheck may not survive a restart."""


def escape(text: str) -> str:
    """Escape ``&``, ``<`` and ``>`` so Slack shows the text as written (mrkdwn control characters)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def fit_text(text: str, limit: int, *, note: str = "") -> tuple[str, bool]:
    """Cut already-escaped text to ``limit`` characters, ending with ``…`` and ``note``.

    Returns the text and whether it was cut. An entity such as ``&amp;`` is never split.
    """
    if len(text) <= limit:
        return text, False
    suffix = "…" + (f" {note}" if note else "")
    cut = _PARTIAL_ENTITY.sub("", text[: max(limit - len(suffix), 0)])
    return cut + suffix, True


def _plain(text: str, limit: int) -> dict[str, Any]:
    fitted = text if len(text) <= limit else text[: limit - 1] + "…"
    return {"type": "plain_text", "text": fitted, "emoji": True}


def header_block(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(text, HEADER_MAX)}


def section(markdown: str) -> dict[str, Any]:
    """Return a mrkdwn section; ``markdown`` must be escaped already and is cut to the limit."""
    fitted, _ = fit_text(markdown, TEXT_MAX)
    return {"type": "section", "text": {"type": "mrkdwn", "text": fitted}}


def context_block(*markdown: str) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": fit_text(item, TEXT_MAX)[0]} for item in markdown[:CONTEXT_ELEMENTS_MAX]]
    return {"type": "context", "elements": elements}


def button(label: str, action_id: str, value: str, *, style: str | None = None) -> dict[str, Any]:
    """Return a button; ``value`` is an opaque run id and must fit Slack's 2,000 characters."""
    if len(value) > BUTTON_VALUE_MAX:
        raise ValueError(f"button value of {len(value)} characters exceeds Slack's {BUTTON_VALUE_MAX}")
    element: dict[str, Any] = {"type": "button", "text": _plain(label, BUTTON_LABEL_MAX), "action_id": action_id, "value": value}
    if style:
        element["style"] = style
    return element


def compare_statuses(previous: dict[str, str], current: dict[str, str]) -> Changes:
    """Sort the checks of ``current`` by how their status moved from ``previous``."""
    fixed, still, new = [], [], []
    for check_id, status in current.items():
        was_bad = previous.get(check_id) in BAD_STATUSES
        is_bad = status in BAD_STATUSES
        if was_bad and status == CheckStatus.PASS.value:
            fixed.append(check_id)
        elif was_bad and is_bad:
            still.append(check_id)
        elif is_bad:
            new.append(check_id)
    return Changes(tuple(fixed), tuple(still), tuple(new))


def render_report(diagnosis: Diagnosis, lang: str, context: ReportContext) -> RenderedReport:
    """Render the finished report: verdict, checks, causes with patches, and the buttons."""
    overflow: list[str] = []
    verdict = tr(lang, f"report.verdict.{diagnosis.verdict.value}")
    title = diagnosis.playbook_title.get(lang)

    blocks: list[dict[str, Any]] = [header_block(f"{VERDICT_MARKS[diagnosis.verdict]} {verdict}: {title}")]
    blocks.append(_request_context(diagnosis, lang, context))
    if context.recheck is not None:
        blocks.append(section(_recheck_text(diagnosis, lang, context.recheck)))
    if diagnosis.sample:
        blocks.append(context_block(escape(tr(lang, "report.sample"))))
    blocks.append({"type": "divider"})

    blocks.extend(_check_sections(diagnosis.findings, lang, overflow))
    blocks.extend(_cause_blocks(diagnosis, lang, overflow))

    footer_texts = [escape(tr(lang, "report.duration", count=len(diagnosis.findings), ms=diagnosis.duration_ms, run_id=diagnosis.run_id))]
    if context.degraded:
        footer_texts.append(escape(tr(lang, "report.degraded")))
    footer = context_block(*footer_texts)
    actions = _report_actions(lang, context)
    blocks = _fit_blocks(blocks, [footer, actions], lang)

    text = _report_fallback(diagnosis, lang, verdict, title)
    return RenderedReport(Message(text, blocks), _overflow_messages(overflow, lang, diagnosis.run_id))


def render_progress(
    *,
    title: LocalizedText,
    checks: list[tuple[str, LocalizedText]],
    done: dict[str, Finding],
    lang: str,
    requester: str,
    request: str,
    recheck_by: str | None = None,
) -> Message:
    """Render the message shown while checks run: a mark for each finished check, ⏳ for the rest."""
    key = "slack.progress.rechecking" if recheck_by else "slack.progress.running"
    heading = tr(lang, key, count=len(checks), title=title.get(lang))
    lines = []
    for check_id, check_title in checks:
        finding = done.get(check_id)
        mark = STATUS_MARKS[finding.status] if finding else PENDING_MARK
        lines.append(f"{mark} {escape(check_title.get(lang))}")

    blocks: list[dict[str, Any]] = [header_block(heading), context_block(_requested(lang, requester, request))]
    blocks.extend(section(chunk) for chunk in _pack(lines, TEXT_BUDGET)[: MAX_BLOCKS - 3])
    blocks.append(context_block(escape(tr(lang, "slack.progress.done", done=len(done), count=len(checks)))))
    fallback = f"{heading} ({tr(lang, 'slack.progress.done', done=len(done), count=len(checks))})"
    return Message(fallback[:FALLBACK_MAX], blocks)


def evidence_document(diagnosis: Diagnosis) -> dict[str, Any]:
    """Return the evidence of a diagnosis as JSON-ready data in both languages, for Show evidence."""
    return {
        "run_id": diagnosis.run_id,
        "playbook_id": diagnosis.playbook_id,
        "title": {lang: diagnosis.playbook_title.get(lang) for lang in LANGS},
        "checks": [
            {
                "id": finding.check_id,
                "status": finding.status.value,
                "duration_ms": finding.duration_ms,
                "title": {lang: finding.title.get(lang) for lang in LANGS},
                "evidence": {lang: evidence_lines(finding, lang) for lang in LANGS},
            }
            for finding in diagnosis.findings
        ],
        "verify": [command for cause in diagnosis.causes for command in cause.verify],
        "commands": list(diagnosis.commands),
    }


def evidence_dictionary(playbooks: Iterable[Playbook]) -> bytes:
    """Return the text that evidence documents of ``playbooks`` repeat, as a zlib preset dictionary.

    It contains the titles and commands of each playbook and the titles of its checks, written as
    ``evidence_document`` writes them, so a stored document can refer to them instead of repeating them.
    """
    parts = []
    for playbook in playbooks:
        parts.append(_compact({"playbook_id": playbook.id, "title": playbook.title.model_dump()}))
        parts.extend(_compact({"id": check.id, "status": "pass", "title": check.title.model_dump()}) for check in playbook.checks)
        parts.append(_compact({"commands": list(playbook.commands)}))
    return "".join(parts).encode("utf-8")


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def render_evidence(document: dict[str, Any], lang: str, *, user: str) -> list[Message]:
    """Render the full evidence of every check and the commands to verify by hand, for the thread."""
    heading = tr(lang, "slack.evidence.header", title=escape(document["title"][lang]), run_id=document["run_id"], user=f"<@{user}>")
    lines = [f"*{heading}*"]
    for check in document["checks"]:
        status = CheckStatus(check["status"])
        state = tr(lang, f"report.status.{status.value}")
        lines.append(f"{STATUS_MARKS[status]} *{escape(check['title'][lang])}* [{state}, {check['duration_ms']} ms]")
        evidence = check["evidence"][lang] or [tr(lang, "slack.evidence.none")]
        lines.extend(f"    • {escape(line)}" for line in evidence)

    commands = list(dict.fromkeys([*document["verify"], *document["commands"]]))
    if commands:
        lines.append(f"*{escape(tr(lang, 'report.commands'))}*")
        shell = [f"$ {escape(command)}" for command in commands]
        lines.extend(f"```{chunk}```" for chunk in _pack(shell, TEXT_BUDGET - 8))
    return text_messages(lines, fallback=heading, lang=lang)


def text_messages(lines: list[str], *, fallback: str, lang: str) -> list[Message]:
    """Pack mrkdwn lines into as few messages as Block Kit limits allow, at most ``MAX_THREAD_MESSAGES``.

    Text beyond that is dropped with a note in ``lang``, so one huge log line cannot flood a thread.
    """
    sections = [section(chunk) for chunk in _pack(lines, TEXT_BUDGET)]
    room = MAX_THREAD_MESSAGES * MAX_BLOCKS
    if len(sections) > room:
        sections = sections[: room - 1] + [section(escape(tr(lang, "slack.report.cut_thread")))]
    return [
        Message(fallback[:FALLBACK_MAX], sections[start : start + MAX_BLOCKS])
        for start in range(0, len(sections), MAX_BLOCKS)
    ]


def _requested(lang: str, requester: str, request: str) -> str:
    shown, _ = fit_text(escape(request), 500)
    return tr(lang, "slack.report.requested", user=f"<@{requester}>", request=shown)


def _request_context(diagnosis: Diagnosis, lang: str, context: ReportContext) -> dict[str, Any]:
    where = f"{tr(lang, 'report.playbook')}: `{diagnosis.playbook_id}` · {tr(lang, 'report.namespace')}: `{escape(diagnosis.namespace)}`"
    return context_block(_requested(lang, context.requester, context.request), where)


def _recheck_text(diagnosis: Diagnosis, lang: str, recheck: Recheck) -> str:
    epoch = int(recheck.at.timestamp())
    fallback = recheck.at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    when = f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{fallback}>"
    lines = [tr(lang, "slack.report.rechecked", user=f"<@{recheck.user}>", when=when)]

    groups = [("fixed", recheck.changes.fixed), ("still_failing", recheck.changes.still_failing), ("newly_failing", recheck.changes.newly_failing)]
    for name, check_ids in groups:
        if check_ids:
            titles = ", ".join(_check_title(diagnosis, check_id, lang) for check_id in check_ids)
            lines.append(f"*{tr(lang, f'slack.report.changes.{name}')}:* {titles}")
    if not any(check_ids for _, check_ids in groups):
        lines.append(tr(lang, "slack.report.changes.none"))
    return "\n".join(lines)


def _check_title(diagnosis: Diagnosis, check_id: str, lang: str) -> str:
    finding = diagnosis.finding(check_id)
    return escape(finding.title.get(lang)) if finding else f"`{check_id}`"


def _check_sections(findings: list[Finding], lang: str, overflow: list[str]) -> list[dict[str, Any]]:
    lines = [f"*{escape(tr(lang, 'report.checks'))}*"]
    note = tr(lang, "slack.report.cut_evidence")
    for finding in findings:
        line = f"{STATUS_MARKS[finding.status]} *{escape(finding.title.get(lang))}*"
        detail = evidence_line(finding, lang)
        if detail:
            shown, cut = fit_text(escape(detail), EVIDENCE_LINE_MAX, note=note)
            line += f"\n      {shown}"
            if cut:
                overflow.append(f"*{escape(finding.title.get(lang))}*")
                overflow.extend(f"• {escape(item)}" for item in evidence_lines(finding, lang))
        lines.append(line)
    return [section(chunk) for chunk in _pack(lines, TEXT_BUDGET)]


def _cause_blocks(diagnosis: Diagnosis, lang: str, overflow: list[str]) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if diagnosis.verdict is Verdict.PROBLEM and not diagnosis.causes:
        blocks.append(section(escape(tr(lang, "report.no_cause"))))
    for cause in diagnosis.causes:
        blocks.append({"type": "divider"})
        explanation = escape(cause.explanation.get(lang).strip())
        heading = f"*{escape(tr(lang, 'report.cause'))}: {escape(cause.title.get(lang))}* (`{cause.cause_id}`)"
        blocks.append(section(f"{heading}\n{explanation}"))

        patch_heading = f"*{escape(tr(lang, 'report.patch'))}* · {escape(tr(lang, 'report.patch_file', path=cause.patch_path))}"
        if cause.patch_note is not None:
            patch_heading += f"\n{escape(cause.patch_note.get(lang).strip())}"
        code = escape(cause.patch_content.rstrip()).replace("```", "`\u200b``")
        room = TEXT_BUDGET - len(patch_heading) - 8
        shown, cut = fit_text(code, room)
        text = f"{patch_heading}\n```{shown}```"
        if cut:
            text += "\n" + escape(tr(lang, "slack.report.cut_patch"))
            overflow.append(f"*{escape(tr(lang, 'report.patch'))}* · `{escape(cause.patch_path)}`")
            overflow.extend(f"```{chunk}```" for chunk in _pack(code.splitlines(), TEXT_BUDGET - 8))
        blocks.append(section(text))
    return blocks


def _report_actions(lang: str, context: ReportContext) -> dict[str, Any]:
    elements = [
        button(tr(lang, "slack.button.recheck"), ACTION_RECHECK, context.run_id, style="primary"),
        button(tr(lang, "slack.button.show_evidence"), ACTION_SHOW_EVIDENCE, context.run_id),
    ]
    for alternative in context.alternatives[: ACTIONS_ELEMENTS_MAX - len(elements)]:
        label = tr(lang, "slack.button.run", title=alternative.title.get(lang))
        elements.append(button(label, run_action_id(alternative.choice), context.run_id))
    return {"type": "actions", "elements": elements}


def _fit_blocks(blocks: list[dict[str, Any]], tail: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """Keep the blocks within Slack's 50, ending with ``tail``; a note replaces what is dropped."""
    if len(blocks) + len(tail) <= MAX_BLOCKS:
        return blocks + tail
    room = MAX_BLOCKS - len(tail) - 1
    return blocks[:room] + [context_block(escape(tr(lang, "slack.report.cut_blocks")))] + tail


def _report_fallback(diagnosis: Diagnosis, lang: str, verdict: str, title: str) -> str:
    text = f"{VERDICT_MARKS[diagnosis.verdict]} {verdict}: {title}"
    if diagnosis.causes:
        causes = ", ".join(cause.title.get(lang) for cause in diagnosis.causes)
        text += f" · {tr(lang, 'report.cause')}: {causes}"
    return text[:FALLBACK_MAX]


def _overflow_messages(lines: list[str], lang: str, run_id: str) -> list[Message]:
    if not lines:
        return []
    heading = tr(lang, "slack.report.overflow", run_id=run_id)
    return text_messages([f"*{escape(heading)}*", *lines], fallback=heading, lang=lang)


def _pack(lines: list[str], budget: int) -> list[str]:
    """Join lines into chunks of at most ``budget`` characters; a longer line is split, not cut."""
    chunks: list[str] = []
    current = ""
    for line in lines:
        for piece in _split(line, budget):
            if current and len(current) + 1 + len(piece) > budget:
                chunks.append(current)
                current = piece
            else:
                current = f"{current}\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _split(line: str, budget: int) -> list[str]:
    """Split an escaped line into pieces of at most ``budget`` characters, never inside an entity."""
    pieces = []
    while len(line) > budget:
        cut = budget
        partial = _PARTIAL_ENTITY.search(line[:cut])
        if partial is not None and partial.start() > 0:
            cut = partial.start()
        pieces.append(line[:cut])
        line = line[cut:]
    pieces.append(line)
    return pieces
