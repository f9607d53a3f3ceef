"""HTTP and Socket Mode transport: signatures, malformed payloads, health, locks and shutdown."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator
from urllib.parse import urlencode

import httpx
import pytest

from tests.slack.conftest import APP_TOKEN, CHANNEL_GENERAL, USER_EN, USER_KO, final_report, reports
from tests.support.prometheus import PrometheusProcess
from tests.support.slack_api import TEAM_ID


class GatedProxy:
    """A loopback HTTP proxy that delays every GET until ``release()``, so a run stays in progress."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.entered = threading.Event()
        self.gate = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                proxy.entered.set()
                proxy.gate.wait(timeout=30)
                upstream = httpx.get(proxy.upstream + self.path, timeout=10)
                self.send_response(upstream.status_code)
                self.send_header("Content-Type", upstream.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def release(self) -> None:
        self.gate.set()

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gated_prometheus(prometheus_without_receiver: PrometheusProcess) -> Iterator[GatedProxy]:
    proxy = GatedProxy(prometheus_without_receiver.url)
    yield proxy
    proxy.stop()


def test_bad_signature_is_rejected(make_bot, slack_api) -> None:
    bot = make_bot()
    calls_before = len(slack_api.calls())

    response = bot.send(urlencode({"command": "/otel", "text": "help", "user_id": USER_EN, "channel_id": CHANNEL_GENERAL}).encode(),
                        "application/x-www-form-urlencoded", secret="not-the-signing-secret")

    assert response.status_code == 401
    assert len(slack_api.calls()) == calls_before


def test_stale_timestamp_is_rejected(make_bot) -> None:
    bot = make_bot()

    response = bot.send(b'{"type": "event_callback"}', "application/json", timestamp=int(time.time()) - 3600)

    assert response.status_code == 401


def test_malformed_json_gets_400(make_bot) -> None:
    bot = make_bot()

    response = bot.send(b'{"type": "event_callback", "event": ', "application/json")

    assert response.status_code == 400
    assert response.json() == {"error": "invalid request body"}


def test_malformed_action_payload_gets_400(make_bot) -> None:
    bot = make_bot()

    response = bot.send(urlencode({"payload": "{not json"}).encode(), "application/x-www-form-urlencoded")

    assert response.status_code == 400


def test_command_without_user_gets_polite_reply(make_bot, slack_api) -> None:
    bot = make_bot()

    response = bot.command("help", user_id="")

    assert response.status_code == 200
    assert "user_id" in response.text
    assert not slack_api.calls("response_url")


def test_event_without_fields_is_ignored(make_bot, slack_api) -> None:
    bot = make_bot()

    response = bot.event({"type": "app_mention", "text": "<@U0BOT> help"})
    bot.event({"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": "1800000000.999999", "text": "<@U0BOT> help"})

    assert response.status_code == 200
    slack_api.wait_for(lambda calls: [c for c in calls if c.args.get("thread_ts") == "1800000000.999999"], what="the reply to the valid mention")
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_health_and_readiness(make_bot) -> None:
    bot = make_bot()

    health = httpx.get(f"{bot.base_url}/healthz", timeout=5)
    ready = httpx.get(f"{bot.base_url}/readyz", timeout=5)

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert ready.json()["playbooks"] >= 1


def test_url_verification_challenge(make_bot) -> None:
    bot = make_bot()

    response = bot.send(json.dumps({"type": "url_verification", "challenge": "c-123", "token": "t"}).encode(), "application/json")

    assert response.status_code == 200
    assert response.json()["challenge"] == "c-123"


def test_press_during_running_recheck_says_busy(make_bot, slack_api, without_receiver, gated_prometheus: GatedProxy) -> None:
    bot = make_bot()
    bot.command("why no spanmetrics", user=USER_EN)
    post = slack_api.wait_for(lambda calls: next((c for c in calls if c.method == "chat.postMessage"), None), what="the report message")
    ts = post.answer["ts"]
    run_id = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts).button_value("otelbot_recheck")
    without_receiver.route_service("prometheus", 9090, gated_prometheus.url)
    updates_before = len(reports(slack_api, channel=CHANNEL_GENERAL, ts=ts))

    bot.press("otelbot_recheck", run_id, user=USER_EN, message_ts=ts)
    assert gated_prometheus.entered.wait(timeout=30), "the recheck never reached Prometheus"
    bot.press("otelbot_recheck", run_id, user=USER_KO, message_ts=ts)

    busy = slack_api.wait_for(lambda calls: next((c for c in calls if c.method == "response_url"), None), what="the busy notice")
    assert "이미 실행 중" in busy.text
    assert busy.args["response_type"] == "ephemeral"
    gated_prometheus.release()
    rechecked = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts, after=updates_before)
    assert "Rechecked by" in rechecked.text
    assert "*Still failing:*" in rechecked.text
    finished = [call for call in reports(slack_api, channel=CHANNEL_GENERAL, ts=ts)[updates_before:] if "otelbot_recheck" in call.action_ids()]
    assert len(finished) == 1, "the second press must not start a second run"


def test_socket_mode_acknowledges_and_replies(make_bot, slack_api) -> None:
    bot = make_bot(mode="socket", app_token=APP_TOKEN, signing_secret=None)
    slack_api.wait_for(lambda calls: slack_api.socket_clients() == 1 or None, what="the Socket Mode connection")

    envelope = slack_api.send_envelope("slash_commands", {
        "team_id": TEAM_ID, "channel_id": CHANNEL_GENERAL, "user_id": USER_EN, "command": "/otel", "text": "help",
        "response_url": slack_api.response_url("socket"), "trigger_id": "t-socket", "api_app_id": "A0APP",
    })

    ack = slack_api.wait_for(lambda calls: next((c for c in calls if c.method == "socket_ack" and c.args.get("envelope_id") == envelope), None), what="the envelope ack")
    assert ack.args["envelope_id"] == envelope
    reply = slack_api.wait_for(lambda calls: next((c for c in calls if c.method == "response_url"), None), what="the help reply")
    assert "/otel why <symptom>" in reply.text
    assert slack_api.calls("apps.connections.open")[0].authorized
    assert httpx.get(f"{bot.base_url}/healthz", timeout=5).status_code == 200
    assert httpx.post(f"{bot.base_url}/slack/events", content=b"{}", timeout=5).status_code == 404
