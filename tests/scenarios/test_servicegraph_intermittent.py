"""servicegraph-intermittent against the sandbox collector config and its /metrics fixture."""

from __future__ import annotations

import pytest

from bot.sandbox import FixtureBackend, Route
from tests.support.stack import edit_collector_config

PHRASE = "service graph appears intermittently"


def serve_edge_counters(backend: FixtureBackend, *, expired: int, total: int, dropped: int = 0) -> None:
    """Replace the collector's /metrics with servicegraph connector counters."""
    text = (
        "# TYPE otelcol_connector_servicegraph_expired_edges_total counter\n"
        f"otelcol_connector_servicegraph_expired_edges_total {expired}\n"
        "# TYPE otelcol_connector_servicegraph_total_edges_total counter\n"
        f"otelcol_connector_servicegraph_total_edges_total {total}\n"
        "# TYPE otelcol_connector_servicegraph_dropped_spans_total counter\n"
        f"otelcol_connector_servicegraph_dropped_spans_total {dropped}\n"
    )
    backend.set_route(Route(path="/metrics", body=text.encode(), content_type="text/plain; version=0.0.4"))


def set_store(sandbox, **store) -> None:
    def edit(config):
        config["connectors"]["servicegraph"]["store"] = store

    edit_collector_config(sandbox.cluster, edit)


@pytest.mark.parametrize("phrase", [PHRASE, "서비스 그래프가 간헐적으로 나타나요"])
def test_healthy_stack_reports_healthy(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "servicegraph-intermittent"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


@pytest.mark.parametrize(
    "store",
    [
        {"ttl": "2m", "max_items": 50000},
        {"ttl": "5m", "max_items": 10000},
        {"ttl": "2s"},
        {},
    ],
)
def test_small_store_is_cause(sandbox, run_cli, store: dict) -> None:
    set_store(sandbox, **store)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1, result.stdout
    assert result.cause_ids() == ["servicegraph-store-too-small"]
    assert result.check("servicegraph-store-config")["status"] == "fail"
    assert result.check("servicegraph-edge-expiry")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "ttl: 5m" in patch["content"]
    assert "max_items: 50000" in patch["content"]


def test_larger_store_passes(sandbox, run_cli) -> None:
    set_store(sandbox, ttl="10m", max_items=200000)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("servicegraph-store-config")["status"] == "pass"


def test_most_edges_expiring_is_cause(sandbox, run_cli) -> None:
    serve_edge_counters(sandbox.backends["otel-collector"], expired=790, total=812)

    result = run_cli("diagnose", "servicegraph expired edges가 계속 늘어나요", "--json")

    assert result.exit_code == 1, result.stdout
    assert result.json["playbook"]["id"] == "servicegraph-intermittent"
    assert result.cause_ids() == ["servicegraph-store-too-small"]
    expiry = result.check("servicegraph-edge-expiry")
    assert expiry["status"] == "fail"
    assert any('"expired":790' in line for line in expiry["evidence"])
    assert result.check("servicegraph-store-config")["status"] == "pass"


def test_half_of_edges_expiring_passes(sandbox, run_cli) -> None:
    # One root span and one paired call per trace: half the edges expire by design.
    serve_edge_counters(sandbox.backends["otel-collector"], expired=406, total=812)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("servicegraph-edge-expiry")["status"] == "pass"


def test_dropped_spans_is_cause(sandbox, run_cli) -> None:
    serve_edge_counters(sandbox.backends["otel-collector"], expired=3, total=812, dropped=1250)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.cause_ids() == ["servicegraph-store-too-small"]
    expiry = result.check("servicegraph-edge-expiry")
    assert expiry["status"] == "fail"
    assert any("1250" in line for line in expiry["evidence"])


def test_unreachable_collector_metrics_is_inconclusive(sandbox, run_cli) -> None:
    sandbox.backends["otel-collector"].set_route(Route(path="/metrics", status=404, body=b"404 page not found\n", content_type="text/plain"))

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 3, result.stdout
    assert result.json["status"] == "inconclusive"
    assert result.check("servicegraph-edge-expiry")["status"] == "error"
    assert result.check("servicegraph-store-config")["status"] == "pass"


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_store(sandbox, ttl="2m", max_items=10000)

    result = run_cli("diagnose", "서비스 그래프가 간헐적으로 나타나요")

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "servicegraph store의 ttl이나 max_items가 너무 작음" in result.stdout
