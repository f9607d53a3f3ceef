"""app-db-spans-missing against the sandbox cluster and its Tempo stand-in."""

from __future__ import annotations

import pytest

from bot.sandbox import Route
from tests.support.stack import set_tempo_search

PHRASE = "user-service redis calls not visible in traces"
SERVICE_QUERY = '{ resource.service.name = "user-service" }'
DB_QUERY = '{ resource.service.name = "user-service" && (span.db.system != nil || span.db.system.name != nil) }'


def test_db_spans_present_is_healthy(sandbox, run_cli) -> None:
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "app-db-spans-missing"
    assert result.json["inputs"] == {"workload": "user-service"}
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_no_db_spans_reports_cause(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], DB_QUERY, [])

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["db-redis-not-instrumented"]
    assert result.check("service-traces")["status"] == "pass"
    db_spans = result.check("db-spans")
    assert db_spans["status"] == "fail"
    assert "number of traces with DB or Redis spans > 0: no (0)" in db_spans["evidence"]
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "go"
    assert patch["path"] == "cmd/user-service/main.go"
    assert "db.Use(otelgorm.NewPlugin())" in patch["content"]
    assert "redisotel.InstrumentTracing(rdb)" in patch["content"]
    assert "db.WithContext(r.Context())" in patch["content"]


def test_service_without_traces_names_no_cause(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], SERVICE_QUERY, [])
    set_tempo_search(sandbox.backends["tempo"], DB_QUERY, [])

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1
    assert result.check("service-traces")["status"] == "fail"
    assert result.check("db-spans")["status"] == "skipped"
    assert result.cause_ids() == []


def test_tempo_error_status_is_inconclusive(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], DB_QUERY, [])
    rejected = Route(path="/api/search", params={"q": SERVICE_QUERY}, status=400, body=b"invalid TraceQL query", content_type="text/plain")
    sandbox.backends["tempo"].set_route(rejected)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 3, result.stdout
    assert result.check("service-traces")["status"] == "error"
    assert result.check("db-spans")["status"] == "skipped"
    assert result.cause_ids() == []


@pytest.mark.parametrize("phrase", ["DB/Redis 호출이 트레이스에 안 보임", "GORM/Redis 스팬 없음", "gorm queries are not traced"])
def test_phrases_select_playbook(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--workload", "board-service", "--json")

    assert result.json["playbook"]["id"] == "app-db-spans-missing"
    assert result.json["inputs"] == {"workload": "board-service"}
    assert result.exit_code == 0


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_tempo_search(sandbox.backends["tempo"], DB_QUERY, [])

    result = run_cli("diagnose", "레디스 스팬이 없어요", "--workload", "user-service")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert "GORM과 Redis 클라이언트가 계측되지 않음" in result.stdout
    assert "otelgorm.NewPlugin()" in result.stdout
