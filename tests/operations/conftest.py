"""Run ``otelbot serve`` as real subprocesses in HTTP mode, as replicas behind one Service would run.

Each bot listens on its own free loopback port, talks to one mock Slack Web API, reads the
sandbox cluster through its kubeconfig and, when a test gives one, shares a real ``redis-server``
with the other bots. Tests send signed Slack requests over HTTP and wait on the calls the mock
recorded, on ``/readyz`` or on ``/metrics``. Every process is killed at teardown. No external calls.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk.signature import SignatureVerifier

from bot.config import load_settings
from bot.sandbox import Sandbox
from tests.slack.conftest import (
    BOT_TOKEN,
    CHANNEL_GENERAL,
    CHANNEL_INCIDENT,
    CHANNEL_OUTSIDE,
    SIGNING_SECRET,
    USER_EN,
    USER_JA,
    USER_KO,
    BotServer,
)
from tests.support.prometheus import free_port
from tests.support.redis import RedisProcess
from tests.support.slack_api import TEAM_ID, Call, MockSlackAPI

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
EXIT_TIMEOUT_S = 10.0
# Small enough that a stopped Redis costs a request well under a second.
REDIS_TIMEOUT_S = 0.5


class BotProcess(BotServer):
    """``python -m bot serve`` in a subprocess; send it signed Slack requests with BotServer's helpers."""

    def __init__(self, api: MockSlackAPI, *, env: dict[str, str], log_path: Path) -> None:
        port = free_port()
        super().__init__(load_settings(slack={"mode": "http", "host": "127.0.0.1", "port": port}), api)
        self.port = port
        self.env = {**env, "OTELBOT_SLACK__PORT": str(port)}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def start(self) -> "BotProcess":
        """Start the process without waiting; call ``wait_ready`` before sending requests."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, *, timeout_s: float = START_TIMEOUT_S) -> "BotProcess":
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"otelbot serve exited with {self.process.returncode}:\n{self.log_text()[-3000:]}")
            try:
                if self.readyz().status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"otelbot serve on port {self.port} was not ready within {timeout_s}s:\n{self.log_text()[-3000:]}")

    def stop(self) -> None:
        """Kill the process if it still runs (fixture teardown)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=EXIT_TIMEOUT_S)
        self._http.close()

    def kill(self) -> None:
        """End the process at once with SIGKILL, as an OOM kill or a node failure would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=EXIT_TIMEOUT_S)

    def terminate(self) -> None:
        """Send SIGTERM, as Kubernetes does when it stops a pod."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def send_with_headers(self, body: bytes, content_type: str, headers: dict[str, str]) -> httpx.Response:
        """Send a signed request with extra headers, such as Slack's ``X-Slack-Retry-Num``."""
        stamp = str(int(time.time()))
        signature = SignatureVerifier(SIGNING_SECRET).generate_signature(timestamp=stamp, body=body.decode())
        all_headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature, **headers}
        return self._http.post(f"{self.base_url}/slack/events", content=body, headers=all_headers)

    def readyz(self) -> httpx.Response:
        return self._http.get(f"{self.base_url}/readyz", timeout=5)

    def metrics(self) -> dict[str, float]:
        """Return every sample of ``/metrics`` as ``{'name{label="value",...}': value}``, labels sorted."""
        response = self._http.get(f"{self.base_url}/metrics", timeout=5)
        assert response.status_code == 200, response.text
        samples = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels = ",".join(f'{name}="{value}"' for name, value in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
        return samples

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict[str, Any]]:
        """Return the process's log lines parsed as JSON; fail on a line that is not JSON."""
        records = []
        for line in self.log_text().splitlines():
            if line.strip():
                records.append(json.loads(line))
        return records


def event_body(event: dict[str, Any], *, event_id: str) -> bytes:
    """Return the Events API body Slack sends for ``event``."""
    body = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "A0APP",
        "event": {"event_ts": event.get("ts", ""), **event},
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": TEAM_ID, "user_id": "U0BOT", "is_bot": True}],
    }
    return json.dumps(body).encode()


def wait_until(condition: Callable[[], Any], *, what: str, timeout_s: float = 30.0) -> Any:
    """Poll ``condition`` every 50 ms until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def redis_keys(server: RedisProcess) -> dict[str, int]:
    """Return every ``otelbot:`` key in ``server`` with its TTL in seconds (-1: none).

    A key deleted between SCAN and TTL (-2), such as the lock of a run that just finished, is left out.
    """
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=5)
    try:
        keys = {key.decode(): client.ttl(key) for key in client.scan_iter(match="otelbot:*", count=1000)}
    finally:
        client.close()
    return {key: ttl for key, ttl in keys.items() if ttl != -2}


def finished_report(api: MockSlackAPI, *, ts: str, after: int = 0, timeout_s: float = 30.0) -> Call:
    """Wait for an update of message ``ts`` that carries the Recheck button, past the first ``after`` updates."""

    def find() -> Call | None:
        updates = [call for call in api.calls("chat.update") if call.args.get("ts") == ts and call.answer.get("ok")]
        finished = [call for call in updates[after:] if "otelbot_recheck" in call.action_ids()]
        return finished[-1] if finished else None

    return wait_until(find, what=f"the finished report in message {ts}", timeout_s=timeout_s)


def first_post(api: MockSlackAPI, *, channel: str = CHANNEL_GENERAL, after: int = 0) -> Call:
    """Wait for a successful chat.postMessage in ``channel``, past the first ``after`` ones."""

    def find() -> Call | None:
        posts = [call for call in api.calls("chat.postMessage") if call.args.get("channel") == channel and call.answer.get("ok")]
        return posts[after] if len(posts) > after else None

    return wait_until(find, what=f"a message posted in {channel}")


@pytest.fixture
def slack_api() -> Iterator[MockSlackAPI]:
    api = MockSlackAPI(
        users={USER_KO: "ko-KR", USER_EN: "en-US", USER_JA: "ja-JP"},
        channels={CHANNEL_GENERAL: "general", CHANNEL_INCIDENT: "inc-2026-12-04-spanmetrics", CHANNEL_OUTSIDE: "random"},
        not_in={CHANNEL_OUTSIDE},
    ).start()
    yield api
    api.stop()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server only this test uses, so the test may stop and start it."""
    process = RedisProcess(tmp_path / "redis").start()
    yield process
    process.stop()


@pytest.fixture
def start_bots(slack_api: MockSlackAPI, sandbox: Sandbox, tmp_path: Path) -> Iterator[Callable[..., list[BotProcess]]]:
    """Start ``count`` bots at once and wait until each is ready; every one is killed at teardown.

    ``redis_server`` makes them share that Redis; ``env`` adds or overrides ``OTELBOT_*`` variables.
    """
    started: list[BotProcess] = []

    def start(count: int = 1, *, redis_server: RedisProcess | None = None, env: dict[str, str] | None = None) -> list[BotProcess]:
        base = {
            **os.environ,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "OTELBOT_SLACK_API_URL": slack_api.url,
            "OTELBOT_SLACK__MODE": "http",
            "OTELBOT_SLACK__HOST": "127.0.0.1",
            "OTELBOT_SLACK__PROGRESS_INTERVAL_S": "0.2",
            "OTELBOT_SLACK__SHUTDOWN_TIMEOUT_S": "20",
            "OTELBOT_CLUSTER__MODE": "kubeconfig",
            "OTELBOT_CLUSTER__KUBECONFIG": str(sandbox.kubeconfig),
            "OTELBOT_CLUSTER__NAMESPACE": sandbox.namespace,
            "OTELBOT_STATE__CONNECT_TIMEOUT_S": str(REDIS_TIMEOUT_S),
            "OTELBOT_STATE__SOCKET_TIMEOUT_S": str(REDIS_TIMEOUT_S),
            "OTELBOT_STATE__PROBE_INTERVAL_S": "0.2",
            "OTELBOT_LOG_FORMAT": "json",
            "OTELBOT_LOG_LEVEL": "INFO",
        }
        if redis_server is not None:
            base["OTELBOT_STATE__REDIS_URL"] = redis_server.url
        base.update(env or {})

        bots = []
        for _ in range(count):
            bot = BotProcess(slack_api, env=base, log_path=tmp_path / f"bot-{len(started)}.log")
            started.append(bot)
            bots.append(bot.start())
        for bot in bots:
            bot.wait_ready()
        return bots

    yield start
    for bot in started:
        bot.stop()
