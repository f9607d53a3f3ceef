"""Local HTTP servers that stand in for Prometheus, Tempo, Grafana and the collector's metrics.

Each serves canned responses from a YAML file::

    service: {name: tempo, port: 3200}
    routes:
      - path: /ready
        status: 503
        text: "Ingester not ready"
      - path: /api/v1/query
        params: {query: traces_spanmetrics_calls_total}   # optional; all listed params must match
        json: {status: success, data: {resultType: vector, result: []}}

An unmatched request gets 404. Any method other than GET gets 405 and is counted as a violation.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

from bot.sandbox.server import LoopbackServer

__all__ = ["FixtureBackend", "Route"]

logger = logging.getLogger(__name__)


@dataclass
class Route:
    """One canned response."""

    path: str
    status: int = 200
    params: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    content_type: str = "application/json"
    delay_s: float = 0.0

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Route":
        if "json" in data:
            body, content_type = json.dumps(data["json"]).encode(), "application/json"
        else:
            body, content_type = str(data.get("text", "")).encode(), data.get("content_type", "text/plain; version=0.0.4")
        return cls(
            path=data["path"],
            status=int(data.get("status", 200)),
            params={key: str(value) for key, value in (data.get("params") or {}).items()},
            body=body,
            content_type=content_type,
            delay_s=float(data.get("delay_s", 0.0)),
        )

    def matches(self, path: str, query: dict[str, list[str]]) -> bool:
        return path == self.path and all(value in query.get(key, []) for key, value in self.params.items())


class FixtureBackend(LoopbackServer):
    """An HTTP server on 127.0.0.1 that serves GETs from a list of routes."""

    def __init__(self, routes: list[Route], *, name: str = "backend", service: tuple[str, int] | None = None) -> None:
        self.name = name
        self.service = service
        self.routes = routes
        self.requests: list[tuple[str, str]] = []
        self.violations: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"backend": self})
        super().__init__(handler, name=f"backend-{name}")

    @classmethod
    def from_file(cls, path: Path) -> "FixtureBackend":
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        service = data.get("service") or {}
        routes = [Route.from_dict(item) for item in data.get("routes") or []]
        return cls(routes, name=service.get("name", path.stem), service=(service["name"], int(service["port"])) if service else None)

    def set_route(self, route: Route) -> None:
        """Replace the routes with the same path and params, or add ``route``."""
        with self._lock:
            self.routes = [item for item in self.routes if (item.path, item.params) != (route.path, route.params)] + [route]

    def find(self, path: str, query: dict[str, list[str]]) -> Route | None:
        with self._lock:
            candidates = [route for route in self.routes if route.matches(path, query)]
        # The most specific route (most params) wins.
        return max(candidates, key=lambda route: len(route.params), default=None)


class _Handler(BaseHTTPRequestHandler):
    backend: FixtureBackend
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes. With Nagle's algorithm on, the body of a
    # kept-alive response waits for the client's delayed ACK of the headers: 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.backend.name, *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        self.backend.requests.append(("GET", self.path))
        route = self.backend.find(parts.path, parse_qs(parts.query))
        if route is None:
            return self._send(404, "text/plain", b"404 page not found\n")
        if route.delay_s:
            time.sleep(route.delay_s)
        self._send(route.status, route.content_type, route.body)

    def _reject(self) -> None:
        self.backend.violations.append((self.command, self.path))
        self.close_connection = True
        self._send(405, "text/plain", b"method not allowed: this stand-in is read-only\n")

    do_POST = do_PUT = do_PATCH = do_DELETE = _reject

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler responds 501, unrecorded, to a method without a do_<METHOD>. Here
        # every other method (HEAD, OPTIONS, PROPFIND, ...) is a violation too.
        if name.startswith("do_"):
            return self._reject
        raise AttributeError(name)

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
