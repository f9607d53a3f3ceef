"""Several replicas on one Redis: each request is handled once, and recheck context outlives a replica."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from urllib.parse import urlencode

from bot.sandbox import Sandbox
from tests.operations.conftest import BotProcess, event_body, finished_report, first_post, redis_keys, wait_until
from tests.slack.conftest import CHANNEL_GENERAL, USER_EN, USER_KO
from tests.support.redis import RedisProcess
from tests.support.slack_api import TEAM_ID, MockSlackAPI

TEMPO_HEALTH = "/api/datasources/uid/tempo/health"


def duplicates(bots: list[BotProcess], kind: str) -> float:
    return sum(bot.metrics().get(f'otelbot_slack_duplicates_total{{kind="{kind}"}}', 0.0) for bot in bots)


def assert_every_key_has_ttl(server: RedisProcess) -> dict[str, int]:
    keys = redis_keys(server)
    assert keys, "the bots wrote no keys to Redis"
    without_ttl = sorted(key for key, ttl in keys.items() if ttl < 0)
    assert without_ttl == [], f"keys without a TTL: {without_ttl}"
    return keys


def slow_route(sandbox: Sandbox, path: str, delay_s: float) -> None:
    """Delay the response of Grafana's fixture to ``path`` by ``delay_s``, so a diagnosis stays running."""
    grafana = sandbox.backends["grafana"]
    route = grafana.find(path, {})
    assert route is not None, f"the grafana fixture has no route {path}"
    grafana.set_route(replace(route, delay_s=delay_s))


def test_event_at_two_replicas_replies_once(start_bots, slack_api: MockSlackAPI, own_redis: RedisProcess) -> None:
    first, second = start_bots(2, redis_server=own_redis)
    ts = "1800000000.000100"
    mention = {"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "text": "<@U0BOT> check grafana-datasource", "ts": ts}
    body = event_body(mention, event_id="EvSAME0001")

    # Slack delivers the event to both replicas at once, then retries it on one of them.
    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda bot: bot.send_with_headers(body, "application/json", {}), [first, second]))
    retry = second.send_with_headers(body, "application/json", {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})

    assert [response.status_code for response in responses] == [200, 200]
    assert retry.status_code == 200
    wait_until(lambda: duplicates([first, second], "event") == 2, what="both replicas to ignore the two duplicate deliveries")
    post = first_post(slack_api)
    finished_report(slack_api, ts=post.answer["ts"])
    replies = [call for call in slack_api.calls("chat.postMessage") if call.args.get("thread_ts") == ts]
    assert len(replies) == 1, f"expected one reply in the thread, got {len(replies)}"
    assert_every_key_has_ttl(own_redis)


def test_command_at_two_replicas_runs_once(start_bots, slack_api: MockSlackAPI, own_redis: RedisProcess) -> None:
    first, second = start_bots(2, redis_server=own_redis)
    form = {
        "team_id": TEAM_ID, "channel_id": CHANNEL_GENERAL, "user_id": USER_EN, "command": "/otel", "text": "check grafana-datasource",
        "api_app_id": "A0APP", "response_url": slack_api.response_url("twice"), "trigger_id": "trigger-twice",
    }
    body = urlencode(form).encode()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda bot: bot.send_with_headers(body, "application/x-www-form-urlencoded", {}), [first, second]))

    assert [response.status_code for response in responses] == [200, 200]
    wait_until(lambda: duplicates([first, second], "command") == 1, what="one replica to ignore the duplicate command")
    finished_report(slack_api, ts=first_post(slack_api).answer["ts"])
    assert len([call for call in slack_api.calls("chat.postMessage") if call.answer.get("ok")]) == 1


def test_press_at_two_replicas_runs_once(start_bots, slack_api: MockSlackAPI, own_redis: RedisProcess) -> None:
    first, second = start_bots(2, redis_server=own_redis)
    first.command("check grafana-datasource", user=USER_EN)
    ts = first_post(slack_api).answer["ts"]
    run_id = finished_report(slack_api, ts=ts).button_value("otelbot_recheck")
    updates_before = len(slack_api.calls("chat.update"))
    payload = {
        "type": "block_actions", "team": {"id": TEAM_ID}, "user": {"id": USER_EN}, "api_app_id": "A0APP",
        "container": {"type": "message", "message_ts": ts, "channel_id": CHANNEL_GENERAL}, "trigger_id": "trigger-press-twice",
        "channel": {"id": CHANNEL_GENERAL}, "message": {"type": "message", "ts": ts, "text": "report"},
        "response_url": slack_api.response_url("press-twice"),
        "actions": [{"action_id": "otelbot_recheck", "block_id": "actions", "type": "button", "value": run_id, "action_ts": str(time.time())}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(lambda bot: bot.send_with_headers(body, "application/x-www-form-urlencoded", {}), [first, second]))

    assert [response.status_code for response in responses] == [200, 200]
    wait_until(lambda: duplicates([first, second], "action") == 1, what="one replica to ignore the duplicate press")
    finished_report(slack_api, ts=ts, after=updates_before)
    assert not slack_api.calls("response_url"), "a duplicate press must be ignored, not answered with a busy notice"


def test_concurrent_rechecks_run_once(start_bots, slack_api: MockSlackAPI, sandbox: Sandbox, own_redis: RedisProcess) -> None:
    first, second = start_bots(2, redis_server=own_redis)
    first.command("check grafana-datasource", user=USER_EN)
    ts = first_post(slack_api).answer["ts"]
    run_id = finished_report(slack_api, ts=ts).button_value("otelbot_recheck")
    updates_before = len([call for call in slack_api.calls("chat.update") if call.args.get("ts") == ts])
    slow_route(sandbox, TEMPO_HEALTH, delay_s=1.5)

    # The same report's Recheck pressed on both replicas at the same moment.
    with ThreadPoolExecutor(max_workers=2) as pool:
        presses = list(pool.map(lambda pair: pair[0].press("otelbot_recheck", run_id, user=pair[1], message_ts=ts), [(first, USER_EN), (second, USER_KO)]))

    assert [press.status_code for press in presses] == [200, 200]
    busy = wait_until(lambda: slack_api.calls("response_url"), what="the busy notice to the second presser")
    assert len(busy) == 1
    assert "Checks are already running" in busy[0].text or "이미 실행 중" in busy[0].text
    rechecked = finished_report(slack_api, ts=ts, after=updates_before)
    assert "Rechecked by" in rechecked.text or "다시 확인했습니다" in rechecked.text
    finished = [call for call in slack_api.calls("chat.update")[updates_before:] if call.args.get("ts") == ts and "otelbot_recheck" in call.action_ids()]
    assert len(finished) == 1, "the second press must not start a second run"
    assert_every_key_has_ttl(own_redis)


def test_recheck_after_restart_updates_same_message(start_bots, slack_api: MockSlackAPI, own_redis: RedisProcess) -> None:
    (old,) = start_bots(1, redis_server=own_redis)
    old.command("check grafana-datasource", user=USER_EN)
    ts = first_post(slack_api).answer["ts"]
    run_id = finished_report(slack_api, ts=ts).button_value("otelbot_recheck")
    updates_before = len([call for call in slack_api.calls("chat.update") if call.args.get("ts") == ts])
    wait_until(lambda: old.metrics()["otelbot_diagnoses_in_flight{}"] == 0.0, what="the first run to store its results")

    old.kill()
    (new,) = start_bots(1, redis_server=own_redis)
    new.press("otelbot_recheck", run_id, user=USER_EN, message_ts=ts)

    rechecked = finished_report(slack_api, ts=ts, after=updates_before)
    assert "Rechecked by <@UENGLISH>" in rechecked.text
    assert rechecked.args["channel"] == CHANNEL_GENERAL
    assert rechecked.button_value("otelbot_recheck") == run_id
    assert not slack_api.calls("response_url"), "the recheck must not answer that the context expired"
    assert len([call for call in slack_api.calls("chat.postMessage") if call.answer.get("ok")]) == 1, "the recheck must update, not post"
    keys = assert_every_key_has_ttl(own_redis)
    kinds = {key.split(":")[2] for key in keys}
    assert {"claim", "run", "history"} <= kinds, f"expected claim, run and history keys, found kinds {sorted(kinds)}"
