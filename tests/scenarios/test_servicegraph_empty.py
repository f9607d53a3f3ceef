"""servicegraph-empty against the sandbox cluster, fixture Tempo search results and a real Prometheus."""

from __future__ import annotations

from typing import Any

import pytest

from bot.sandbox import Route
from tests.support.prometheus import PrometheusProcess
from tests.support.stack import edit_collector_config

PHRASE = "service graph is empty"

SINGLE_SERVICE_TRACES = [
    {"traceID": "1f0c3e2d4b5a69788796a5b4c3d2e1f0", "rootServiceName": "board-service", "rootTraceName": "GET /api/boards",
     "startTimeUnixNano": "1796374790000000000", "durationMs": 40, "serviceStats": {"board-service": {"spanCount": 3}}},
    {"traceID": "2a1b3c4d5e6f70819283a4b5c6d7e8f9", "rootServiceName": "user-service", "rootTraceName": "GET /api/users/{id}",
     "startTimeUnixNano": "1796374791000000000", "durationMs": 11, "serviceStats": {"user-service": {"spanCount": 2}}},
]


def serve_search(sandbox, traces: list[dict[str, Any]]) -> None:
    """Serve ``traces`` from Tempo's /api/search for the query the playbook sends."""
    body = {"traces": traces, "metrics": {"inspectedBytes": "2048", "completedJobs": 1, "totalJobs": 1}}
    sandbox.backends["tempo"].set_route(Route.from_dict({"path": "/api/search", "params": {"q": "{}"}, "json": body}))


@pytest.fixture
def with_graph(sandbox, prometheus_with_receiver: PrometheusProcess):
    """The healthy stack, with a real Prometheus that stores traces_service_graph_request_total."""
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


@pytest.mark.parametrize("phrase", [PHRASE, "서비스 그래프가 비어 있어요"])
def test_healthy_stack_reports_healthy(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "servicegraph-empty"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_healthy_with_real_prometheus(with_graph, run_cli) -> None:
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("servicegraph-series")["status"] == "pass"


def test_traces_pipeline_without_servicegraph(with_graph, run_cli) -> None:
    def unwire(config):
        config["service"]["pipelines"]["traces"]["exporters"] = ["otlp/tempo", "spanmetrics"]

    edit_collector_config(with_graph.cluster, unwire)
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1, result.stdout
    assert result.cause_ids() == ["servicegraph-not-wired"]
    assert result.check("collector-traces-to-servicegraph")["status"] == "fail"
    assert result.check("collector-servicegraph-pipeline")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "exporters: [otlp/tempo, spanmetrics, servicegraph]" in patch["content"]


def test_metrics_pipeline_without_servicegraph_receiver(sandbox, run_cli, prometheus_without_receiver: PrometheusProcess) -> None:
    sandbox.route_service("prometheus", 9090, prometheus_without_receiver.url)

    def unwire(config):
        config["service"]["pipelines"]["metrics/spanmetrics"]["receivers"] = ["spanmetrics"]

    edit_collector_config(sandbox.cluster, unwire)
    result = run_cli("diagnose", "traces_service_graph_request_total is missing", "--json")

    assert result.exit_code == 1, result.stdout
    assert result.cause_ids() == ["servicegraph-not-wired"]
    assert result.check("collector-servicegraph-pipeline")["status"] == "fail"
    assert result.check("servicegraph-series")["status"] == "fail"


def test_single_service_traces_mean_no_propagation(with_graph, run_cli) -> None:
    serve_search(with_graph, SINGLE_SERVICE_TRACES)

    result = run_cli("diagnose", "서비스 그래프에 서비스가 하나씩 따로 떠 있어요", "--json")

    assert result.exit_code == 1, result.stdout
    assert result.json["playbook"]["id"] == "servicegraph-empty"
    assert result.cause_ids() == ["context-not-propagated"]
    check = result.check("tempo-multi-service-traces")
    assert check["status"] == "fail"
    assert result.check("tempo-recent-traces")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "go"
    assert "otelhttp.NewTransport(http.DefaultTransport)" in patch["content"]
    assert "otel.SetTextMapPropagator" in patch["content"]


def test_no_traces_at_all_names_no_cause(with_graph, run_cli) -> None:
    serve_search(with_graph, [])

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1, result.stdout
    assert result.json["status"] == "problem"
    assert result.cause_ids() == []
    assert result.check("tempo-recent-traces")["status"] == "fail"
    assert result.check("tempo-multi-service-traces")["status"] == "skipped"


def test_korean_report_by_default(with_graph, run_cli) -> None:
    serve_search(with_graph, SINGLE_SERVICE_TRACES)

    result = run_cli("diagnose", "서비스 그래프가 비어 있어요")

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "서비스 사이에 span context가 전파되지 않음" in result.stdout
    assert "otelhttp.NewTransport" in result.stdout
