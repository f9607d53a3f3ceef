"""Errors raised by otelbot.

The tree is small on purpose::

    OtelbotError
    ├── ConfigError            invalid settings or command-line values
    ├── PlaybookError          a playbook file that fails to parse or validate
    ├── ClusterError           a Kubernetes API read that failed
    │   ├── ClusterUnauthorized    401
    │   ├── ClusterForbidden       403
    │   ├── ClusterNotFound        404
    │   └── ClusterUnavailable     5xx, timeouts, connection errors
    ├── BackendError           an HTTP GET to a monitoring backend that failed
    │   └── BackendTimeout
    └── StateError             a Redis state store operation that failed

Cluster and backend errors carry what a person needs to act: the request path, the status and a
short reason taken from a Kubernetes ``Status`` body only (other bodies may contain secrets).
"""

from __future__ import annotations

from typing import Any

from bot.i18n import LocalizedText, both

__all__ = [
    "BackendError",
    "BackendTimeout",
    "ClusterError",
    "ClusterForbidden",
    "ClusterNotFound",
    "ClusterUnauthorized",
    "ClusterUnavailable",
    "ConfigError",
    "OtelbotError",
    "PlaybookError",
    "StateError",
]


class OtelbotError(Exception):
    """Base class of every error otelbot raises on purpose."""


class ConfigError(OtelbotError):
    """Invalid settings, command-line value or environment.

    ``text`` is the message in Korean and English, and ``str()`` is the English message, which
    logs use. NOTE: only the errors people make most often have ``text`` (config file, kubeconfig,
    playbook id, input, query). Settings validation, Redis URL, Slack credential and playbook file
    errors (PlaybookError, for playbook authors) are English only.
    """

    def __init__(self, message: str, *, text: LocalizedText | None = None) -> None:
        super().__init__(message)
        self.text = text

    @classmethod
    def of(cls, key: str, /, **fields: Any) -> "ConfigError":
        """Build the error from the i18n catalog entry ``errors.<key>``."""
        text = both(f"errors.{key}", **fields)
        return cls(text.en, text=text)

    def message(self, lang: str) -> str:
        """Return the message in ``lang``, or the English ``str()`` when the error has no ``text``."""
        return self.text.get(lang) if self.text is not None else str(self)


class PlaybookError(OtelbotError):
    """A playbook file that cannot be parsed or validated."""

    def __init__(self, message: str, *, path: str = "", line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}" if where else message)


class ClusterError(OtelbotError):
    """A Kubernetes API read that failed."""

    def __init__(self, message: str, *, path: str = "", status: int | None = None) -> None:
        self.path = path
        self.status = status
        super().__init__(message)


class ClusterUnauthorized(ClusterError):
    """The API server rejected the credentials (401)."""


class ClusterForbidden(ClusterError):
    """The service account lacks permission for a read (403)."""

    def __init__(self, message: str, *, path: str = "", resource: str = "", verb: str = "get") -> None:
        self.resource = resource
        self.verb = verb
        super().__init__(message, path=path, status=403)


class ClusterNotFound(ClusterError):
    """The requested object does not exist (404)."""


class ClusterUnavailable(ClusterError):
    """The API server or a proxied service failed to respond usefully (5xx, timeout, connection refused)."""


class BackendError(OtelbotError):
    """An HTTP GET to a monitoring backend that failed."""

    def __init__(self, message: str, *, backend: str, path: str = "", status: int | None = None) -> None:
        self.backend = backend
        self.path = path
        self.status = status
        super().__init__(message)


class BackendTimeout(BackendError):
    """A backend did not respond within the check's timeout."""


class StateError(OtelbotError):
    """A state store operation that failed (Redis unreachable, timed out or returned an error)."""

    def __init__(self, message: str, *, operation: str, endpoint: str) -> None:
        self.operation = operation
        self.endpoint = endpoint
        super().__init__(message)
