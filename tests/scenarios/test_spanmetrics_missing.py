"""spanmetrics-missing against the sandbox cluster and a real Prometheus."""

from __future__ import annotations

import json

import pytest

from bot.sandbox import Route
from tests.support.prometheus import SPAN_METRICS, PrometheusProcess, SeriesVariants
from tests.support.stack import edit_collector_config, set_prometheus_receiver_flag, use_prometheus_feature_flag


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


# What a collector before v0.109.0 stores with no namespace set, and what v0.109.0 and later store.
UNPREFIXED_SERIES = """\
# TYPE calls_total counter
calls_total{service_name="user-service",span_name="GET /api/users/{id}",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"} 1523
# TYPE duration_milliseconds histogram
duration_milliseconds_bucket{service_name="user-service",le="100"} 1400
duration_milliseconds_bucket{service_name="user-service",le="+Inf"} 1523
duration_milliseconds_sum{service_name="user-service"} 61200
duration_milliseconds_count{service_name="user-service"} 1523
"""
NEW_DEFAULT_SERIES = """\
# TYPE traces_span_metrics_calls_total counter
traces_span_metrics_calls_total{service_name="user-service",span_name="GET /api/users/{id}",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"} 1523
# TYPE traces_span_metrics_duration_seconds histogram
traces_span_metrics_duration_seconds_bucket{service_name="user-service",le="0.1"} 1400
traces_span_metrics_duration_seconds_bucket{service_name="user-service",le="+Inf"} 1523
traces_span_metrics_duration_seconds_sum{service_name="user-service"} 61.2
traces_span_metrics_duration_seconds_count{service_name="user-service"} 1523
"""


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory):
    with SeriesVariants(tmp_path_factory.mktemp("prom-variants")) as prometheus:
        yield prometheus


def _drop_namespace(config) -> None:
    del config["connectors"]["spanmetrics"]["namespace"]


@pytest.mark.parametrize(
    ("series", "stored_name"),
    [(NEW_DEFAULT_SERIES, "traces_span_metrics_calls_total"), (UNPREFIXED_SERIES, "calls_total")],
    ids=["v0.109-default", "pre-v0.109-default"],
)
def test_renamed_series_report_name_drift(sandbox, run_cli, variants, series: str, stored_name: str) -> None:
    edit_collector_config(sandbox.cluster, _drop_namespace)
    variants.serve(series)
    sandbox.route_service("prometheus", 9090, variants.url)

    result = run_cli("diagnose", "스팬메트릭이 안 나와요", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-missing"
    assert result.cause_ids() == ["metric-name-drift"]
    assert result.check("spanmetrics-series")["status"] == "fail"
    assert result.check("prometheus-flag-live")["status"] == "pass"
    names = result.check("spanmetrics-metric-names")
    assert names["status"] == "fail"
    evidence = " ".join(names["evidence"])
    assert stored_name in evidence
    assert "grafana-dashboards-otel-native" in evidence
    assert "namespace set on the spanmetrics connector: null" in evidence
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "namespace: traces.spanmetrics" in patch["content"]


def test_name_drift_in_korean(sandbox, run_cli, variants) -> None:
    variants.serve(NEW_DEFAULT_SERIES)
    sandbox.route_service("prometheus", 9090, variants.url)

    result = run_cli("diagnose", "traces_span_metrics_calls_total로 이름이 바뀐 것 같아요")

    assert result.exit_code == 1
    assert "스팬 메트릭이 대시보드가 찾지 않는 이름으로 저장됨" in result.stdout
    assert "traces_span_metrics_calls_total" in result.stdout


def test_variants_back_to_defaults_are_healthy(sandbox, run_cli, variants) -> None:
    variants.serve(SPAN_METRICS)
    sandbox.route_service("prometheus", 9090, variants.url)

    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("spanmetrics-metric-names")["status"] == "pass"


def _prometheus_3(sandbox, *, feature_flag_in_args: bool) -> None:
    """Serve Prometheus 3.1 from the fixture backend: the flag reads false and no span metrics arrive."""
    if feature_flag_in_args:
        use_prometheus_feature_flag(sandbox.cluster)
    else:
        set_prometheus_receiver_flag(sandbox.cluster, enabled=False)
    backend = sandbox.backends["prometheus"]
    build = {"status": "success", "data": {"version": "3.1.0", "revision": "7b0c5a1", "goVersion": "go1.23.4"}}
    flags = {"status": "success", "data": {"web.enable-remote-write-receiver": "false", "enable-feature": "remote-write-receiver" if feature_flag_in_args else ""}}
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    backend.set_route(Route(path="/api/v1/status/buildinfo", body=json.dumps(build).encode()))
    backend.set_route(Route(path="/api/v1/status/flags", body=json.dumps(flags).encode()))
    backend.set_route(Route(path="/api/v1/query", params={"query": "traces_spanmetrics_calls_total"}, body=json.dumps(empty).encode()))


def test_prometheus_3_ignores_feature_flag(sandbox, run_cli) -> None:
    _prometheus_3(sandbox, feature_flag_in_args=True)

    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["prometheus-3-feature-flag"]
    check = result.check("prometheus-v3-feature-flag")
    assert check["status"] == "fail"
    assert any("3.1.0" in line for line in check["evidence"])
    assert result.check("prometheus-args")["status"] == "pass"
    assert result.check("prometheus-flag-live")["status"] == "fail"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"].endswith("templates/prometheus/deployment.yaml")
    assert "- --web.enable-remote-write-receiver" in patch["content"]
    assert "remove --enable-feature=remote-write-receiver" in patch["content"]


def test_prometheus_3_without_any_flag_is_receiver_disabled(sandbox, run_cli) -> None:
    _prometheus_3(sandbox, feature_flag_in_args=False)

    result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.cause_ids() == ["remote-write-receiver-disabled"]
    assert result.check("prometheus-v3-feature-flag")["status"] == "pass"


def test_prometheus_2_with_feature_flag_is_healthy(sandbox, run_cli, tmp_path) -> None:
    # Prometheus 2.x still honours the deprecated flag, and reports the receiver as enabled.
    use_prometheus_feature_flag(sandbox.cluster)
    with SeriesVariants(tmp_path / "prom", remote_write_receiver=False, extra_args=["--enable-feature=remote-write-receiver"]) as prometheus:
        sandbox.route_service("prometheus", 9090, prometheus.url)
        result = run_cli("diagnose", "why no spanmetrics", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.json["status"] == "healthy"
    assert result.check("prometheus-flag-live")["status"] == "pass"
    assert result.check("prometheus-v3-feature-flag")["status"] == "pass"
