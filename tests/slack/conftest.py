"""Run the real Slack app (``bot.slack.serve``) against the mock Slack Web API and the sandbox cluster.

The app runs in a thread with its own event loop and listens on a free loopback port. Tests send
it signed Slack requests over HTTP, exactly as Slack would, and assert on the Web API calls the
mock server recorded. No external calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier

from bot.config import Settings, load_settings
from bot.slack import serve
from tests.support.prometheus import PrometheusProcess, free_port
from tests.support.slack_api import TEAM_ID, MockSlackAPI
from tests.support.stack import set_prometheus_receiver_flag

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-bot-token"
APP_TOKEN = "xapp-test-app-token"

USER_KO = "UKOREAN"
USER_EN = "UENGLISH"
USER_JA = "UJAPANESE"
CHANNEL_GENERAL = "CGENERAL1"
CHANNEL_INCIDENT = "CINCIDENT1"
CHANNEL_OUTSIDE = "CNOTIN001"


@pytest.fixture
def slack_api() -> Iterator[MockSlackAPI]:
    api = MockSlackAPI(
        users={USER_KO: "ko-KR", USER_EN: "en-US", USER_JA: "ja-JP"},
        channels={CHANNEL_GENERAL: "general", CHANNEL_INCIDENT: "inc-2026-12-04-spanmetrics", CHANNEL_OUTSIDE: "random"},
        not_in={CHANNEL_OUTSIDE},
    ).start()
    yield api
    api.stop()


class BotServer:
    """``otelbot serve`` in a thread; send it signed requests with the helper methods."""

    def __init__(self, settings: Settings, api: MockSlackAPI) -> None:
        self.settings = settings
        self.api = api
        self.base_url = f"http://127.0.0.1:{settings.slack.port}"
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._ids = itertools.count(1)
        self._http = httpx.Client(timeout=10)

    def start(self) -> "BotServer":
        self._thread = threading.Thread(target=self._main, name="otelbot-serve", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.error is not None:
                raise RuntimeError(f"otelbot serve failed to start: {self.error!r}") from self.error
            try:
                if self._http.get(f"{self.base_url}/readyz").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError("otelbot serve was not ready within 30s")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=60)
        self._http.close()
        if self.error is not None:
            raise AssertionError(f"otelbot serve ended with an error: {self.error!r}") from self.error

    def _main(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        try:
            self._loop.run_until_complete(serve(self.settings, stop=self._stop))
        except BaseException as exc:  # reported by start() or stop() in the test's thread
            self.error = exc
        finally:
            self._loop.close()

    # Requests as Slack sends them.

    def send(self, body: bytes, content_type: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> httpx.Response:
        stamp = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body.decode())
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}
        return self._http.post(f"{self.base_url}/slack/events", content=body, headers=headers)

    def command(self, text: str, *, user: str = USER_EN, channel: str = CHANNEL_GENERAL, **fields: str) -> httpx.Response:
        tag = f"cmd-{next(self._ids)}"
        form = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "channel_id": channel,
            "channel_name": self.api.channels.get(channel, "unknown"),
            "user_id": user,
            "user_name": user.lower(),
            "command": "/otel",
            "text": text,
            "api_app_id": "A0APP",
            "response_url": self.api.response_url(tag),
            "trigger_id": f"trigger-{tag}",
            **fields,
        }
        form = {key: value for key, value in form.items() if value is not None}
        return self.send(urlencode(form).encode(), "application/x-www-form-urlencoded")

    def event(self, event: dict[str, Any], *, event_id: str | None = None) -> httpx.Response:
        body = {
            "token": "legacy-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0APP",
            "event": {"event_ts": event.get("ts", ""), **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(self._ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM_ID, "user_id": "U0BOT", "is_bot": True}],
        }
        return self.send(json.dumps(body).encode(), "application/json")

    def message(self, text: str, *, user: str = USER_KO, channel: str = CHANNEL_INCIDENT, thread_ts: str | None = None, **extra: Any) -> tuple[str, httpx.Response]:
        """Send a ``message`` event; return its ts and the response."""
        ts = f"1800000000.{next(self._ids):06d}"
        event = {"type": "message", "channel": channel, "user": user, "text": text, "ts": ts, "channel_type": "channel", **extra}
        if thread_ts:
            event["thread_ts"] = thread_ts
        return ts, self.event(event)

    def press(self, action_id: str, value: str, *, user: str = USER_EN, channel: str = CHANNEL_GENERAL, message_ts: str = "") -> httpx.Response:
        tag = f"press-{next(self._ids)}"
        payload = {
            "type": "block_actions",
            "team": {"id": TEAM_ID, "domain": "test"},
            "user": {"id": user, "username": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "A0APP",
            "token": "legacy-verification-token",
            "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
            "trigger_id": f"trigger-{tag}",
            "channel": {"id": channel, "name": self.api.channels.get(channel, "unknown")},
            "message": {"type": "message", "ts": message_ts, "text": "report"},
            "response_url": self.api.response_url(tag),
            "actions": [{"action_id": action_id, "block_id": "actions", "type": "button", "value": value, "action_ts": str(time.time())}],
        }
        return self.send(urlencode({"payload": json.dumps(payload)}).encode(), "application/x-www-form-urlencoded")


@pytest.fixture
def make_bot(slack_api: MockSlackAPI, sandbox) -> Iterator[Callable[..., BotServer]]:
    """Start ``otelbot serve`` in HTTP mode against the sandbox; keyword arguments override ``slack`` settings,
    ``matching`` the matching settings."""
    started: list[BotServer] = []

    def start(*, matching: dict[str, Any] | None = None, **slack: Any) -> BotServer:
        settings = load_settings(
            cluster={"mode": "kubeconfig", "kubeconfig": str(sandbox.kubeconfig), "namespace": sandbox.namespace},
            matching=matching or {},
            slack={
                "mode": "http",
                "bot_token": BOT_TOKEN,
                "signing_secret": SIGNING_SECRET,
                "api_url": slack_api.url,
                "host": "127.0.0.1",
                "port": free_port(),
                "incident_channels": ["inc-*"],
                "progress_interval_s": 0.2,
                "shutdown_timeout_s": 20,
                **slack,
            },
        )
        bot = BotServer(settings, slack_api).start()
        started.append(bot)
        return bot

    yield start
    for bot in started:
        bot.stop()


@pytest.fixture
def without_receiver(sandbox, prometheus_without_receiver: PrometheusProcess):
    """The sandbox with Prometheus started without --web.enable-remote-write-receiver."""
    set_prometheus_receiver_flag(sandbox.cluster, enabled=False)
    sandbox.route_service("prometheus", 9090, prometheus_without_receiver.url)
    return sandbox


def reports(api: MockSlackAPI, *, channel: str, ts: str) -> list:
    """Return every chat.update of the message ``ts``, oldest first."""
    return [call for call in api.calls("chat.update") if call.args.get("channel") == channel and call.args.get("ts") == ts]


def final_report(api: MockSlackAPI, *, channel: str, ts: str, after: int = 0, timeout_s: float = 60.0):
    """Wait for the update of ``ts`` that carries the Recheck button (a finished report), past the first ``after`` updates."""

    def find(_calls):
        finished = [call for call in reports(api, channel=channel, ts=ts)[after:] if "otelbot_recheck" in call.action_ids()]
        return finished[-1] if finished else None

    return api.wait_for(find, what=f"the finished report in message {ts}", timeout_s=timeout_s)
