"""Choose the playbook for a request: by id, or by matching the symptom text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.app import Catalog
from bot.config import MatchSettings
from bot.diagnosis import Candidate
from bot.errors import ConfigError
from bot.playbooks.schema import Playbook
from bot.redact import redact

__all__ = ["Selection", "clean_request_text", "clean_text", "extract_inputs", "select_playbook"]

# C0 and C1 control characters except tab and newline; they become spaces.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Zero-width and bidirectional formatting characters, which can make text read differently
# from what it contains; they are removed.
_INVISIBLE = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# A workload as people name it in a sentence: a Kubernetes name with a dash, such as user-service.
# ASCII classes on purpose: \w would count a Korean particle glued to the name (user-service에서) as part of it.
_WORKLOAD = re.compile(r"(?<![a-z0-9_./-])([a-z0-9]+(?:-[a-z0-9]+)+)(?![a-z0-9_/-])")
_WINDOW = re.compile(r"(?<![\w])(\d+[smhd])(?![\w])")
# Characters read past the cut by clean_request_text, so a credential that starts before the cut
# is masked whole. A PEM block of a 4096-bit RSA private key is about 3,200 characters.
_CREDENTIAL_MAX_CHARS = 8192


@dataclass(frozen=True)
class Selection:
    """The chosen playbook (None when nothing matches) and the candidates considered."""

    playbook: Playbook | None
    candidates: list[Candidate] = field(default_factory=list)
    ambiguous: bool = False


def clean_text(text: str, *, max_chars: int) -> str:
    """Replace control characters with spaces, drop invisible formatting characters, and cut the text to ``max_chars``."""
    return _INVISIBLE.sub("", _CONTROL.sub(" ", text)).strip()[:max_chars]


def clean_request_text(text: str, *, max_chars: int) -> str:
    """Drop control and invisible characters, mask credentials, and cut the text to ``max_chars``.

    Masking comes before the cut, so a token at the cut is masked whole rather than cut in half.
    Only the first ``max_chars`` plus 8192 characters are read, which bounds the work on a long
    paste. The CLI and the Slack app apply this to every symptom text before matching, showing
    or storing it.
    """
    cleaned = clean_text(text[: max_chars + _CREDENTIAL_MAX_CHARS], max_chars=max_chars + _CREDENTIAL_MAX_CHARS)
    return redact(cleaned)[:max_chars].rstrip()


def select_playbook(catalog: Catalog, text: str, settings: MatchSettings, *, playbook_id: str | None = None) -> Selection:
    """Pick a playbook by id, or the best match for ``text`` above the threshold.

    Raises ConfigError for an unknown playbook id.
    """
    if playbook_id:
        playbook = catalog.playbooks.get(playbook_id)
        if playbook is None:
            raise ConfigError.of("unknown_playbook", id=repr(playbook_id))
        return Selection(playbook, [Candidate(playbook.id, playbook.title, 1.0)])

    ranked = catalog.matcher.rank(clean_text(text, max_chars=settings.max_text_chars))
    candidates = []
    for match in ranked:
        playbook = catalog.playbooks.get(match.playbook_id)
        if playbook is not None and match.score >= settings.threshold:
            candidates.append(Candidate(match.playbook_id, playbook.title, match.score))
    if not candidates:
        return Selection(None, [])
    best = candidates[0]
    close = [item for item in candidates[1:] if best.score - item.score <= settings.ambiguity_margin]
    return Selection(catalog.playbooks.get(best.playbook_id), candidates, ambiguous=bool(close))


def extract_inputs(text: str, playbook: Playbook, known_workloads: set[str] | None = None) -> dict[str, str]:
    """Find values for the playbook's inputs in the request text (e.g. ``user-service``)."""
    wanted = {item.name for item in playbook.inputs}
    values: dict[str, str] = {}
    if "workload" in wanted or "service" in wanted:
        names = [name for name in _WORKLOAD.findall(text.lower()) if not _is_field_term(name)]
        if known_workloads:
            names = [name for name in names if name in known_workloads] or names
        if names:
            for key in ("workload", "service"):
                if key in wanted:
                    values[key] = names[0]
    if "window" in wanted:
        found = _WINDOW.search(text)
        if found:
            values["window"] = found.group(1)
    return values


def _is_field_term(name: str) -> bool:
    """Tell the stack's own words (remote-write, otel-collector) from a workload name."""
    return name in {"remote-write", "service-graph", "span-metrics", "metrics-generator", "data-source", "otel-collector", "label-values"}
