"""spanmetrics-histogram-unit against the sandbox cluster and a real Prometheus."""

from __future__ import annotations

import pytest

from tests.support.prometheus import PrometheusProcess, SeriesVariants
from tests.support.stack import edit_collector_config

# What the connector stores when histogram.unit is ms (its default): the unit is in the name.
MILLISECOND_SERIES = """\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{service_name="user-service",span_name="GET /api/users/{id}",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET",http_method="GET",http_status_code="200",http_route="/api/users/{id}"} 1523
# TYPE traces_spanmetrics_duration_milliseconds histogram
traces_spanmetrics_duration_milliseconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="2"} 12
traces_spanmetrics_duration_milliseconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="100"} 1400
traces_spanmetrics_duration_milliseconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="+Inf"} 1523
traces_spanmetrics_duration_milliseconds_sum{service_name="user-service",http_route="/api/users/{id}"} 61200
traces_spanmetrics_duration_milliseconds_count{service_name="user-service",http_route="/api/users/{id}"} 1523
"""


@pytest.fixture(scope="module")
def milliseconds(tmp_path_factory: pytest.TempPathFactory):
    with SeriesVariants(tmp_path_factory.mktemp("prom-ms"), MILLISECOND_SERIES) as prometheus:
        yield prometheus


@pytest.fixture
def with_seconds(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


def _set_unit(sandbox, unit: str | None) -> None:
    def edit(config) -> None:
        histogram = config["connectors"]["spanmetrics"].setdefault("histogram", {})
        if unit is None:
            histogram.pop("unit", None)
        else:
            histogram["unit"] = unit

    edit_collector_config(sandbox.cluster, edit)


def test_seconds_everywhere_is_healthy(with_seconds, run_cli) -> None:
    result = run_cli("diagnose", "Histogram 단위 불일치", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-histogram-unit"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_default_unit_and_ms_series(sandbox, milliseconds, run_cli) -> None:
    _set_unit(sandbox, None)
    sandbox.route_service("prometheus", 9090, milliseconds.url)

    result = run_cli("diagnose", "Grafana에서 지연 시간이 비정상적으로 크게 표시", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-histogram-unit"
    assert result.cause_ids() == ["histogram-unit-ms"]
    unit = result.check("spanmetrics-histogram-unit")
    assert unit["status"] == "fail"
    assert "no (null)" in unit["evidence"][0]
    series = result.check("duration-milliseconds-series")
    assert series["status"] == "fail"
    assert "no (3" in series["evidence"][0]
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "unit: s" in patch["content"]


def test_unit_ms_in_config(with_seconds, run_cli) -> None:
    _set_unit(with_seconds, "ms")

    result = run_cli("diagnose", "latency shown 1000x too high in grafana", "--json")

    assert result.exit_code == 1
    assert result.cause_ids() == ["histogram-unit-ms"]
    assert result.check("spanmetrics-histogram-unit")["status"] == "fail"
    assert result.check("duration-milliseconds-series")["status"] == "pass"


def test_ms_series_with_unit_s_in_config(sandbox, milliseconds, run_cli) -> None:
    # The ConfigMap already sets s, but the running collector still builds ms histograms.
    sandbox.route_service("prometheus", 9090, milliseconds.url)

    result = run_cli("diagnose", "p95 latency looks way too big", "--json")

    assert result.cause_ids() == ["histogram-unit-ms"]
    assert result.check("spanmetrics-histogram-unit")["status"] == "pass"
    assert result.check("duration-milliseconds-series")["status"] == "fail"


def test_korean_report(sandbox, milliseconds, run_cli) -> None:
    _set_unit(sandbox, "ms")
    sandbox.route_service("prometheus", 9090, milliseconds.url)

    result = run_cli("diagnose", "레이턴시가 1000배로 나와요")

    assert result.exit_code == 1
    assert "spanmetrics 히스토그램이 ms 단위로 만들어짐" in result.stdout
    assert "unit: s" in result.stdout
