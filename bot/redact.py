"""Mask credentials in text before it reaches Slack, the CLI, logs or stored history.

Evidence quotes ConfigMaps, env vars, logs and HTTP bodies, any of which may hold a credential.
Each match is replaced by a marker that keeps a recognisable prefix where the format has one
(``AKIA``, ``xoxb-``) and a short SHA-256 fingerprint, so two reports can be compared without
showing the value: ``password: [redacted sha256:9f86d0]``.

The rules recognise token formats: AWS access key ids, Slack, GitHub, GitLab, Grafana and Google
keys, JWTs, Slack webhook URLs and private key blocks. They also mask ``Bearer``, ``Basic`` and
``Token`` credentials, passwords in URLs, and the value after a key whose name marks a credential
(``password``, ``token``, ``secret``, ``api_key``, ``authorization``, ``cookie``, ...), also inside
JSON strings where quotes are escaped. An unquoted value runs over the following words up to the next
``key: value`` or ``key=value``, so ``password: correct horse`` is masked whole. A key that names
a location (``password_file``, ``bearer_token_file``, ``token_url``) keeps its value. A credential in none of these shapes is not recognised.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any, Callable

__all__ = ["RedactingFilter", "fingerprint", "redact", "redact_document"]

_SECRET_KEY = (
    r"[\w.-]*(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key"
    r"|credential|authorization|auth[_-]?header|cookie|signature)[\w.-]*"
)
# A key starts where a run of name characters starts. The matches are the same without it, because
# a key found inside a run is also found from the run's start. Without it, though, the leading
# [\w.-]* is retried at every character of every word. The two key/value rules then took 29 of
# redact's 32 ms on the 20 kB of bot/sandbox/data/stack/manifests.yaml, against about 7 ms with it.
_KEY_START = r"(?<![\w.-])"
# Key names whose value is the location of a credential, not the credential: Prometheus' password_file,
# bearer_token_file and credentials_file, a secret_path, or an OAuth2 token_url.
_LOCATION_KEY_SUFFIXES = ("_file", "-file", "_path", "-path", "_url", "-url", "_uri", "_endpoint")


def fingerprint(value: str) -> str:
    """Return a short, stable fingerprint of ``value``."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:6]


def _marker(value: str, keep: str = "") -> str:
    return f"{keep}[redacted sha256:{fingerprint(value)}]"


def _keep_prefix(length: int) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        value = match.group(0)
        return _marker(value, value[:length] + "…")

    return replace


def _masks_value(match: re.Match[str], *, min_length: int) -> bool:
    """Tell whether the value after a credential key is masked: long enough, not a location, not masked already."""
    value = match.group("value")
    already_masked = "[redacted" in value or value.lower() in ("bearer", "basic", "token")
    names_a_location = match.group("key").lower().endswith(_LOCATION_KEY_SUFFIXES)
    return len(value) >= min_length and not already_masked and not names_a_location


def _after_key(match: re.Match[str]) -> str:
    # An unquoted value shorter than 3 characters stays, so token: 0 reads as written.
    if not _masks_value(match, min_length=3):
        return match.group(0)
    return match.group("head") + _marker(match.group("value"))


def _quoted_after_key(match: re.Match[str]) -> str:
    if not _masks_value(match, min_length=1):
        return match.group(0)
    return match.group("head") + _marker(match.group("value")) + match.group("quote")


def _url_userinfo(match: re.Match[str]) -> str:
    return f"{match.group('scheme')}{match.group('user')}:{_marker(match.group('password'))}@"


def _header(match: re.Match[str]) -> str:
    return match.group("head") + _marker(match.group("value"))


def _slack_webhook(match: re.Match[str]) -> str:
    return _marker(match.group(0), match.group("prefix") + "…")


# Order matters: whole-block and prefixed formats first, then key/value pairs.
_RULES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL),
        lambda m: _marker(m.group(0), "-----BEGIN PRIVATE KEY----- "),
    ),
    (re.compile(r"(?P<prefix>https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+"), _slack_webhook),
    (re.compile(r"\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{8,}"), _keep_prefix(5)),
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"), _keep_prefix(4)),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), _keep_prefix(11)),
    (re.compile(r"\b(?:ghp|gho|ghs|ghu|ghr|glpat|sk|glsa)[-_][A-Za-z0-9_-]{16,}"), _keep_prefix(4)),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), _keep_prefix(4)),
    # Grafana's legacy API keys: base64 of {"k":"...
    (re.compile(r"\beyJrIjoi[A-Za-z0-9+/=]{16,}"), _keep_prefix(3)),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), _keep_prefix(3)),
    (
        # The credential after Bearer, Basic or Token. It must contain a digit or be 20 characters
        # long, so prose such as "basic authentication" stays readable for matching.
        re.compile(
            r"(?P<head>(?i:\b(?:bearer|basic|token))\s+)"
            r"(?P<value>(?=[A-Za-z._~+/=-]*[0-9]|[A-Za-z0-9._~+/=-]{20})[A-Za-z0-9._~+/=-]{8,})"
        ),
        _header,
    ),
    (re.compile(r"(?P<scheme>\b[a-z][a-z0-9+.-]*://)(?P<user>[^/\s:@]*):(?P<password>[^/\s@]+)@", re.IGNORECASE), _url_userinfo),
    (
        # A quoted value may contain spaces (password: "p@ss w0rd"), and inside a JSON string its
        # quotes are escaped (password: \"p@ss w0rd\").
        re.compile(
            r"(?P<head>" + _KEY_START + r"(?P<key>(?i:" + _SECRET_KEY + r"))\\?[\"']?\s*(?:[:=]|=>)\s*(?P<quote>\\?[\"']))"
            r"(?P<value>[^\"'\n\\]{1,}?)(?P=quote)"
        ),
        _quoted_after_key,
    ),
    (
        re.compile(
            r"(?P<head>" + _KEY_START + r"(?P<key>(?i:" + _SECRET_KEY + r"))\\?[\"']?[ \t]*(?:[:=]|=>)[ \t]*(?:\\?[\"'])?)"
            r"(?P<value>[^\s\"'\\,;}\]]+(?:[ \t]+[^\s\"'\\,;}\]:=]+(?=[\s\"'\\,;}\]]|$))*)",
        ),
        _after_key,
    ),
    (
        # env vars as Kubernetes shows them: {"name": "DB_PASSWORD", "value": "..."}
        re.compile(r"(?P<head>\"name\"\s*:\s*\"(?P<key>(?i:" + _SECRET_KEY + r"))\"\s*,\s*\"value\"\s*:\s*\")(?P<value>[^\"]+)"),
        _after_key,
    ),
    (
        re.compile(r"(?P<head>(?P<key>(?i:aws_secret_access_key|secretaccesskey))[\"']?\s*[:=]\s*[\"']?)(?P<value>[A-Za-z0-9/+=]{40})"),
        _after_key,
    ),
]


def redact(text: str) -> str:
    """Return ``text`` with every credential the rules recognise replaced by a marker."""
    if not text:
        return text
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


_SECRET_KEY_NAME = re.compile(r"(?i:" + _SECRET_KEY + r")")


def _is_secret_key(name: str) -> bool:
    return _SECRET_KEY_NAME.fullmatch(name) is not None and not name.lower().endswith(_LOCATION_KEY_SUFFIXES)


def redact_document(value: Any) -> Any:
    """Return a copy of a parsed JSON or YAML document with credentials masked.

    A string under a key whose name marks a credential is masked whole, and so is the ``value``
    of a Kubernetes env entry whose ``name`` marks one. Numbers and booleans stay, so settings such
    as ``max_token_length: 100`` can still be compared. Every other string goes through
    ``redact``. A JMESPath selection on the result returns a credential only as a marker, even
    when it selects the bare value without its key.
    """
    if isinstance(value, dict):
        secret_env = isinstance(value.get("name"), str) and _is_secret_key(value["name"])
        masked: dict[Any, Any] = {}
        for key, item in value.items():
            by_name = (isinstance(key, str) and _is_secret_key(key)) or (secret_env and key == "value")
            masked[key] = _mask_scalar(item) if by_name else redact_document(item)
        return masked
    if isinstance(value, list):
        return [redact_document(item) for item in value]
    if isinstance(value, str):
        return redact(value)
    return value


def _mask_scalar(value: Any) -> Any:
    """Mask the string under a credential key; a mapping or list there is walked instead."""
    if isinstance(value, str):
        return value if not value or "[redacted" in value else _marker(value)
    return redact_document(value)


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message, the exception text and the stack of a record.

    The formatted message replaces ``msg`` (and the arguments are dropped), and the traceback is
    formatted here into ``exc_text``, redacted, because an exception message may quote what the
    bot read. Formatters use a record's ``exc_text`` when it is set.
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True  # the handler reports the broken format string, and there is no message to redact
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None

        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
