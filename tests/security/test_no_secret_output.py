"""No credential the bot reads reaches the CLI, Slack, the logs or Redis.

The sandbox contains fake credentials where real stacks keep them (``tests/security/planted.py``).
Diagnoses run through the CLI (``--json`` and text, both languages) and through the Slack app with
Redis as the state store, while the logs go through ``configure_logging`` at DEBUG, as in
production but with every library's debug lines. Each planted value must show up only as its
masked marker: the marker proves the value was read and masked, the absence of the value that it
did not leak. Secrets themselves are never requested from the API server.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import REPO_PLAYBOOKS
from bot.logs import configure_logging
from bot.redact import fingerprint
from tests.security.conftest import CHANNEL_GENERAL, CHANNEL_INCIDENT, USER_EN, USER_KO, probe_playbooks, redis_dump
from tests.security.planted import SECRETS, STATUS_TOKEN, leaks, plant
from tests.slack.conftest import final_report
from tests.support.redis import RedisProcess

PLAYBOOKS = ["leak-probe", "remote-write-refused", "remote-write-unauthorized", "grafana-datasource", "app-no-traces", "tempo-metrics-generator"]
PASTED = "xoxp-5551234567-pastedUserToken0042"


@pytest.fixture
def planted(sandbox):
    plant(sandbox)
    return sandbox


@pytest.fixture
def production_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], str]]:
    """Log as ``otelbot serve`` does (the redacting handler of ``configure_logging``), at DEBUG.

    The handler writes to the stderr it finds when it is built, which is a buffer here. The
    fixture yields a function that returns what was logged so far.
    """
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    buffer = io.StringIO()
    with monkeypatch.context() as patch:
        patch.setattr(sys, "stderr", buffer)
        configure_logging(level="DEBUG")
    try:
        yield buffer.getvalue
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A settings file that loads the bundled playbooks and the leak probe."""
    path = tmp_path / "otelbot.yaml"
    path.write_text(yaml.safe_dump({"playbooks": {"dirs": [str(REPO_PLAYBOOKS), str(probe_playbooks())]}}), encoding="utf-8")
    return path


def unmasked(text: str) -> list[str]:
    """Return the planted credentials whose masked marker is missing from ``text``, that is, were not read and masked."""
    missing = []
    for name, value in SECRETS.items():
        markers = [f"sha256:{fingerprint(value)}]", f"sha256:{fingerprint('Bearer ' + value)}]"]
        if not any(marker in text for marker in markers):
            missing.append(name)
    return missing


def secret_requests(sandbox) -> list[str]:
    return [request.path for request in sandbox.cluster.requests if "secret" in request.path.lower()]


def test_cli_reports_mask_credentials(planted, config_file: Path, production_logs) -> None:
    outputs = []
    for playbook in PLAYBOOKS:
        for flags in (["--json"], ["--lang", "en"], ["--lang", "ko"]):
            args = ["diagnose", "read the stack", "--playbook", playbook, "--workload", "user-service", "--config", str(config_file)]
            result = CliRunner().invoke(app, [*args, "--kubeconfig", str(planted.kubeconfig), *flags], catch_exceptions=False)
            assert result.exit_code in (0, 1, 3), f"{playbook} {flags}: {result.stderr}"
            outputs.append(result.stdout + result.stderr)
    logs = production_logs()

    assert leaks("\n".join(outputs)) == []
    assert leaks(logs) == []
    assert unmasked("\n".join(outputs)) == []
    assert "diagnosis run_id=" in logs
    assert f"sha256:{fingerprint(STATUS_TOKEN)}]" in logs
    assert secret_requests(planted) == []


def test_slack_reports_mask_credentials(planted, start_bot, slack_api, redis: RedisProcess, production_logs) -> None:
    bot = start_bot(state={"redis_url": redis.url}, playbooks={"dirs": [str(REPO_PLAYBOOKS), str(probe_playbooks())]})

    bot.command("check leak-probe", user=USER_EN)
    probe = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the probe report")
    probe_report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=probe.answer["ts"])
    bot.press("otelbot_show_evidence", probe_report.button_value("otelbot_show_evidence"), user=USER_EN, message_ts=probe.answer["ts"])
    slack_api.wait_for(lambda calls: [call for call in calls if call.method == "chat.postMessage" and call.args.get("thread_ts") == probe.answer["ts"]] or None, what="the evidence in the thread")
    for playbook, user in (
        ("remote-write-unauthorized", USER_KO),
        ("grafana-datasource", USER_EN),
        ("app-no-traces user-service", USER_KO),
        ("tempo-metrics-generator", USER_EN),
    ):
        posts = len(slack_api.calls("chat.postMessage"))
        bot.command(f"check {playbook}", user=user)
        post = slack_api.wait_for(lambda calls: slack_api.calls("chat.postMessage")[posts:] or None, what=f"the {playbook} report")[0]
        final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    sent = "\n".join(json.dumps(call.args, ensure_ascii=False) for call in slack_api.calls())
    stored = redis_dump(redis)
    logs = production_logs()

    assert leaks(sent) == []
    assert leaks(stored) == []
    assert leaks(logs) == []
    assert unmasked(sent) == []
    assert f"sha256:{fingerprint(STATUS_TOKEN)}]" in logs
    assert "otelbot:v1:run:" in stored
    assert "otelbot:v1:history:" in stored
    assert secret_requests(planted) == []


def test_pasted_token_masked_everywhere(start_bot, slack_api, redis: RedisProcess, production_logs) -> None:
    # The pasted text lowers the match score of the incident message, so the suggestion threshold is lowered too.
    bot = start_bot(state={"redis_url": redis.url}, slack={"incident_threshold": 0.3})

    bot.command(f"why no spanmetrics, my token is {PASTED}", user=USER_EN)
    post = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage"), None), what="the report")
    report = final_report(slack_api, channel=CHANNEL_GENERAL, ts=post.answer["ts"])
    bot.command(f"why is the coffee machine broken token={PASTED}", user=USER_KO)
    no_match = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "response_url"), None), what="the no-match reply")
    bot.event({"type": "app_mention", "user": USER_EN, "channel": CHANNEL_GENERAL, "ts": "1800000000.000400", "text": f"<@U0BOT> why no spanmetrics {PASTED}"})
    bot.message(f"no spanmetrics in prometheus, Authorization: Bearer {PASTED}", user=USER_EN, channel=CHANNEL_INCIDENT)
    slack_api.wait_for(lambda calls: [call for call in calls if call.method == "chat.postMessage" and call.args.get("channel") == CHANNEL_INCIDENT] or None, what="the suggestion")
    mention = slack_api.wait_for(lambda calls: next((call for call in calls if call.method == "chat.postMessage" and call.args.get("thread_ts") == "1800000000.000400"), None), what="the mention's report")
    final_report(slack_api, channel=CHANNEL_GENERAL, ts=mention.answer["ts"])
    sent = "\n".join(json.dumps(call.args, ensure_ascii=False) for call in slack_api.calls())
    stored = redis_dump(redis)
    logs = production_logs()

    assert f"xoxp-…[redacted sha256:{fingerprint(PASTED)}]" in report.text
    assert "[redacted sha256:" in no_match.text
    assert PASTED not in sent
    assert "pastedUserToken0042" not in sent
    assert "pastedUserToken0042" not in stored
    assert "pastedUserToken0042" not in logs
