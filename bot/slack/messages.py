"""Replies other than the report: help, the playbook list, suggestions and notices.

Pure functions from values to ``Message``; the text of each comes from the i18n catalogs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from bot.i18n import LocalizedText, tr
from bot.playbooks.schema import Playbook
from bot.report.blocks import (
    ACTION_RECHECK,
    ACTIONS_ELEMENTS_MAX,
    Message,
    button,
    context_block,
    escape,
    fit_text,
    run_action_id,
    section,
    text_messages,
)

__all__ = ["Choice", "did_you_mean", "failed", "help_message", "list_messages", "notice", "suggestion"]

# Blocked checks listed in the help; the rest are counted. ``otelbot rbac --check`` lists them all.
BLOCKED_CHECKS_SHOWN = 20


@dataclass(frozen=True)
class Choice:
    """A playbook offered with a Run button; ``run_id`` names the stored record of the message that offers it."""

    playbook_id: str
    title: LocalizedText
    score: float
    run_id: str


def notice(lang: str, key: str, **fields: Any) -> Message:
    """Return a one-section message with the catalog text ``key``."""
    text = tr(lang, key, **fields)
    return Message(text, [section(text)])


def help_message(lang: str, *, problem: str = "", unknown: str = "", blocked: Mapping[str, Sequence[object]] | None = None) -> Message:
    """Return the usage, led by what was wrong with the request when something was.

    ``blocked`` maps ``playbook/check`` ids to the permissions they lack; the usage is followed
    by that list when it is not empty.
    """
    parts = []
    if unknown:
        parts.append(tr(lang, "slack.help.unknown", text=fit_text(escape(unknown), 200)[0]))
    if problem:
        parts.append(tr(lang, f"slack.help.missing.{problem}"))
    parts.append(tr(lang, "slack.help.usage"))
    if blocked:
        parts.append(_blocked_checks(lang, blocked))
    text = "\n\n".join(parts)
    return Message(text, [section(text)])


def _blocked_checks(lang: str, blocked: Mapping[str, Sequence[object]]) -> str:
    lines = [tr(lang, "security.blocked.header")]
    for check in sorted(blocked)[:BLOCKED_CHECKS_SHOWN]:
        permissions = ", ".join(f"`{escape(str(permission))}`" for permission in blocked[check])
        lines.append(tr(lang, "security.blocked.line", check=escape(check), permissions=permissions))
    if len(blocked) > BLOCKED_CHECKS_SHOWN:
        lines.append(f"… (+{len(blocked) - BLOCKED_CHECKS_SHOWN})")
    lines.append(tr(lang, "security.blocked.footer"))
    return "\n".join(lines)


def list_messages(lang: str, playbooks: Iterable[Playbook]) -> list[Message]:
    """Return the loaded playbooks, one line each, in as many messages as Block Kit needs."""
    ordered = sorted(playbooks, key=lambda item: item.id)
    heading = tr(lang, "slack.list.header", count=len(ordered))
    lines = [f"*{escape(heading)}*"]
    lines.extend(f"• `{item.id}` {escape(item.title.get(lang))}" for item in ordered)
    lines.append(tr(lang, "slack.list.footer"))
    return text_messages(lines, fallback=heading, lang=lang)


def did_you_mean(lang: str, query: str, choices: list[Choice]) -> Message:
    """Return the question asked for an ambiguous match, with a Run button per candidate."""
    text = tr(lang, "slack.did_you_mean", query=fit_text(escape(query), 300)[0])
    lines = [text]
    lines.extend(f"• *{escape(choice.title.get(lang))}* (`{choice.playbook_id}`, {choice.score:.2f})" for choice in choices)
    buttons = [
        button(tr(lang, "slack.button.run", title=choice.title.get(lang)), run_action_id(index), choice.run_id)
        for index, choice in enumerate(choices[:ACTIONS_ELEMENTS_MAX])
    ]
    return Message(text, [section("\n".join(lines)), {"type": "actions", "elements": buttons}])


def suggestion(lang: str, choice: Choice) -> Message:
    """Return the passive suggestion in an incident thread, with a Run checks button."""
    text = tr(lang, "slack.suggest", title=escape(choice.title.get(lang)), id=choice.playbook_id, score=f"{choice.score:.2f}")
    action = button(tr(lang, "slack.button.run_checks"), run_action_id(0), choice.run_id, style="primary")
    return Message(text, [section(text), {"type": "actions", "elements": [action]}, context_block(tr(lang, "slack.suggest_note"))])



def failed(lang: str, *, error: str, run_id: str) -> Message:
    """Return what a report shows when its run stopped with an error, with Recheck to try again."""
    text = tr(lang, "slack.failed", error=error)
    retry = button(tr(lang, "slack.button.recheck"), ACTION_RECHECK, run_id)
    return Message(text, [section(escape(text)), {"type": "actions", "elements": [retry]}])


def interrupted(lang: str, *, run_id: str) -> Message:
    """Return what a report shows when the bot shut down before its checks finished, with Recheck to run them again."""
    text = tr(lang, "slack.interrupted")
    retry = button(tr(lang, "slack.button.recheck"), ACTION_RECHECK, run_id)
    return Message(text, [section(escape(text)), {"type": "actions", "elements": [retry]}])
