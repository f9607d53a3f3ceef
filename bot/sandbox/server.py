"""The loopback HTTP server under the sandbox's API server and stand-in backends."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["LoopbackServer"]

logger = logging.getLogger(__name__)


class _QuietServer(ThreadingHTTPServer):
    """A server that logs a client hanging up mid-response at DEBUG instead of printing a traceback."""

    daemon_threads = True
    # socketserver's default backlog of 5 makes the sixth concurrent connect wait for a SYN retry (~1 s).
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("client %s disconnected during a response", client_address, exc_info=True)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 at a free port, served from a daemon thread."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], *, name: str) -> None:
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
