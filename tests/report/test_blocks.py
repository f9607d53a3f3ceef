"""The Block Kit report: every message stays within Slack's limits, whatever the evidence."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from slack_sdk.models.blocks import Block

from bot.checks.base import CheckStatus, Evidence
from bot.diagnosis import CauseFinding, Diagnosis, Finding, Verdict
from bot.i18n import LocalizedText
from bot.report.blocks import (
    MAX_BLOCKS,
    MAX_THREAD_MESSAGES,
    TEXT_MAX,
    Alternative,
    Changes,
    ReportContext,
    compare_statuses,
    escape,
    evidence_document,
    fit_text,
    render_evidence,
    render_progress,
    render_report,
)

RUN_ID = "0123456789abcdef"


def text(value: str) -> LocalizedText:
    return LocalizedText(ko=value, en=value)


def diagnosis(*, checks: int = 3, evidence_chars: int = 40, patch_lines: int = 5, causes: int = 1) -> Diagnosis:
    findings = [
        Finding(
            f"check-{number}",
            text(f"Check number {number} <with> & markup"),
            CheckStatus.FAIL if number % 2 else CheckStatus.PASS,
            [Evidence(text("x" * evidence_chars), ok=False)],
        )
        for number in range(checks)
    ]
    cause_list = [
        CauseFinding(
            cause_id=f"cause-{number}",
            title=text(f"Cause {number}"),
            explanation=text("Because " * 50),
            patch_path="charts/x/templates/deployment.yaml",
            patch_format="yaml",
            patch_content="\n".join(f"line {index}: value-{'y' * 60}" for index in range(patch_lines)),
            patch_note=None,
            verify=[f"kubectl get deploy x-{number}"],
        )
        for number in range(causes)
    ]
    return Diagnosis(
        run_id=RUN_ID, query="why", playbook_id="demo", playbook_title=text("Demo playbook"), namespace="ns",
        inputs={}, started_at=datetime.now(timezone.utc), findings=findings, causes=cause_list,
        commands=["kubectl logs deploy/x"], verdict=Verdict.PROBLEM if causes else Verdict.HEALTHY,
    )


def assert_valid(blocks: list[dict]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    for block in blocks:
        Block.parse(block).validate_json()


def context(**extra) -> ReportContext:
    return ReportContext(requester="U1", request="why <x>", run_id=RUN_ID, **extra)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_oversized_evidence_is_cut_and_sent_to_thread(lang: str) -> None:
    rendered = render_report(diagnosis(evidence_chars=20_000), lang, context())

    assert_valid(rendered.message.blocks)
    cut_note = "(생략: 전체 내용은 스레드에 있음)" if lang == "ko" else "(cut: the full text is in the thread)"
    assert cut_note in str(rendered.message.blocks)
    assert rendered.overflow
    for message in rendered.overflow:
        assert_valid(message.blocks)
    overflow_text = "".join(block["text"]["text"] for message in rendered.overflow for block in message.blocks)
    assert overflow_text.count("x") >= 20_000


def test_many_checks_stay_within_fifty_blocks() -> None:
    rendered = render_report(diagnosis(checks=400, evidence_chars=250, causes=30), "en", context())

    assert_valid(rendered.message.blocks)
    assert rendered.message.blocks[-1]["type"] == "actions"
    assert "press Show evidence" in str(rendered.message.blocks)


def test_long_patch_is_cut_with_note() -> None:
    rendered = render_report(diagnosis(patch_lines=400), "en", context())

    assert_valid(rendered.message.blocks)
    assert "the full patch is in the thread" in str(rendered.message.blocks)
    patch_chunks = [block["text"]["text"] for message in rendered.overflow for block in message.blocks if "```" in block["text"]["text"]]
    assert all(chunk.count("```") % 2 == 0 for chunk in patch_chunks)
    assert "line 399" in "".join(patch_chunks)


@pytest.mark.parametrize("degraded", [False, True])
def test_footer_warns_when_state_degraded(degraded: bool) -> None:
    rendered = render_report(diagnosis(), "en", context(degraded=degraded))

    footer = next(block for block in reversed(rendered.message.blocks) if block["type"] == "context")
    footer_text = " ".join(element["text"] for element in footer["elements"])
    assert f"run {RUN_ID}" in footer_text
    assert ("Recheck may not work after the bot restarts" in footer_text) is degraded
    assert_valid(rendered.message.blocks)


def test_buttons_carry_only_run_ids() -> None:
    alternatives = (Alternative("other", text("A title " * 30), 0), Alternative("third", text("Third"), 2))
    rendered = render_report(diagnosis(), "en", context(alternatives=alternatives))

    actions = rendered.message.blocks[-1]["elements"]
    # Slack rejects a block whose buttons share an action id, so each Run button names its choice.
    assert [element["action_id"] for element in actions] == ["otelbot_recheck", "otelbot_show_evidence", "otelbot_run_playbook:0", "otelbot_run_playbook:2"]
    assert [element["value"] for element in actions] == [RUN_ID] * 4
    assert all(len(element["text"]["text"]) <= 75 for element in actions)
    assert_valid(rendered.message.blocks)


def test_fallback_text_on_every_message() -> None:
    rendered = render_report(diagnosis(evidence_chars=5000), "ko", context())
    progress = render_progress(title=text("T"), checks=[("a", text("A"))], done={}, lang="ko", requester="U1", request="r")

    assert rendered.message.text.startswith("❌ 문제 발견")
    assert all(message.text for message in rendered.overflow)
    assert progress.text == "체크 1개 실행 중: T (1개 중 0개 완료)"


def test_markup_in_evidence_is_escaped() -> None:
    rendered = render_report(diagnosis(), "en", context())

    assert "Check number 1 &lt;with&gt; &amp; markup" in str(rendered.message.blocks)
    assert "why &lt;x&gt;" in str(rendered.message.blocks)


def test_evidence_message_lists_every_line_and_command() -> None:
    messages = render_evidence(evidence_document(diagnosis(checks=120, evidence_chars=200)), "en", user="U9")

    for message in messages:
        assert_valid(message.blocks)
    joined = "".join(block["text"]["text"] for message in messages for block in message.blocks)
    assert joined.count("• ") == 120
    assert "$ kubectl get deploy x-0" in joined
    assert "$ kubectl logs deploy/x" in joined
    assert "<@U9>" in joined


def test_compare_statuses() -> None:
    previous = {"a": "fail", "b": "error", "c": "pass", "d": "fail", "e": "skipped"}
    current = {"a": "pass", "b": "fail", "c": "fail", "d": "skipped", "e": "pass", "f": "error"}

    assert compare_statuses(previous, current) == Changes(fixed=("a",), still_failing=("b",), newly_failing=("c", "f"))


def test_fit_text_never_splits_an_entity() -> None:
    fitted, cut = fit_text(escape("a&b" * 10), 12)

    assert cut
    assert len(fitted) <= 12
    assert not fitted.rstrip("…").endswith(("&", "&a", "&am"))


def test_text_limit_constant_matches_slack() -> None:
    assert TEXT_MAX == 3000


def test_thread_messages_are_bounded() -> None:
    rendered = render_report(diagnosis(evidence_chars=2_000_000), "en", context())

    assert 1 <= len(rendered.overflow) <= MAX_THREAD_MESSAGES
    for message in rendered.overflow:
        assert_valid(message.blocks)
    assert "The rest is too long for Slack" in str(rendered.overflow[-1].blocks)
