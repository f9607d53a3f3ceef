"""The bot's own health: /healthz, /readyz, /metrics after a diagnosis, and JSON logs with the run id."""

from __future__ import annotations

import httpx

from tests.operations.conftest import BotProcess, finished_report, first_post, wait_until
from tests.slack.conftest import USER_EN
from tests.support.redis import RedisProcess
from tests.support.slack_api import MockSlackAPI


def test_health_endpoints(start_bots, own_redis: RedisProcess) -> None:
    (bot,) = start_bots(1, redis_server=own_redis)

    health = httpx.get(f"{bot.base_url}/healthz", timeout=5)
    ready = bot.readyz()

    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "playbooks": 15, "state": "ok"}


def test_metrics_after_diagnosis(start_bots, slack_api: MockSlackAPI) -> None:
    (bot,) = start_bots(1)
    before = bot.metrics()

    bot.command("check grafana-datasource", user=USER_EN)
    report = finished_report(slack_api, ts=first_post(slack_api).answer["ts"])
    # The run stores its evidence and record after the report update, and only then ends.
    after = wait_until(lambda: _finished_metrics(bot), what="the diagnosis to end")

    assert 'otelbot_diagnoses_total{playbook="grafana-datasource",verdict="healthy"}' not in before
    assert after['otelbot_diagnoses_total{playbook="grafana-datasource",verdict="healthy"}'] == 1.0
    assert after['otelbot_check_duration_seconds_count{kind="http",status="pass"}'] == 2.0
    assert after['otelbot_check_duration_seconds_count{kind="service_ref",status="pass"}'] == 1.0
    assert 0 < after['otelbot_check_duration_seconds_sum{kind="http",status="pass"}'] < 10
    assert after["otelbot_slack_ack_seconds_count{}"] == 1.0
    assert 0 < after["otelbot_slack_ack_seconds_sum{}"] < 3, "Slack needs the acknowledgement within 3 s"
    assert after["otelbot_state_degraded{}"] == 0.0
    for kind in ("slack_api", "state_store", "diagnosis", "listener", "task"):
        assert after[f'otelbot_errors_total{{kind="{kind}"}}'] == 0.0

    run_id = report.button_value("otelbot_recheck")
    records = bot.log_records()
    assert records, "the bot logged nothing"
    assert {"time", "level", "logger", "message", "run_id"} <= set(records[0])
    run_lines = [record for record in records if record["logger"] in ("bot.engine", "bot.slack.runner")]
    assert run_lines, "no log line about the diagnosis"
    assert {record["run_id"] for record in run_lines} == {run_id}


def _finished_metrics(bot: BotProcess) -> dict[str, float] | None:
    metrics = bot.metrics()
    return metrics if metrics["otelbot_diagnoses_in_flight{}"] == 0.0 else None
