"""Mentions reply in the thread; incident channels get suggestions above the threshold, once per thread.

Silence is checked after a later message in the same channel got its reply: the bot handles
events as they arrive, and the silent path does strictly less work than the replying one.
"""

from __future__ import annotations

from tests.slack.conftest import CHANNEL_GENERAL, CHANNEL_INCIDENT, USER_EN, USER_KO, final_report

SYMPTOM_KO = "스팬메트릭이 안 나와요"
OFFTOPIC_KO = "점심 먹으러 가실 분"


def replies_in(api, thread_ts: str) -> list:
    return [call for call in api.calls("chat.postMessage") if call.args.get("thread_ts") == thread_ts]


def wait_reply(api, thread_ts: str):
    return api.wait_for(lambda calls: replies_in(api, thread_ts), what=f"a reply in thread {thread_ts}")[0]


def test_mention_reports_in_thread(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()
    ts = "1800000001.000100"

    bot.event({"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": ts, "text": "<@U0BOT> why no spanmetrics"})

    post = wait_reply(slack_api, ts)
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    assert "remote-write-receiver-disabled" in report.text
    assert f"Requested by <@{USER_EN}>: no spanmetrics" in report.text


def test_mention_inside_thread_replies_there(make_bot, slack_api) -> None:
    bot = make_bot()
    root, ts = "1800000002.000100", "1800000002.000200"

    bot.event({"type": "app_mention", "user": USER_KO, "channel": CHANNEL_GENERAL, "ts": ts, "thread_ts": root, "text": "<@U0BOT> list"})

    reply = wait_reply(slack_api, root)
    assert "플레이북" in reply.text
    assert "`spanmetrics-missing`" in reply.text


def test_mention_unknown_subcommand_gets_help(make_bot, slack_api) -> None:
    bot = make_bot()
    ts = "1800000003.000100"

    bot.event({"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": ts, "text": "<@U0BOT> frobnicate"})

    assert "/otel why <symptom>" in wait_reply(slack_api, ts).text


def test_redelivered_event_is_handled_once(make_bot, slack_api) -> None:
    bot = make_bot()
    ts = "1800000004.000100"
    event = {"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": ts, "text": "<@U0BOT> help"}

    bot.event(event, event_id="EvSAME0001")
    bot.event(event, event_id="EvSAME0001")
    bot.event({**event, "ts": "1800000004.000200"}, event_id="EvOTHER001")

    wait_reply(slack_api, "1800000004.000200")
    wait_reply(slack_api, ts)
    assert len(replies_in(slack_api, ts)) == 1


def test_korean_symptom_gets_korean_suggestion(make_bot, slack_api) -> None:
    bot = make_bot()

    ts, response = bot.message(SYMPTOM_KO, user=USER_KO)

    assert response.status_code == 200
    suggestion = wait_reply(slack_api, ts)
    assert "읽기 전용 체크를 실행할까요?" in suggestion.text
    assert "`spanmetrics-missing`" in suggestion.text
    assert suggestion.action_ids() == ["otelbot_run_playbook:0"]
    assert "체크 실행" in suggestion.text
    assert slack_api.calls("conversations.info")[0].args["channel"] == CHANNEL_INCIDENT


def test_offtopic_message_gets_nothing(make_bot, slack_api) -> None:
    bot = make_bot()

    quiet_ts, _ = bot.message(OFFTOPIC_KO, user=USER_KO)
    later_ts, _ = bot.message(SYMPTOM_KO, user=USER_KO)

    wait_reply(slack_api, later_ts)
    assert replies_in(slack_api, quiet_ts) == []


def test_bot_and_edited_messages_are_ignored(make_bot, slack_api) -> None:
    bot = make_bot()

    from_bot, _ = bot.message(SYMPTOM_KO, user="UOTHERBOT", bot_id="B0OTHER")
    edited, _ = bot.message(SYMPTOM_KO, subtype="message_changed")
    own, _ = bot.message(SYMPTOM_KO, user="U0BOT")
    later_ts, _ = bot.message(SYMPTOM_KO, user=USER_KO)

    wait_reply(slack_api, later_ts)
    for ts in (from_bot, edited, own):
        assert replies_in(slack_api, ts) == []


def test_same_playbook_not_suggested_twice_in_thread(make_bot, slack_api) -> None:
    bot = make_bot()
    root, _ = bot.message(SYMPTOM_KO, user=USER_KO)
    wait_reply(slack_api, root)

    bot.message("아직도 스팬 메트릭이 없어요", user=USER_EN, thread_ts=root)
    other_root, _ = bot.message(SYMPTOM_KO, user=USER_KO)

    wait_reply(slack_api, other_root)
    assert len(replies_in(slack_api, root)) == 1


def test_channel_outside_the_list_is_silent(make_bot, slack_api) -> None:
    bot = make_bot()

    quiet_ts, _ = bot.message(SYMPTOM_KO, user=USER_KO, channel=CHANNEL_GENERAL)
    later_ts, _ = bot.message(SYMPTOM_KO, user=USER_KO)

    wait_reply(slack_api, later_ts)
    assert replies_in(slack_api, quiet_ts) == []


def test_run_checks_button_turns_suggestion_into_report(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()
    ts, _ = bot.message(SYMPTOM_KO, user=USER_KO)
    suggestion = wait_reply(slack_api, ts)
    run_id = suggestion.button_value("otelbot_run_playbook:0")

    bot.press("otelbot_run_playbook:0", run_id, user=USER_EN, channel=CHANNEL_INCIDENT, message_ts=suggestion.answer["ts"])

    report = final_report(slack_api, channel=CHANNEL_INCIDENT, ts=suggestion.answer["ts"])
    assert "Problem found" in report.text, "the report is in the language of who pressed Run"
    assert "remote-write-receiver-disabled" in report.text

    bot.press("otelbot_run_playbook:0", run_id, user=USER_EN, channel=CHANNEL_INCIDENT, message_ts=suggestion.answer["ts"])
    again = slack_api.wait_for(lambda calls: next((c for c in calls if c.method == "response_url"), None), what="the already-started notice")
    assert "already started" in again.text


def test_auto_mode_runs_checks_at_once(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot(incident_mode="auto")

    ts, _ = bot.message(SYMPTOM_KO, user=USER_KO)

    post = wait_reply(slack_api, ts)
    assert "실행 중" in post.text
    report = final_report(slack_api, channel=CHANNEL_INCIDENT, ts=post.answer["ts"])
    assert "Prometheus의 remote write 수신이 꺼져 있음" in report.text


def test_incident_channel_by_id(make_bot, slack_api) -> None:
    bot = make_bot(incident_channels=[CHANNEL_GENERAL])

    ts, _ = bot.message(SYMPTOM_KO, user=USER_KO, channel=CHANNEL_GENERAL)

    assert "`spanmetrics-missing`" in wait_reply(slack_api, ts).text
    assert not slack_api.calls("conversations.info")


def test_ambiguous_mention_offers_choices(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot(matching={"ambiguity_margin": 1.0})
    ts = "1800000005.000100"

    bot.event({"type": "app_mention", "user": USER_KO, "channel": CHANNEL_GENERAL, "ts": ts, "text": f"<@U0BOT> {SYMPTOM_KO}"})

    question = wait_reply(slack_api, ts)
    assert "어느 쪽을 확인할까요?" in question.text
    assert 2 <= len(question.action_ids()) <= 3
    assert question.action_ids() == [f"otelbot_run_playbook:{index}" for index in range(len(question.action_ids()))]
    assert "otelbot_recheck" not in question.action_ids(), "an ambiguous match runs nothing until someone chooses"
    first = question.blocks[-1]["elements"][0]
    assert "스팬 메트릭" in first["text"]["text"]

    bot.press(first["action_id"], first["value"], user=USER_KO, message_ts=question.answer["ts"])

    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=question.answer["ts"])
    assert "Prometheus의 remote write 수신이 꺼져 있음" in report.text

    second = question.blocks[-1]["elements"][1]
    assert second["value"] == first["value"], "the buttons of one question name one stored record"
    bot.press(second["action_id"], second["value"], user=USER_KO, message_ts=question.answer["ts"])
    again = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="the already-started notice")
    assert "이미 시작" in again.text, "the question's message already became the first choice's report"
