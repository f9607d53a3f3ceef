"""Failures around the bot: Slack rate limits and a Kubernetes API that denies a read."""

from __future__ import annotations

import re

from bot.sandbox import Sandbox
from tests.operations.conftest import finished_report, first_post, wait_until
from tests.slack.conftest import CHANNEL_GENERAL, USER_EN
from tests.support.slack_api import MockSlackAPI


def test_rate_limited_post_waits_retry_after(start_bots, slack_api: MockSlackAPI) -> None:
    (bot,) = start_bots(1)
    slack_api.rate_limit("chat.postMessage", times=1, retry_after_s=1)

    bot.command("check grafana-datasource", user=USER_EN)
    report = finished_report(slack_api, ts=first_post(slack_api).answer["ts"])

    posts = slack_api.calls("chat.postMessage")
    assert [call.status for call in posts] == [429, 200]
    assert posts[1].at - posts[0].at >= 1.0, "the retry must wait for Retry-After"
    assert "No problem found" in report.text
    assert bot.metrics()['otelbot_errors_total{kind="slack_api"}'] == 0.0


def test_rate_limited_post_fails_after_retries(start_bots, slack_api: MockSlackAPI) -> None:
    (bot,) = start_bots(1, env={"OTELBOT_SLACK__API_RATE_LIMIT_RETRIES": "1", "OTELBOT_SLACK__API_RATE_LIMIT_MAX_WAIT_S": "5"})
    slack_api.rate_limit("chat.postMessage", times=2, retry_after_s=0)

    bot.command("check grafana-datasource", user=USER_EN)
    notice = wait_until(lambda: slack_api.calls("response_url"), what="the notice that the report could not be posted")

    assert [call.status for call in slack_api.calls("chat.postMessage")] == [429, 429]
    assert "Slack returned `ratelimited`" in notice[0].text
    assert notice[0].args["response_type"] == "ephemeral"
    failures = [
        record for record in bot.log_records()
        if record["level"] == "WARNING" and "chat.postMessage in channel CGENERAL1 failed: ratelimited" in record["message"]
    ]
    assert len(failures) == 1, "the failed post must be logged once, with its channel"
    assert re.fullmatch(r"[0-9a-f]{16}", failures[0]["run_id"]), f"the log line must carry the run id, not {failures[0]['run_id']!r}"
    assert bot.metrics()['otelbot_errors_total{kind="slack_api"}'] == 1.0

    # A Retry-After longer than api_rate_limit_max_wait_s fails the call at once.
    slack_api.rate_limit("chat.postMessage", times=1, retry_after_s=60)
    bot.command("check grafana-datasource", user=USER_EN)
    wait_until(lambda: len(slack_api.calls("response_url")) == 2, what="the second notice", timeout_s=10)
    assert [call.status for call in slack_api.calls("chat.postMessage")] == [429, 429, 429]


def test_forbidden_read_reports_permission(start_bots, slack_api: MockSlackAPI, sandbox: Sandbox) -> None:
    sandbox.cluster.denied.add(("configmaps", "get"))
    (bot,) = start_bots(1)

    bot.command("check grafana-datasource", user=USER_EN)
    report = finished_report(slack_api, ts=first_post(slack_api, channel=CHANNEL_GENERAL).answer["ts"])

    assert "permission denied: the bot needs 'get' on 'configmaps'" in report.text
    assert "Inconclusive" in report.text
    metrics = bot.metrics()
    assert metrics['otelbot_check_duration_seconds_count{kind="service_ref",status="error"}'] == 1.0
    assert metrics['otelbot_diagnoses_total{playbook="grafana-datasource",verdict="inconclusive"}'] == 1.0
