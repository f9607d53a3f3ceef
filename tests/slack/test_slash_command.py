"""``/otel`` end to end: signed requests in, Web API calls out, against the sandbox and a real Prometheus."""

from __future__ import annotations

import re

import pytest

from tests.slack.conftest import CHANNEL_GENERAL, CHANNEL_OUTSIDE, USER_EN, USER_JA, USER_KO, final_report, reports
from tests.support.prometheus import PrometheusProcess
from tests.support.stack import set_prometheus_receiver_flag


def first_post(api, *, channel: str):
    return api.wait_for(
        lambda calls: next((call for call in calls if call.method == "chat.postMessage" and call.args.get("channel") == channel), None),
        what=f"a message posted in {channel}",
    )


def ephemeral(api):
    return api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="an ephemeral reply")


def test_why_reports_cause_then_recheck_shows_fix(make_bot, slack_api, without_receiver, prometheus_with_receiver: PrometheusProcess) -> None:
    bot = make_bot()

    response = bot.command("why no spanmetrics", user=USER_EN)

    assert response.status_code == 200
    post = first_post(slack_api, channel=CHANNEL_GENERAL)
    assert "thread_ts" not in post.args, "a slash command report starts its own thread"
    assert "Running" in post.text
    assert "checks" in post.text
    assert f"<@{USER_EN}>" in post.text
    ts = post.answer["ts"]

    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts)
    assert "Problem found" in report.text
    assert "remote-write-receiver-disabled" in report.text
    assert "templates/prometheus/deployment.yaml" in report.text
    assert "--web.enable-remote-write-receiver" in report.text
    assert "❌" in report.text
    assert report.action_ids()[:2] == ["otelbot_recheck", "otelbot_show_evidence"]
    run_id = report.button_value("otelbot_recheck")
    assert len(run_id) == 16
    assert all(call.answer.get("ok") for call in slack_api.calls() if call.method.startswith("chat."))

    set_prometheus_receiver_flag(without_receiver.cluster, enabled=True)
    without_receiver.route_service("prometheus", 9090, prometheus_with_receiver.url)
    updates_before = len(reports(slack_api, channel=CHANNEL_GENERAL, ts=ts))
    assert bot.press("otelbot_recheck", run_id, user=USER_KO, message_ts=ts).status_code == 200

    rechecked = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts, after=updates_before)
    assert "No problem found" in rechecked.text
    assert f"Rechecked by <@{USER_KO}>" in rechecked.text
    assert "<!date^" in rechecked.text
    assert "*Fixed:*" in rechecked.text
    assert "Prometheus Deployment args include --web.enable-remote-write-receiver" in rechecked.text.split("*Fixed:*")[1].split("\n")[0]
    assert "Still failing" not in rechecked.text
    assert "remote-write-receiver-disabled" not in rechecked.text
    assert rechecked.button_value("otelbot_recheck") == run_id
    progress = reports(slack_api, channel=CHANNEL_GENERAL, ts=ts)[updates_before]
    assert "Rechecking" in progress.text


def test_korean_user_gets_korean_report(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()

    bot.command("why 스팬메트릭이 안 나와요", user=USER_KO)

    post = first_post(slack_api, channel=CHANNEL_GENERAL)
    assert "실행 중" in post.text
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    assert "문제 발견" in report.text
    assert "Prometheus의 remote write 수신이 꺼져 있음" in report.text
    assert "다시 확인" in report.text


def test_bare_text_is_read_as_why(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()

    bot.command("no spanmetrics in prometheus", user=USER_EN)

    post = first_post(slack_api, channel=CHANNEL_GENERAL)
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    assert "spanmetrics-missing" in report.text


def test_unknown_subcommand_gets_help(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("frobnicate", user=USER_EN)

    reply = ephemeral(slack_api)
    assert reply.args["response_type"] == "ephemeral"
    assert "`frobnicate` is not a subcommand" in reply.text
    assert "/otel why <symptom>" in reply.text
    assert not slack_api.calls("chat.postMessage")


def test_help_in_korean_for_korean_locale(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("help", user=USER_KO)

    reply = ephemeral(slack_api)
    assert "읽기 전용 체크로" in reply.text
    assert "/otel why <증상>" in reply.text


def test_other_locale_gets_default_korean(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("", user=USER_JA)

    assert "읽기 전용 체크로" in ephemeral(slack_api).text


def test_missing_argument_says_what_to_add(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("check", user=USER_EN)

    reply = ephemeral(slack_api)
    assert "Add the playbook id after `check`" in reply.text


def test_list_shows_playbooks(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("list", user=USER_EN)

    reply = ephemeral(slack_api)
    assert "Playbooks (" in reply.text
    assert "`spanmetrics-missing`" in reply.text


def test_check_unknown_playbook(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("check no-such-playbook", user=USER_EN)

    assert "There is no playbook `no-such-playbook`" in ephemeral(slack_api).text


def test_check_runs_named_playbook(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()

    bot.command("check spanmetrics-missing", user=USER_EN)

    post = first_post(slack_api, channel=CHANNEL_GENERAL)
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    assert "remote-write-receiver-disabled" in report.text


def test_no_match_says_so(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("why 점심 메뉴 추천 받아요", user=USER_EN)

    assert "No playbook matches" in ephemeral(slack_api).text


def test_channel_without_bot_asks_for_invite(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()

    bot.command("why no spanmetrics", user=USER_EN, channel=CHANNEL_OUTSIDE)

    reply = ephemeral(slack_api)
    assert "/invite @otelbot" in reply.text


def test_show_evidence_posts_in_thread(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()
    bot.command("why no spanmetrics", user=USER_EN)
    ts = first_post(slack_api, channel=CHANNEL_GENERAL).answer["ts"]
    run_id = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts).button_value("otelbot_show_evidence")

    bot.press("otelbot_show_evidence", run_id, user=USER_KO, message_ts=ts)

    evidence = slack_api.wait_for(
        lambda calls: next((call for call in calls if call.method == "chat.postMessage" and call.args.get("thread_ts") == ts), None),
        what="the evidence in the report's thread",
    )
    assert "근거" in evidence.text
    assert "$ kubectl" in evidence.text
    assert "[실패," in evidence.text


def test_report_run_button_reports_in_thread(make_bot, slack_api, without_receiver) -> None:
    bot = make_bot()
    bot.command("why no spanmetrics", user=USER_EN)
    ts = first_post(slack_api, channel=CHANNEL_GENERAL).answer["ts"]
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=ts)
    run_buttons = [element for element in report.blocks[-1]["elements"] if element["action_id"].startswith("otelbot_run_playbook")]
    assert [element["action_id"] for element in run_buttons] == ["otelbot_run_playbook:0", "otelbot_run_playbook:1"]
    assert {element["value"] for element in run_buttons} == {report.button_value("otelbot_recheck")}
    other = run_buttons[1]

    bot.press(other["action_id"], other["value"], user=USER_KO, message_ts=ts)

    post = slack_api.wait_for(
        lambda calls: next((call for call in calls if call.method == "chat.postMessage" and call.args.get("thread_ts") == ts), None),
        what="the other playbook's report in the thread",
    )
    other_report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    assert other_report.button_value("otelbot_recheck") != other["value"], "the other playbook's run has a record of its own"
    playbook_id = re.search(r"플레이북: `([a-z0-9-]+)`", other_report.text)
    assert playbook_id is not None, "the report is in the language of who pressed Run"
    assert playbook_id.group(1) != "spanmetrics-missing"
    assert f"<@{USER_KO}>" in other_report.text

    replies = len(slack_api.calls("response_url"))
    bot.press(other["action_id"], other["value"], user=USER_KO, message_ts=ts)
    again = slack_api.wait_for(lambda calls: slack_api.calls("response_url")[replies:] or None, what="the already-started notice")[0]
    assert "이미" in again.text


@pytest.mark.parametrize("value", ["deadbeef", "0123456789abcdef", "../../etc/passwd" * 20])
def test_unknown_run_id_runs_nothing(make_bot, slack_api, value: str) -> None:
    bot = make_bot()

    bot.press("otelbot_recheck", value, user=USER_EN, message_ts="1700000000.000001")

    reply = ephemeral(slack_api)
    assert "no longer have the context of this button" in reply.text
    assert not slack_api.calls("chat.update")
    assert not slack_api.calls("chat.postMessage")


def test_query_list_names_the_queries(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("query list", user=USER_EN)

    reply = ephemeral(slack_api)
    assert "request-rate" in reply.text
    assert "error-rate" in reply.text


def test_query_runs_against_prometheus(make_bot, slack_api, sandbox, prometheus_with_receiver: PrometheusProcess) -> None:
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    bot = make_bot()

    bot.command("query request-rate user-service", user=USER_KO)

    reply = ephemeral(slack_api)
    assert "user-service" in reply.text
    assert "```" in reply.text


def test_unknown_query_says_why(make_bot, slack_api) -> None:
    bot = make_bot()

    bot.command("query no-such-query", user=USER_EN)

    reply = ephemeral(slack_api)
    assert "Could not run query `no-such-query`" in reply.text
    assert "unknown query" in reply.text
