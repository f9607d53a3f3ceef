"""HTTP GETs to the monitoring backends (Prometheus, Tempo, Grafana, the collector's metrics).

A backend is named in settings by its Service and port. Requests go, in order of preference, to
the backend's ``url`` override; to the Service's cluster DNS name when the bot runs in a pod; or
through the Kubernetes API server's service proxy when it runs from a kubeconfig. Only GET exists.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from bot.cluster import ClusterReader
from bot.config import BackendSettings, CheckSettings
from bot.errors import BackendError, BackendTimeout, ClusterError

__all__ = ["BackendClient", "BackendResponse", "decode_json"]

logger = logging.getLogger(__name__)

_RETRYABLE_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True)
class BackendResponse:
    """A backend's response to one GET."""

    backend: str
    path: str
    status: int
    headers: dict[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class BackendClient:
    """GET requests to named backends, with bounded retries."""

    def __init__(
        self,
        backends: dict[str, BackendSettings],
        *,
        namespace: str,
        checks: CheckSettings,
        http: httpx.AsyncClient,
        cluster: ClusterReader | None,
        direct: bool,
    ) -> None:
        self._backends = backends
        self._namespace = namespace
        self._checks = checks
        self._http = http
        self._cluster = cluster
        self._direct = direct

    def names(self) -> list[str]:
        return sorted(self._backends)

    def describe(self, name: str) -> str:
        """Return where requests to ``name`` go, without credentials, for evidence and logs."""
        backend = self._settings(name)
        if backend.url:
            return httpx.URL(backend.url).copy_with(username=None, password=None, query=None).__str__()
        namespace = backend.namespace or self._namespace
        return f"service {namespace}/{backend.service}:{backend.port}"

    async def get(
        self, name: str, path: str, *, params: list[tuple[str, str]] | None = None, timeout_s: float
    ) -> BackendResponse:
        """GET ``path`` from backend ``name``, retrying timeouts and 502/503/504 a bounded number of times.

        Raises BackendError (or BackendTimeout) once the retries are spent.
        """
        attempts = self._checks.retries + 1
        delay = self._checks.retry_backoff_s
        for attempt in range(1, attempts + 1):
            try:
                response = await self._get_once(name, path, params or [], timeout_s)
            except BackendError as exc:
                if attempt == attempts:
                    raise
                logger.warning("attempt %d/%d failed; will retry: GET %s %s: %s", attempt, attempts, name, path, exc)
            else:
                if response.status not in _RETRYABLE_STATUS or attempt == attempts:
                    return response
                logger.warning(
                    "attempt %d/%d failed; will retry: GET %s %s: HTTP %d", attempt, attempts, name, path, response.status
                )
            await asyncio.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    async def _get_once(self, name: str, path: str, params: list[tuple[str, str]], timeout_s: float) -> BackendResponse:
        backend = self._settings(name)
        if backend.url or self._direct:
            return await self._get_http(name, backend, path, params, timeout_s)
        return await self._get_proxied(name, backend, path, params, timeout_s)

    async def _get_http(
        self, name: str, backend: BackendSettings, path: str, params: list[tuple[str, str]], timeout_s: float
    ) -> BackendResponse:
        namespace = backend.namespace or self._namespace
        base = backend.url or f"http://{backend.service}.{namespace}.svc:{backend.port}"
        url = base.rstrip("/") + "/" + path.lstrip("/")
        headers = {"Accept": "application/json, text/plain, */*"}
        if backend.token is not None:
            headers["Authorization"] = f"Bearer {backend.token.get_secret_value()}"
        try:
            response = await self._http.get(url, params=params, headers=headers, timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise BackendTimeout(f"{name}: GET {path} timed out after {timeout_s:g}s", backend=name, path=path) from exc
        except httpx.HTTPError as exc:
            raise BackendError(f"{name}: GET {path} failed: {_httpx_reason(exc)}", backend=name, path=path) from exc
        return BackendResponse(name, path, response.status_code, dict(response.headers), response.content)

    async def _get_proxied(
        self, name: str, backend: BackendSettings, path: str, params: list[tuple[str, str]], timeout_s: float
    ) -> BackendResponse:
        if self._cluster is None:
            raise BackendError(
                f"{name}: no url is set and no cluster is configured to proxy through; set backends.{name}.url",
                backend=name,
                path=path,
            )
        namespace = backend.namespace or self._namespace
        try:
            response = await self._cluster.proxy_get(
                backend.service, backend.port, path, namespace=namespace, params=params, timeout_s=timeout_s
            )
        except ClusterError as exc:
            if "timed out after" in str(exc):
                raise BackendTimeout(f"{name}: GET {path} timed out after {timeout_s:g}s", backend=name, path=path) from exc
            raise BackendError(f"{name}: GET {path} failed: {exc}", backend=name, path=path, status=exc.status) from exc
        return BackendResponse(name, path, response.status, response.headers, response.body)

    def _settings(self, name: str) -> BackendSettings:
        try:
            return self._backends[name]
        except KeyError:
            raise BackendError(
                f"unknown backend {name!r}; configured: {', '.join(sorted(self._backends))}. Add it under backends in the config.",
                backend=name,
            ) from None


def _httpx_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused or host unreachable"
    return f"{type(exc).__name__}: {exc}"


def decode_json(response: BackendResponse) -> Any:
    """Parse a JSON body, raising BackendError with the backend and path when it is not JSON."""
    try:
        return json.loads(response.body)
    except ValueError as exc:
        raise BackendError(
            f"{response.backend}: GET {response.path} returned a body that is not JSON (HTTP {response.status})",
            backend=response.backend,
            path=response.path,
            status=response.status,
        ) from exc
