"""app-context-propagation against the sandbox cluster and its Tempo stand-in."""

from __future__ import annotations

import pytest

from tests.support.stack import set_tempo_search

PHRASE = "board-service traces are not connected across services"
SERVICE_QUERY = '{ resource.service.name = "board-service" }'
CROSS_QUERY = '{ resource.service.name = "board-service" } && { resource.service.name != "board-service" }'
LONE_TRACES = [
    {
        "traceID": "0af7651916cd43dd8448eb211c80319c",
        "rootServiceName": "board-service",
        "rootTraceName": "GET /api/boards",
        "startTimeUnixNano": "1796374795000000000",
        "durationMs": 38,
        "serviceStats": {"board-service": {"spanCount": 3}},
    }
]


def test_connected_traces_are_healthy(sandbox, run_cli) -> None:
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "app-context-propagation"
    assert result.json["inputs"] == {"workload": "board-service"}
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_single_service_traces_report_cause(sandbox, run_cli) -> None:
    tempo = sandbox.backends["tempo"]
    set_tempo_search(tempo, SERVICE_QUERY, LONE_TRACES)
    set_tempo_search(tempo, CROSS_QUERY, [])

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["context-not-propagated"]
    assert result.check("service-traces")["status"] == "pass"
    cross = result.check("cross-service-traces")
    assert cross["status"] == "fail"
    assert "number of traces shared with another service > 0: no (0)" in cross["evidence"]
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "go"
    assert patch["path"] == "cmd/board-service/main.go"
    assert "otelhttp.NewTransport(http.DefaultTransport)" in patch["content"]
    assert "http.NewRequestWithContext(ctx" in patch["content"]
    assert "otel.SetTextMapPropagator" in patch["content"]
    assert 'otelhttp.NewHandler(mux, "board-service")' in patch["content"]


def test_queries_name_the_workload(sandbox, run_cli) -> None:
    result = run_cli("diagnose", PHRASE, "--json")

    searches = [path for method, path in sandbox.backends["tempo"].requests if path.startswith("/api/search")]
    assert result.exit_code == 0
    assert len(searches) == 2
    assert all("board-service" in path for path in searches)


def test_service_without_traces_names_no_cause(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], SERVICE_QUERY, [])

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1
    assert result.check("service-traces")["status"] == "fail"
    assert result.check("cross-service-traces")["status"] == "skipped"
    assert result.cause_ids() == []


def test_tempo_down_is_inconclusive(sandbox, run_cli) -> None:
    sandbox.unroute_service("tempo", 3200)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 3, result.stdout
    assert result.json["status"] == "inconclusive"
    assert result.check("service-traces")["status"] == "error"
    assert result.cause_ids() == []


@pytest.mark.parametrize("phrase", ["서비스 간 트레이스가 연결되지 않음", "Span Context 전파 안 됨", "context propagation not working"])
def test_phrases_select_playbook(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--workload", "user-service", "--json")

    assert result.json["playbook"]["id"] == "app-context-propagation"
    assert result.json["inputs"] == {"workload": "user-service"}


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], CROSS_QUERY, [])

    result = run_cli("diagnose", "board-service 트레이스가 서비스마다 따로 찍혀요")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert "HTTP 호출에 span context가 전파되지 않음" in result.stdout
    assert "otelhttp.NewTransport" in result.stdout
