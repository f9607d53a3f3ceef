"""A backend returning 503: the engine retries with backoff, then reports the check as error."""

from __future__ import annotations

import asyncio
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from bot.app import open_runtime
from bot.checks.base import CheckStatus
from bot.config import load_settings
from bot.diagnosis import Diagnosis, Verdict
from bot.engine import run_playbook
from bot.playbooks.schema import Playbook
from bot.sandbox import Sandbox

TEXT = {"ko": "텍스트", "en": "text"}
RETRIES = 2


class FlakyBackend:
    """A loopback HTTP server that returns 503 to the first ``failures`` GETs and 200 ``ok`` after them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.requests = 0
        self._lock = threading.Lock()
        backend = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with backend._lock:
                    backend.requests += 1
                    failing = backend.requests <= backend.failures
                status, body = (503, b"upstream unavailable") if failing else (200, b"ok")
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def flaky() -> Iterator[Any]:
    started: list[FlakyBackend] = []

    def start(failures: int) -> FlakyBackend:
        backend = FlakyBackend(failures)
        started.append(backend)
        return backend

    yield start
    for backend in started:
        backend.stop()


def ready_playbook() -> Playbook:
    check = {"id": "ready", "kind": "http", "title": TEXT, "backend": "tempo", "path": "/ready", "format": "text",
             "expect": [{"path": "body", "matches": "^ok$"}]}
    return Playbook.model_validate(
        {
            "id": "retry-test",
            "source": "test",
            "title": TEXT,
            "symptoms": {"ko": ["테스트"], "en": ["test"]},
            "checks": [check],
            "causes": [
                {
                    "id": "not-ready",
                    "title": TEXT,
                    "explanation": TEXT,
                    "when": {"any": {"ready": "fail"}},
                    "patch": {"path": "x", "format": "text", "content": "y"},
                }
            ],
        }
    )


def diagnose(sandbox: Sandbox, *, tempo_url: str | None) -> Diagnosis:
    """Run the playbook with Tempo at ``tempo_url``, or through the sandbox's service proxy when None."""
    tempo: dict[str, Any] = {"service": "tempo", "port": 3200}
    if tempo_url is not None:
        tempo["url"] = tempo_url
    settings = load_settings(
        cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig"},
        checks={"retries": RETRIES, "retry_backoff_s": 0.05},
        backends={"tempo": tempo},
    )

    async def run() -> Diagnosis:
        async with open_runtime(settings) as runtime:
            return await run_playbook(ready_playbook(), runtime.context())

    return asyncio.run(run())


@pytest.mark.parametrize("route", ["url", "service_proxy"])
def test_backend_503_twice_then_200_passes(sandbox: Sandbox, flaky, route: str) -> None:
    backend = flaky(failures=2)
    if route == "service_proxy":
        sandbox.route_service("tempo", 3200, backend.url)

    result = diagnose(sandbox, tempo_url=backend.url if route == "url" else None)

    assert result.finding("ready").status is CheckStatus.PASS
    assert result.verdict is Verdict.HEALTHY
    assert backend.requests == 3


@pytest.mark.parametrize("route", ["url", "service_proxy"])
def test_backend_always_503_is_error(sandbox: Sandbox, flaky, route: str) -> None:
    backend = flaky(failures=1000)
    if route == "service_proxy":
        sandbox.route_service("tempo", 3200, backend.url)

    result = diagnose(sandbox, tempo_url=backend.url if route == "url" else None)

    finding = result.finding("ready")
    assert finding.status is CheckStatus.ERROR
    assert "503" in finding.reason.en
    assert result.verdict is Verdict.INCONCLUSIVE
    assert backend.requests == RETRIES + 1
