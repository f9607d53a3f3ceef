"""The grammar of ``/otel`` and of mentions: parse the text into a request.

    why <symptom>            diagnose a symptom (also a bare ``<symptom>``)
    check <playbook-id>      run one playbook
    list                     list the playbooks
    query <name> [service]   run a named query
    help                     show usage

Slack escapes ``&``, ``<`` and ``>`` in message and command text and writes user mentions as
``<@U123>``; both are undone here, so the matcher gets the text the person typed.
The access middleware has already cleaned the text (``bot.selection.clean_request_text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Request", "Subcommand", "parse_request", "strip_mentions", "unescape"]

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")


class Subcommand(StrEnum):
    """The action a request names."""

    WHY = "why"
    CHECK = "check"
    LIST = "list"
    QUERY = "query"
    HELP = "help"


@dataclass(frozen=True)
class Request:
    """A parsed ``/otel`` or mention text.

    ``implicit`` marks a bare ``<text>`` read as ``why <text>``: when no playbook matches it,
    the reply is the help, because the first word may have been a mistyped subcommand.
    ``problem`` names what was missing (``symptom``, ``playbook``, ``query``) when the
    subcommand was given without its argument; the reply is then the help.
    """

    subcommand: Subcommand
    text: str = ""
    playbook_id: str = ""
    query_name: str = ""
    service: str = ""
    implicit: bool = False
    problem: str = ""


def unescape(text: str) -> str:
    """Undo Slack's escaping of ``&``, ``<`` and ``>``, and turn ``<url|label>`` links into the URL."""
    text = _LINK.sub(lambda found: found.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def strip_mentions(text: str) -> str:
    """Remove user mentions such as ``<@U0BOT>`` and collapse the spaces they leave."""
    return " ".join(_MENTION.sub(" ", text).split())


def parse_request(text: str) -> Request:
    """Parse the text after ``/otel`` (or after the mention) into a request.

    An empty text is a help request. A first word that is no subcommand starts a symptom.
    """
    words = unescape(strip_mentions(text)).split()
    if not words:
        return Request(Subcommand.HELP)

    verb, rest = words[0].lower(), words[1:]
    if verb in ("help", "-h", "--help", "도움말"):
        return Request(Subcommand.HELP)
    if verb == "list":
        return Request(Subcommand.LIST)
    if verb == "why":
        if not rest:
            return Request(Subcommand.HELP, problem="symptom")
        return Request(Subcommand.WHY, text=" ".join(rest))
    if verb == "check":
        if not rest:
            return Request(Subcommand.HELP, problem="playbook")
        return Request(Subcommand.CHECK, playbook_id=rest[0].lower(), text=" ".join(rest[1:]))
    if verb == "query":
        if not rest:
            return Request(Subcommand.HELP, problem="query")
        return Request(Subcommand.QUERY, query_name=rest[0], service=rest[1] if len(rest) > 1 else "")
    return Request(Subcommand.WHY, text=" ".join(words), implicit=True)
