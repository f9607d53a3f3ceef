"""Who may use the bot, where and how often: the access middleware in front of every listener.

Each test starts the real Slack app with ``access`` settings and sends signed requests. A refused
slash command gets its ephemeral reply as the HTTP response itself, so the test can check at once
that nothing else happened: no message posted, no request to the cluster.
"""

from __future__ import annotations

import httpx
import pytest

from tests.security.conftest import (
    CHANNEL_DM,
    CHANNEL_GENERAL,
    CHANNEL_GROUP_DM,
    CHANNEL_INCIDENT,
    CHANNEL_OPS,
    USER_EN,
    USER_KO,
    USER_OTHER,
    USERGROUP_ONCALL,
)
from tests.slack.conftest import final_report
from tests.support.redis import RedisProcess

SYMPTOM = "why remote write returns 401 Unauthorized"


def refusal_text(response: httpx.Response) -> str:
    """Return the text of an ephemeral reply sent as the acknowledgement of a slash command."""
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


def served_list(slack_api, *, count: int = 1) -> None:
    """Wait until ``count`` replies to ``/otel list`` arrived through the response_url."""
    slack_api.wait_for(
        lambda calls: len([call for call in calls if call.method == "response_url" and "/otel check" in call.text]) >= count or None,
        what=f"{count} replies to /otel list",
    )


def assert_nothing_ran(slack_api, sandbox, requests_before: int) -> None:
    assert slack_api.calls("chat.postMessage") == []
    assert slack_api.calls("chat.update") == []
    assert len(sandbox.cluster.requests) == requests_before


@pytest.mark.parametrize(
    "user,expected",
    [(USER_EN, "I'm not enabled in this channel"), (USER_KO, "이 채널에서는 사용할 수 없습니다")],
)
def test_channel_not_allowed(start_bot, slack_api, sandbox, user: str, expected: str) -> None:
    bot = start_bot(access={"allowed_channels": ["inc-*", CHANNEL_OPS]})
    before = len(sandbox.cluster.requests)

    response = bot.command(SYMPTOM, user=user, channel=CHANNEL_GENERAL)

    assert expected in refusal_text(response)
    assert "access.allowed_channels" in refusal_text(response)
    assert_nothing_ran(slack_api, sandbox, before)


def test_channel_allowed_by_pattern_and_id(start_bot, slack_api) -> None:
    bot = start_bot(access={"allowed_channels": ["#inc-*", CHANNEL_OPS]})

    by_pattern = bot.command("list", channel=CHANNEL_INCIDENT)
    by_id = bot.command("list", channel=CHANNEL_OPS)

    assert by_pattern.status_code == 200
    assert by_pattern.text == ""
    assert by_id.text == ""
    served_list(slack_api, count=2)


def test_empty_lists_allow_everyone(start_bot, slack_api) -> None:
    bot = start_bot()

    responses = [bot.command("list", user=user, channel=channel) for user, channel in [(USER_EN, CHANNEL_GENERAL), (USER_OTHER, CHANNEL_OPS)]]

    assert [response.text for response in responses] == ["", ""]
    served_list(slack_api, count=2)


@pytest.mark.parametrize(
    "channel,channel_name",
    [(CHANNEL_DM, "directmessage"), (CHANNEL_GROUP_DM, "mpdm-ukorean--uenglish-1")],
    ids=["direct-message", "group-dm"],
)
def test_direct_message_refused_by_default(start_bot, slack_api, sandbox, channel: str, channel_name: str) -> None:
    bot = start_bot()
    before = len(sandbox.cluster.requests)

    english = bot.command(SYMPTOM, user=USER_EN, channel=channel, channel_name=channel_name)
    korean = bot.command(SYMPTOM, user=USER_KO, channel=channel, channel_name=channel_name)

    assert "I don't answer in direct messages" in refusal_text(english)
    assert "DM에서는 답하지 않습니다" in refusal_text(korean)
    assert_nothing_ran(slack_api, sandbox, before)


def test_direct_message_served_when_enabled(start_bot, slack_api) -> None:
    # allowed_channels does not apply to direct messages once serve_dms is true.
    bot = start_bot(access={"serve_dms": True, "allowed_channels": [CHANNEL_OPS]})

    response = bot.command("list", channel=CHANNEL_DM, channel_name="directmessage")

    assert response.text == ""
    served_list(slack_api)


def test_group_dm_found_by_channel_lookup(start_bot, slack_api) -> None:
    # A mention carries no channel type; conversations.info reports is_mpim for the group DM.
    bot = start_bot(access={"allowed_channels": ["mpdm-*"]})

    bot.event({"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GROUP_DM, "ts": "1800000000.000200", "text": f"<@U0BOT> {SYMPTOM}"})

    refused = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postEphemeral"), None), what="the refusal")
    assert "I don't answer in direct messages" in refused.text
    assert [call.args["channel"] for call in slack_api.calls("conversations.info")] == [CHANNEL_GROUP_DM]
    assert slack_api.calls("chat.postMessage") == []


def test_user_not_allowed(start_bot, slack_api, sandbox) -> None:
    bot = start_bot(access={"allowed_users": [USER_KO]})
    before = len(sandbox.cluster.requests)

    refused = bot.command(SYMPTOM, user=USER_EN)
    served = bot.command("list", user=USER_KO)

    assert "you are not on my list of users" in refusal_text(refused)
    assert served.text == ""
    served_list(slack_api)
    assert_nothing_ran(slack_api, sandbox, before)


def test_usergroup_members_allowed_and_cached(start_bot, slack_api) -> None:
    bot = start_bot(access={"allowed_usergroups": [USERGROUP_ONCALL]})

    first = bot.command("list", user=USER_KO)
    second = bot.command("list", user=USER_KO)
    outsider = bot.command("list", user=USER_EN)

    assert first.text == ""
    assert second.text == ""
    assert "you are not on my list of users" in refusal_text(outsider)
    served_list(slack_api, count=2)
    lookups = slack_api.calls("usergroups.users.list")
    assert [call.args["usergroup"] for call in lookups] == [USERGROUP_ONCALL]


def test_unknown_usergroup_refuses(start_bot, slack_api, caplog: pytest.LogCaptureFixture) -> None:
    bot = start_bot(access={"allowed_usergroups": ["SGONE0001"]})

    response = bot.command("list", user=USER_KO)

    assert "목록에 없는 사용자" in refusal_text(response)
    assert "could not read the members of user group SGONE0001" in caplog.text
    assert "no_such_subteam" in caplog.text


def test_mention_refused_ephemeral(start_bot, slack_api, sandbox) -> None:
    bot = start_bot(access={"allowed_users": [USER_KO]})
    before = len(sandbox.cluster.requests)

    response = bot.event(
        {"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": "1800000000.000100", "thread_ts": "1800000000.000001", "text": f"<@U0BOT> {SYMPTOM}"}
    )

    assert response.status_code == 200
    refusal = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postEphemeral"), None), what="the ephemeral refusal")
    assert refusal.args["user"] == USER_EN
    assert refusal.args["channel"] == CHANNEL_GENERAL
    assert refusal.args["thread_ts"] == "1800000000.000001"
    assert "you are not on my list of users" in refusal.text
    assert_nothing_ran(slack_api, sandbox, before)


def test_button_press_by_other_user_refused(start_bot, slack_api, sandbox) -> None:
    bot = start_bot(access={"allowed_users": [USER_KO]})
    bot.command("why no spanmetrics", user=USER_KO)
    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    updates = len(slack_api.calls("chat.update"))
    before = len(sandbox.cluster.requests)

    bot.press("otelbot_recheck", report.button_value("otelbot_recheck"), user=USER_EN, message_ts=post.answer["ts"])

    refusal = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="the refusal")
    assert refusal.args["response_type"] == "ephemeral"
    assert refusal.args["replace_original"] is False
    assert "you are not on my list of users" in refusal.text
    assert len(slack_api.calls("chat.update")) == updates
    assert len(sandbox.cluster.requests) == before


def test_channel_message_from_other_user_ignored(start_bot, slack_api) -> None:
    bot = start_bot(access={"allowed_users": [USER_EN]})

    bot.message("remote write 401 Unauthorized from the collector", user=USER_KO, channel=CHANNEL_INCIDENT)
    bot.message("remote write 401 Unauthorized from the collector", user=USER_EN, channel=CHANNEL_INCIDENT)

    suggestion = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the suggestion")
    assert suggestion.args["channel"] == CHANNEL_INCIDENT
    assert len(slack_api.calls("chat.postMessage")) == 1
    assert slack_api.calls("chat.postEphemeral") == []


def test_passive_listening_only_incident_channels(start_bot, slack_api) -> None:
    bot = start_bot(access={"allowed_channels": [CHANNEL_GENERAL, "inc-*"]})

    bot.message("remote write 401 Unauthorized from the collector", user=USER_EN, channel=CHANNEL_GENERAL)
    bot.message("remote write 401 Unauthorized from the collector", user=USER_EN, channel=CHANNEL_INCIDENT)

    suggestion = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the suggestion")
    assert suggestion.args["channel"] == CHANNEL_INCIDENT
    assert len(slack_api.calls("chat.postMessage")) == 1


def test_incident_channel_outside_allowed_ignored(start_bot, slack_api) -> None:
    bot = start_bot(access={"allowed_channels": [CHANNEL_GENERAL]})

    bot.message("remote write 401 Unauthorized from the collector", user=USER_EN, channel=CHANNEL_INCIDENT)
    served = bot.command("list", channel=CHANNEL_GENERAL)

    assert served.text == ""
    served_list(slack_api)
    assert slack_api.calls("chat.postMessage") == []


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_user_rate_limit(start_bot, slack_api, request: pytest.FixtureRequest, store: str) -> None:
    state = {"redis_url": request.getfixturevalue("redis").url} if store == "redis" else {}
    bot = start_bot(access={"rate_limit_user_per_minute": 2, "rate_limit_channel_per_minute": 0}, state=state)

    served = [bot.command("list", user=USER_EN) for _ in range(2)]
    over = bot.command("list", user=USER_EN)
    korean_over = [bot.command("list", user=USER_KO) for _ in range(3)][-1]
    other = bot.command("list", user=USER_OTHER)

    assert [response.text for response in served] == ["", ""]
    assert "my limit of 2 requests per minute per person" in refusal_text(over)
    assert "요청 2개를 넘었습니다" in refusal_text(korean_over)
    assert other.text == ""
    served_list(slack_api, count=5)


def test_channel_rate_limit(start_bot, slack_api, redis: RedisProcess) -> None:
    bot = start_bot(access={"rate_limit_user_per_minute": 0, "rate_limit_channel_per_minute": 2}, state={"redis_url": redis.url})

    served = [bot.command("list", user=user, channel=CHANNEL_OPS) for user in (USER_EN, USER_KO)]
    over = bot.command("list", user=USER_OTHER, channel=CHANNEL_OPS)
    elsewhere = bot.command("list", user=USER_OTHER, channel=CHANNEL_GENERAL)

    assert [response.text for response in served] == ["", ""]
    assert "This channel has reached my limit of 2 requests per minute" in refusal_text(over)
    assert elsewhere.text == ""
    served_list(slack_api, count=3)
