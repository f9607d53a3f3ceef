"""spanmetrics-missing against the sandbox cluster and a real Prometheus."""

from __future__ import annotations

import pytest

from tests.support.prometheus import PrometheusProcess
from tests.support.stack import edit_collector_config, set_prometheus_receiver_flag


@pytest.fixture
def with_receiver(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


@pytest.fixture
def without_receiver(sandbox, prometheus_without_receiver: PrometheusProcess):
    set_prometheus_receiver_flag(sandbox.cluster, enabled=False)
    sandbox.route_service("prometheus", 9090, prometheus_without_receiver.url)
    return sandbox


@pytest.mark.parametrize("phrase", ["why no spanmetrics", "스팬메트릭이 안 나와요"])
def test_receiver_disabled_reports_cause(without_receiver, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    report = result.json
    assert report["playbook"]["id"] == "spanmetrics-missing"
    assert report["status"] == "problem"
    assert result.cause_ids() == ["remote-write-receiver-disabled"]
    assert result.check("prometheus-args")["status"] == "fail"
    assert result.check("prometheus-flag-live")["status"] == "fail"
    assert result.check("spanmetrics-series")["status"] == "fail"
    patch = report["causes"][0]["patch"]
    assert patch["path"].endswith("templates/prometheus/deployment.yaml")
    assert "--web.enable-remote-write-receiver" in patch["content"]


def test_receiver_enabled_is_healthy(with_receiver, run_cli) -> None:
    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_korean_report_by_default(without_receiver, run_cli) -> None:
    result = run_cli("diagnose", "스팬메트릭이 안 나와요")

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "Prometheus의 remote write 수신이 꺼져 있음" in result.stdout
    assert "--web.enable-remote-write-receiver" in result.stdout


def test_traces_pipeline_without_spanmetrics(with_receiver, run_cli) -> None:
    def unwire(config):
        config["service"]["pipelines"]["traces"]["exporters"] = ["otlp/tempo"]

    edit_collector_config(with_receiver.cluster, unwire)
    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 1
    assert result.cause_ids() == ["spanmetrics-not-wired"]
    assert result.check("collector-traces-to-spanmetrics")["status"] == "fail"
    assert "spanmetrics" in result.json["causes"][0]["patch"]["content"]


def test_metrics_pipeline_without_remote_write(with_receiver, run_cli) -> None:
    def unwire(config):
        config["service"]["pipelines"]["metrics/spanmetrics"]["exporters"] = ["debug"]

    edit_collector_config(with_receiver.cluster, unwire)
    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.cause_ids() == ["spanmetrics-not-wired"]
    assert result.check("collector-spanmetrics-pipeline")["status"] == "fail"


def test_stopped_prometheus_is_inconclusive(sandbox, run_cli, tmp_path) -> None:
    process = PrometheusProcess(tmp_path / "prom", remote_write_receiver=True).start()
    sandbox.route_service("prometheus", 9090, process.url)
    process.stop()

    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 3, result.stdout
    assert result.json["status"] == "inconclusive"
    live = result.check("prometheus-flag-live")
    assert live["status"] == "error"
    assert "connection refused" in " ".join(live["evidence"]) or "reach" in " ".join(live["evidence"])
    assert result.check("prometheus-args")["status"] == "pass"
    assert result.check("collector-traces-to-spanmetrics")["status"] == "pass"
    assert result.check("spanmetrics-series")["status"] == "error"
