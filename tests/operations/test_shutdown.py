"""SIGTERM: the bot refuses new Slack requests, finishes the diagnoses it started, then exits 0."""

from __future__ import annotations

import time

import httpx

from bot.sandbox import Sandbox
from tests.operations.conftest import finished_report, first_post, wait_until
from tests.operations.test_replicas import TEMPO_HEALTH, slow_route
from tests.slack.conftest import USER_EN
from tests.support.slack_api import MockSlackAPI

GRACE_S = 10
DIAGNOSIS_DELAY_S = 2.0


def test_sigterm_finishes_running_diagnosis(start_bots, slack_api: MockSlackAPI, sandbox: Sandbox) -> None:
    (bot,) = start_bots(1, env={"OTELBOT_SLACK__SHUTDOWN_TIMEOUT_S": str(GRACE_S)})
    slow_route(sandbox, TEMPO_HEALTH, delay_s=DIAGNOSIS_DELAY_S)
    bot.command("check grafana-datasource", user=USER_EN)
    ts = first_post(slack_api).answer["ts"]
    assert not [call for call in slack_api.calls("chat.update") if "otelbot_recheck" in call.action_ids()], "the diagnosis finished too early"

    bot.terminate()
    signalled = time.monotonic()
    stopping = wait_until(lambda: _stopping(bot), what="/readyz to answer 503 after SIGTERM", timeout_s=5)
    try:
        late = bot.command("check grafana-datasource", user=USER_EN).status_code
    except httpx.TransportError:
        late = None
    assert bot.process is not None
    returncode = bot.process.wait(timeout=GRACE_S + 5)
    exited_after_s = time.monotonic() - signalled

    assert stopping.json() == {"status": "stopping"}
    assert late in (503, None), f"a request after SIGTERM got HTTP {late}; expected 503 or a refused connection"
    report = finished_report(slack_api, ts=ts, timeout_s=1)
    assert "No problem found" in report.text
    assert returncode == 0
    assert exited_after_s < GRACE_S
    posts = [call for call in slack_api.calls("chat.postMessage") if call.answer.get("ok")]
    assert len(posts) == 1, "the request sent after SIGTERM must not start a diagnosis"
    assert not slack_api.calls("response_url")


def _stopping(bot) -> httpx.Response | None:
    try:
        response = bot.readyz()
    except httpx.TransportError:
        return None
    return response if response.status_code == 503 else None


def test_sigterm_past_grace_marks_report_interrupted(start_bots, slack_api: MockSlackAPI, sandbox: Sandbox) -> None:
    (bot,) = start_bots(1, env={"OTELBOT_SLACK__SHUTDOWN_TIMEOUT_S": "1"})
    slow_route(sandbox, TEMPO_HEALTH, delay_s=2.5)
    bot.command("check grafana-datasource", user=USER_EN)
    ts = first_post(slack_api).answer["ts"]

    bot.terminate()
    assert bot.process is not None
    returncode = bot.process.wait(timeout=15)

    assert returncode == 0
    last = [call for call in slack_api.calls("chat.update") if call.args.get("ts") == ts][-1]
    assert "The bot shut down before these checks finished" in last.text
    run_id = last.button_value("otelbot_recheck")
    assert run_id, "the interrupted report must keep a Recheck button"
