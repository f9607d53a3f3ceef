"""What people send is untrusted: symptom text, workload and service names, button values, requests.

Symptom text is cleaned on every Slack entry point before any listener sees it; names are
Kubernetes names before they reach an API path or PromQL; a button runs only the stored run of
its own channel; and in HTTP mode Slack's signature and timestamp are verified.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import redis as redis_client
from typer.testing import CliRunner

from bot.cli import app
from bot.config import REPO_QUERIES
from bot.errors import ConfigError
from bot.queries import load_queries, prepare_query
from tests.security.conftest import CHANNEL_GENERAL, CHANNEL_INCIDENT, USER_EN, USER_KO
from tests.slack.conftest import final_report
from tests.support.redis import RedisProcess

TOKEN = "xoxb-901234567890-pastedTokenAbcdefgh"
MAX_TEXT = 120
# Control (C0, C1) and invisible formatting characters that clean_request_text removes.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
# Everything after the first MAX_TEXT characters is cut before matching.
DIRTY = f"spanmetrics\x07 missing\x1b[31m \u202egnirts\u202c token={TOKEN} " + "padding " * 600


def run_records(server: RedisProcess) -> list[dict]:
    client = redis_client.Redis(host="127.0.0.1", port=server.port)
    try:
        return [json.loads(client.get(name)) for name in client.scan_iter("otelbot:v1:run:*")]
    finally:
        client.close()


def assert_clean(text: str) -> None:
    assert TOKEN not in text
    assert "pastedTokenAbcdefgh" not in text
    assert CONTROL.search(text) is None
    assert len(text) <= MAX_TEXT


def posted_texts(slack_api) -> list[str]:
    return [call.text for call in slack_api.calls() if call.method in ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url")]


# Symptom text on every Slack entry point.


def test_command_text_cleaned(start_bot, slack_api, redis: RedisProcess) -> None:
    bot = start_bot(matching={"max_text_chars": MAX_TEXT}, state={"redis_url": redis.url})

    bot.command(f"check spanmetrics-missing {DIRTY}", user=USER_EN)

    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    records = run_records(redis)
    assert records
    for record in records:
        assert_clean(record["query"])
        assert "[redacted sha256:" in record["query"]
    for text in posted_texts(slack_api):
        assert TOKEN not in text
        assert CONTROL.search(text) is None


def test_mention_text_cleaned(start_bot, slack_api, redis: RedisProcess) -> None:
    bot = start_bot(matching={"max_text_chars": MAX_TEXT}, state={"redis_url": redis.url})

    bot.event({"type": "app_mention", "user": USER_KO, "channel": CHANNEL_GENERAL, "ts": "1800000000.000300", "text": f"<@U0BOT> check spanmetrics-missing {DIRTY}"})

    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    assert post.args["thread_ts"] == "1800000000.000300"
    final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    records = run_records(redis)
    assert records
    for record in records:
        assert_clean(record["query"])
    for text in posted_texts(slack_api):
        assert TOKEN not in text


def test_incident_message_text_cleaned(start_bot, slack_api, redis: RedisProcess) -> None:
    # The junk in the message lowers the match score, so the suggestion threshold is lowered too.
    bot = start_bot(matching={"max_text_chars": MAX_TEXT}, state={"redis_url": redis.url}, slack={"incident_threshold": 0.3})

    bot.message(f"why no spanmetrics in prometheus {DIRTY}", user=USER_EN, channel=CHANNEL_INCIDENT)

    suggestion = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the suggestion")
    assert suggestion.args["channel"] == CHANNEL_INCIDENT
    records = run_records(redis)
    assert records
    for record in records:
        assert_clean(record["query"])
    for text in posted_texts(slack_api):
        assert TOKEN not in text


def test_cli_text_cleaned(run_cli) -> None:
    result = run_cli("diagnose", f"why no spanmetrics {DIRTY}", "--playbook", "spanmetrics-missing", "--json")

    assert result.exit_code in (0, 1, 3), result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert CONTROL.search(result.json["query"]) is None
    assert len(result.json["query"]) <= 2000


def test_cli_no_match_echo_cleaned(run_cli) -> None:
    result = run_cli("diagnose", f"\x1b[2J tell me a joke token={TOKEN}")

    assert result.exit_code == 2
    assert TOKEN not in result.stdout + result.stderr
    assert "\x1b" not in result.stderr
    assert "[redacted sha256:" in result.stderr


# Workload and service names.


@pytest.mark.parametrize(
    "service",
    ['user-service"} or vector(1) #', "user-service|.*", "../../api/v1/namespaces", "User_Service", "user-service\n", "a" * 300 + ".b"],
)
def test_query_service_must_be_kubernetes_name(service: str) -> None:
    with pytest.raises(ConfigError, match="invalid service"):
        prepare_query(load_queries(REPO_QUERIES), "request-rate", service=service, window=None, max_window="31d")


def test_query_service_is_exact_matcher() -> None:
    prepared = prepare_query(load_queries(REPO_QUERIES), "request-rate", service="user-service", window=None, max_window="31d")

    assert 'service_name=~"user-service"' in prepared.promql


def test_slack_query_rejects_injection(start_bot, slack_api, sandbox) -> None:
    bot = start_bot()

    bot.command('query request-rate user-service"}or(vector(1))', user=USER_EN)

    reply = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="the query reply")
    assert "invalid service" in reply.text
    assert [path for _, path in sandbox.backends["prometheus"].requests if "/api/v1/query" in path] == []


def test_cli_workload_must_be_kubernetes_name(run_cli, sandbox) -> None:
    result = run_cli("diagnose", "app sends no traces", "--playbook", "app-no-traces", "--workload", 'user-service"} or vector(1)', "--lang", "en")

    assert result.exit_code == 2
    assert "invalid workload" in result.stderr
    assert [request.path for request in sandbox.cluster.requests if "vector" in request.path + request.query] == []


def test_slack_workload_reaches_reads_as_name(start_bot, slack_api, sandbox) -> None:
    # Only a Kubernetes name is taken from the text: the quote and what follows never reach a read.
    bot = start_bot()

    bot.command('check app-context-propagation user-service"} || { true }', user=USER_EN)

    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    reads = [request.path + "?" + request.query for request in sandbox.cluster.requests]
    reads += [path for backend in sandbox.backends.values() for _, path in backend.requests]
    assert any("user-service" in read for read in reads)
    assert [read for read in reads if "true" in read or "%7C%7C" in read] == []


def test_slack_invalid_workload_runs_nothing(start_bot, slack_api, sandbox) -> None:
    bot = start_bot()
    before = len(sandbox.cluster.requests)

    bot.command("check app-no-traces User_Service", user=USER_EN)

    reply = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="the notice")
    assert "needs a workload" in reply.text
    assert slack_api.calls("chat.postMessage") == []
    assert len(sandbox.cluster.requests) == before


# Button values.


def report_run_id(bot, slack_api) -> tuple[str, str]:
    """Run a diagnosis in the general channel; return its report's ts and Recheck run id."""
    bot.command("why no spanmetrics", user=USER_EN, channel=CHANNEL_GENERAL)
    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    return post.answer["ts"], report.button_value("otelbot_recheck")


def press_and_expect_nothing(
    bot, slack_api, sandbox, value: str, *, channel: str, message_ts: str = "1700000000.000001", action_id: str = "otelbot_recheck"
) -> str:
    """Press the button ``action_id`` with ``value``; return the ephemeral reply and check that nothing ran."""
    updates = len(slack_api.calls("chat.update"))
    posts = len(slack_api.calls("chat.postMessage"))
    replies = len(slack_api.calls("response_url"))
    reads = len(sandbox.cluster.requests)

    bot.press(action_id, value, user=USER_EN, channel=channel, message_ts=message_ts)

    reply = slack_api.wait_for(lambda calls: slack_api.calls("response_url")[replies:] or None, what="the button reply")[0]
    assert reply.args["response_type"] == "ephemeral"
    assert len(slack_api.calls("chat.update")) == updates
    assert len(slack_api.calls("chat.postMessage")) == posts
    assert len(sandbox.cluster.requests) == reads
    return reply.text


@pytest.mark.parametrize("value", ["0123456789abcdef", "ffffffffffffffff", "../../etc/passwd", "x" * 3000, ""], ids=["unknown", "unknown-2", "path", "long", "empty"])
def test_forged_button_runs_nothing(start_bot, slack_api, sandbox, value: str) -> None:
    bot = start_bot()

    text = press_and_expect_nothing(bot, slack_api, sandbox, value, channel=CHANNEL_GENERAL)

    assert "no longer have the context of this button" in text


def test_expired_button_runs_nothing(start_bot, slack_api, sandbox, redis: RedisProcess) -> None:
    bot = start_bot(state={"redis_url": redis.url})
    ts, run_id = report_run_id(bot, slack_api)
    client = redis_client.Redis(host="127.0.0.1", port=redis.port)
    try:
        assert client.delete(f"otelbot:v1:run:{run_id}") == 1
    finally:
        client.close()

    text = press_and_expect_nothing(bot, slack_api, sandbox, run_id, channel=CHANNEL_GENERAL, message_ts=ts)

    assert "no longer have the context of this button" in text


@pytest.mark.parametrize("action_id", ["otelbot_run_playbook:2", "otelbot_run_playbook:99", "otelbot_run_playbook"])
def test_run_button_without_choice_runs_nothing(start_bot, slack_api, sandbox, redis: RedisProcess, action_id: str) -> None:
    # The report offers two other playbooks (choices 0 and 1). Its run record is the only one
    # stored until a Run button is pressed; a forged choice or the bare action id starts nothing.
    bot = start_bot(state={"redis_url": redis.url})
    ts, run_id = report_run_id(bot, slack_api)
    client = redis_client.Redis(host="127.0.0.1", port=redis.port)
    try:
        assert [name.decode() for name in client.scan_iter("otelbot:v1:run:*")] == [f"otelbot:v1:run:{run_id}"]
    finally:
        client.close()

    text = press_and_expect_nothing(bot, slack_api, sandbox, run_id, channel=CHANNEL_GENERAL, message_ts=ts, action_id=action_id)

    assert "no longer have the context of this button" in text


def test_foreign_run_button_runs_nothing(start_bot, slack_api, sandbox) -> None:
    bot = start_bot()
    ts, run_id = report_run_id(bot, slack_api)

    text = press_and_expect_nothing(bot, slack_api, sandbox, run_id, channel=CHANNEL_INCIDENT, message_ts=ts, action_id="otelbot_run_playbook:0")

    assert "belongs to a report in another channel" in text


def test_foreign_button_runs_nothing(start_bot, slack_api, sandbox) -> None:
    bot = start_bot()
    ts, run_id = report_run_id(bot, slack_api)

    text = press_and_expect_nothing(bot, slack_api, sandbox, run_id, channel=CHANNEL_INCIDENT, message_ts=ts)

    assert "belongs to a report in another channel" in text


def test_own_channel_button_runs(start_bot, slack_api) -> None:
    # The positive case of the checks above: the same press in the report's channel rechecks.
    bot = start_bot()
    ts, run_id = report_run_id(bot, slack_api)
    updates = len(slack_api.calls("chat.update"))

    bot.press("otelbot_recheck", run_id, user=USER_EN, channel=CHANNEL_GENERAL, message_ts=ts)

    rechecked = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts, after=updates)
    assert "Rechecked by" in rechecked.text


# Request signatures.


@pytest.mark.parametrize(
    "secret,age_s",
    [("test-signing-secret", 600), ("test-signing-secret", -600), ("wrong-secret", 0)],
    ids=["replayed-old", "from-the-future", "wrong-secret"],
)
def test_unverified_request_rejected(start_bot, slack_api, sandbox, secret: str, age_s: int) -> None:
    bot = start_bot()
    reads = len(sandbox.cluster.requests)
    body = f"command=%2Fotel&text=why+no+spanmetrics&user_id={USER_EN}&channel_id={CHANNEL_GENERAL}&response_url=http%3A%2F%2F127.0.0.1%3A1%2Fr".encode()

    response = bot.send(body, "application/x-www-form-urlencoded", secret=secret, timestamp=int(time.time()) - age_s)

    assert response.status_code == 401
    assert slack_api.calls("chat.postMessage") == []
    assert slack_api.calls("response_url") == []
    assert len(sandbox.cluster.requests) == reads


def test_unsigned_request_rejected(start_bot, slack_api) -> None:
    bot = start_bot()

    response = bot._http.post(f"{bot.base_url}/slack/events", content=b"command=%2Fotel&text=list", headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert response.status_code == 401
    assert slack_api.calls("response_url") == []


def test_http_mode_keeps_verification_on(start_bot) -> None:
    bot = start_bot()

    response = bot.send(b"command=%2Fotel&text=list&user_id=U1&channel_id=C1", "application/x-www-form-urlencoded", secret="test-signing-secret")

    assert response.status_code == 200
