"""Bad input gets one clear line and exit code 2, never a traceback; settings merge with defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from bot.config import load_settings
from bot.app import load_catalog
from bot.errors import ConfigError
from bot.playbooks.template import render, variables_from


def run(*args: str):
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr


def test_malformed_kubeconfig_is_usage_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("clusters: [unclosed\n", encoding="utf-8")

    code, output = run("diagnose", "why no spanmetrics", "--kubeconfig", str(kubeconfig))
    code_en, output_en = run("diagnose", "why no spanmetrics", "--kubeconfig", str(kubeconfig), "--lang", "en")

    assert code == 2
    assert f"오류: kubeconfig {kubeconfig}가 올바르지 않습니다: ParserError" in output, "Korean is the default language"
    assert "`kubectl config view`로 파일을 확인하세요" in output
    assert code_en == 2
    assert f"error: invalid kubeconfig {kubeconfig}: ParserError" in output_en
    assert "Traceback" not in output + output_en


@pytest.mark.parametrize(
    "args,korean,english",
    [
        (("diagnose", "x", "--playbook", "no-such-playbook"), "알 수 없는 플레이북 'no-such-playbook'", "unknown playbook 'no-such-playbook'"),
        (("query", "request-rate", "--service", "a;b"), "서비스 'a;b'이(가) 올바르지 않습니다", "invalid service 'a;b'"),
        (("query", "no-such-query"), "알 수 없는 쿼리 'no-such-query'", "unknown query 'no-such-query'"),
        (("playbooks", "list", "--config", "/nonexistent/otelbot.yaml"), "설정 파일을 찾을 수 없습니다: /nonexistent/otelbot.yaml", "config file not found: /nonexistent/otelbot.yaml"),
        (("diagnose", "why no spanmetrics", "--kubeconfig", "/nonexistent/kubeconfig"), "kubeconfig /nonexistent/kubeconfig가 없습니다", "kubeconfig /nonexistent/kubeconfig not found"),
    ],
    ids=["unknown-playbook", "invalid-service", "unknown-query", "missing-config", "missing-kubeconfig"],
)
def test_usage_error_in_both_languages(args: tuple[str, ...], korean: str, english: str) -> None:
    code, output = run(*args)
    code_en, output_en = run(*args, "--lang", "en")

    assert code == 2
    assert f"오류: {korean}" in output
    assert code_en == 2
    assert f"error: {english}" in output_en


def test_kubeconfig_of_wrong_shape_named(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("just a string\n", encoding="utf-8")

    code, output = run("diagnose", "why no spanmetrics", "--kubeconfig", str(kubeconfig), "--lang", "en")

    assert code == 2
    assert f"kubeconfig {kubeconfig} is YAML but not a kubeconfig" in output
    assert "TypeError" not in output


def test_refused_connection_is_not_called_timeout(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "closed", "cluster": {"server": "http://127.0.0.1:1"}}],
        "users": [{"name": "user", "user": {"token": "t"}}],
        "contexts": [{"name": "closed", "context": {"cluster": "closed", "user": "user"}}],
        "current-context": "closed",
    }
    kubeconfig.write_text(yaml.safe_dump(config), encoding="utf-8")

    code, output = run("diagnose", "why no spanmetrics", "--kubeconfig", str(kubeconfig), "--lang", "en", "--json")

    assert code == 3
    assert "connection refused" in output
    assert "timed out" not in output


def test_non_json_env_list_is_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_SLACK__INCIDENT_CHANNELS", "inc-*")

    with pytest.raises(ConfigError, match=r"OTELBOT_SLACK__INCIDENT_CHANNELS='\[\"inc-\*\"\]'"):
        load_settings()


def test_one_target_override_keeps_other_names() -> None:
    settings = load_settings(targets={"collector": {"deployment": "my-collector"}})

    assert settings.targets["collector"]["deployment"] == "my-collector"
    assert settings.targets["collector"]["configmap"] == "otel-collector-config"
    assert settings.targets["tempo"]["configmap"] == "tempo"


def test_backend_service_and_port_fill_commands() -> None:
    settings = load_settings(backends={"prometheus": {"service": "prom-server", "port": 80}, "otel-collector": {"service": "otelcol", "port": 8889}})
    playbook = load_catalog(settings).playbooks.get("spanmetrics-missing")
    variables = variables_from(settings.cluster.namespace, settings.targets, {})

    commands = "\n".join(render(command, variables) for command in playbook.commands)

    assert "services/prom-server:80/proxy/" in commands
    assert "services/otelcol:8889/proxy/metrics" in commands
    assert ":9090" not in commands
    assert ":8888" not in commands


def test_target_service_reaches_backend() -> None:
    settings = load_settings(targets={"tempo": {"service": "tempo-query-frontend"}})

    assert settings.backends["tempo"].service == "tempo-query-frontend"
    assert settings.targets["tempo"]["port"] == "3200"
    assert settings.backends["prometheus"].service == "prometheus"


def test_one_backend_override_keeps_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_BACKENDS__PROMETHEUS__URL", "http://127.0.0.1:9/api/monitoring/prometheus")

    settings = load_settings()

    assert settings.backends["prometheus"].url == "http://127.0.0.1:9/api/monitoring/prometheus"
    assert settings.backends["prometheus"].port == 9090
    assert settings.backends["tempo"].service == "tempo"


def test_playbooks_load_with_target_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTELBOT_TARGETS__COLLECTOR__DEPLOYMENT", "my-collector")

    code, output = run("playbooks", "list")

    assert code == 0, output
    assert "spanmetrics-missing" in output


def test_crash_exits_70_with_traceback(tmp_path: Path) -> None:
    # Replace the Typer app by one that raises, as a bug anywhere in a command would.
    script = "import sys; sys.argv=['otelbot','demo']; import bot.cli as c; c.app=lambda: (_ for _ in ()).throw(RuntimeError('boom')); c.main()"

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)

    assert result.returncode == 70
    assert "otelbot crashed; this is a bug" in result.stderr
    assert "RuntimeError: boom" in result.stderr


@pytest.mark.parametrize("text,code", [("why no spanmetrics", 0), ("the coffee machine is broken again", 1)])
def test_match_exit_code(text: str, code: int) -> None:
    result = CliRunner().invoke(app, ["match", text, "--lang", "en"])

    assert result.exit_code == code
    assert ("spanmetrics-missing" in result.stdout) is (code == 0)
