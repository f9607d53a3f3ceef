"""Mask credentials in text before it reaches Slack, the CLI, logs or stored history.

Evidence quotes ConfigMaps, env vars, logs and HTTP bodies, any of which may hold a credential.
Each match is replaced by a marker that keeps a recognisable prefix where the format has one
(``AKIA``, ``xoxb-``) and a short SHA-256 fingerprint, so two reports can be compared without
showing the value: ``password: [redacted sha256:9f86d0]``.
"""

from __future__ import annotations

import hashlib
import logging
import re

__all__ = ["RedactingFilter", "fingerprint", "redact"]

_SECRET_KEY = r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credential|authorization|auth[_-]?header)[\w.-]*"


def fingerprint(value: str) -> str:
    """Return a short, stable fingerprint of ``value``."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:6]


def _marker(value: str, keep: str = "") -> str:
    return f"{keep}[redacted sha256:{fingerprint(value)}]"


def _keep_prefix(match: re.Match[str], length: int) -> str:
    value = match.group(0)
    return _marker(value, value[:length] + "…")


def _after_key(match: re.Match[str]) -> str:
    value = match.group("value")
    already_masked = "[redacted" in value or value.lower() in ("bearer", "basic", "token")
    if not value or already_masked:
        return match.group(0)
    return match.group("head") + _marker(value)


def _url_userinfo(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{match.group('user')}:{_marker(match.group('password'))}@"


def _header(match: re.Match[str]) -> str:
    return match.group("head") + _marker(match.group("value"))


# Order matters: whole-block and prefixed formats first, then key/value pairs.
_RULES: list[tuple[re.Pattern[str], object]] = [
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL), lambda m: _marker(m.group(0), "-----BEGIN PRIVATE KEY----- ")),
    (re.compile(r"\b(?:xox[abposr]|xapp)-[A-Za-z0-9-]{8,}"), lambda m: _keep_prefix(m, 5)),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), lambda m: _keep_prefix(m, 4)),
    (re.compile(r"\b(?:ghp|gho|ghs|ghu|glpat|sk|glsa)[-_][A-Za-z0-9_-]{16,}"), lambda m: _keep_prefix(m, 4)),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), lambda m: _keep_prefix(m, 3)),
    (re.compile(r"(?P<head>(?i:\b(?:bearer|basic|token))\s+)(?P<value>[A-Za-z0-9._~+/=-]{8,})"), _header),
    (re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<password>[^/\s@]+)@", re.IGNORECASE), _url_userinfo),
    (
        # quoted values may contain spaces: password: "p@ss w0rd"
        re.compile(r"(?P<head>(?i:" + _SECRET_KEY + r")[\"']?\s*(?:[:=]|=>)\s*(?P<quote>[\"']))(?P<value>[^\"'\n]{1,}?)(?P=quote)"),
        lambda m: _after_key(m) + m.group("quote") if "[redacted" not in m.group("value") else m.group(0),
    ),
    (
        re.compile(
            r"(?P<head>(?i:" + _SECRET_KEY + r")[\"']?\s*(?:[:=]|=>)\s*[\"']?)(?P<value>[^\s\"',;}\]]{3,})",
        ),
        _after_key,
    ),
    (
        # env vars as Kubernetes shows them: {"name": "DB_PASSWORD", "value": "..."}
        re.compile(r"(?P<head>\"name\"\s*:\s*\"(?i:" + _SECRET_KEY + r")\"\s*,\s*\"value\"\s*:\s*\")(?P<value>[^\"]+)"),
        _after_key,
    ),
    (
        re.compile(r"(?P<head>(?i:aws_secret_access_key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?)(?P<value>[A-Za-z0-9/+=]{40})"),
        _after_key,
    ),
]


def redact(text: str) -> str:
    """Return ``text`` with every credential the rules recognise replaced by a marker."""
    if not text:
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)  # type: ignore[arg-type]
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and drops the args it used)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
