"""A bot whose Redis stops: it keeps replying, reports the degraded state, and uses Redis again once it is back."""

from __future__ import annotations

from tests.operations.conftest import finished_report, first_post, redis_keys, wait_until
from tests.slack.conftest import USER_EN, USER_KO
from tests.support.redis import RedisProcess
from tests.support.slack_api import MockSlackAPI

DEGRADED_EN = "Recheck may not work after the bot restarts"
DEGRADED_KO = "다시 확인이 동작하지 않을 수 있습니다"


def test_redis_outage_degrades_then_recovers(start_bots, slack_api: MockSlackAPI, own_redis: RedisProcess) -> None:
    (bot,) = start_bots(1, redis_server=own_redis)
    assert bot.readyz().json()["state"] == "ok"

    own_redis.stop()
    bot.command("check grafana-datasource", user=USER_EN)
    during = finished_report(slack_api, ts=first_post(slack_api).answer["ts"])
    bot.command("check grafana-datasource", user=USER_KO)
    during_ko = finished_report(slack_api, ts=first_post(slack_api, after=1).answer["ts"])

    assert DEGRADED_EN in during.text
    assert DEGRADED_KO in during_ko.text
    ready = bot.readyz()
    assert ready.status_code == 200, "a degraded bot still serves requests, so it stays ready"
    assert ready.json()["state"] == "degraded"
    metrics = bot.metrics()
    assert metrics["otelbot_state_degraded{}"] == 1.0
    assert metrics['otelbot_errors_total{kind="state_store"}'] >= 1.0

    own_redis.start()
    wait_until(lambda: bot.readyz().json()["state"] == "ok", what="/readyz to report the state store back on Redis")
    bot.command("check grafana-datasource", user=USER_EN)
    after = finished_report(slack_api, ts=first_post(slack_api, after=2).answer["ts"])

    assert DEGRADED_EN not in after.text
    assert bot.metrics()["otelbot_state_degraded{}"] == 0.0
    run_id = after.button_value("otelbot_recheck")
    keys = redis_keys(own_redis)
    assert f"otelbot:v1:run:{run_id}" in keys, "the run after recovery must be stored in Redis"
    assert during.button_value("otelbot_recheck") not in " ".join(keys), "the run during the outage lives in memory only"
    assert all(ttl > 0 for ttl in keys.values()), f"keys without a TTL: {keys}"
