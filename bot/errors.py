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
    """Invalid settings, command-line value or environment."""


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
