"""The /otel grammar, pure: text in, request out."""

from __future__ import annotations

import pytest

from bot.slack.commands import Subcommand, parse_request, strip_mentions, unescape
from bot.slack.locale import lang_from_locale


@pytest.mark.parametrize(
    ("text", "subcommand", "field", "value"),
    [
        ("why no spanmetrics", Subcommand.WHY, "text", "no spanmetrics"),
        ("WHY  no   spanmetrics ", Subcommand.WHY, "text", "no spanmetrics"),
        ("check spanmetrics-missing", Subcommand.CHECK, "playbook_id", "spanmetrics-missing"),
        ("check app-no-traces user-service", Subcommand.CHECK, "text", "user-service"),
        ("list", Subcommand.LIST, "text", ""),
        ("query red user-service", Subcommand.QUERY, "service", "user-service"),
        ("query red", Subcommand.QUERY, "query_name", "red"),
        ("help", Subcommand.HELP, "problem", ""),
        ("도움말", Subcommand.HELP, "problem", ""),
        ("", Subcommand.HELP, "problem", ""),
        ("why", Subcommand.HELP, "problem", "symptom"),
        ("check", Subcommand.HELP, "problem", "playbook"),
        ("query", Subcommand.HELP, "problem", "query"),
    ],
)
def test_parse_request(text: str, subcommand: Subcommand, field: str, value: str) -> None:
    request = parse_request(text)

    assert request.subcommand is subcommand
    assert getattr(request, field) == value


def test_bare_text_is_implicit_why() -> None:
    request = parse_request("스팬메트릭이 안 나와요")

    assert request.subcommand is Subcommand.WHY
    assert request.implicit
    assert request.text == "스팬메트릭이 안 나와요"


def test_mention_is_stripped_before_parsing() -> None:
    request = parse_request("<@U0BOT> why no spanmetrics <@U0BOT|otelbot>")

    assert request.subcommand is Subcommand.WHY
    assert request.text == "no spanmetrics"


def test_slack_escaping_is_undone() -> None:
    assert unescape("a &lt;b&gt; &amp;amp; <https://grafana.example/d/x|dashboard>") == "a <b> &amp; https://grafana.example/d/x"
    assert strip_mentions("  <@U1>   hi  <@U2>") == "hi"


@pytest.mark.parametrize(("locale", "expected"), [("ko-KR", "ko"), ("en-US", "en"), ("en-GB", "en"), ("ja-JP", "ko"), ("", "ko"), ("KO", "ko")])
def test_lang_from_locale(locale: str, expected: str) -> None:
    assert lang_from_locale(locale, "ko") == expected
