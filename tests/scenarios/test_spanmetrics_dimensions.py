"""spanmetrics-dimensions against the sandbox cluster, Tempo's tag API stand-in and a real Prometheus."""

from __future__ import annotations

import pytest

from bot.sandbox import Route
from tests.support.prometheus import PrometheusProcess, SeriesVariants
from tests.support.stack import edit_collector_config, pod_name, set_logs

SERVER_SPAN = 'service_name="user-service",span_name="GET /api/users/{id}",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET"'

# Series as the connector builds them when a dimension is missing or the span attribute is renamed.
WITHOUT_ROUTE = f"""\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{{{SERVER_SPAN},http_method="GET",http_status_code="200"}} 1523
"""
WITHOUT_HTTP_LABELS = f"""\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{{{SERVER_SPAN}}} 1523
"""
RENAMED_WITHOUT_METHOD = f"""\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{{{SERVER_SPAN},http_route="/api/users/{{id}}"}} 1523
"""
NEW_SEMCONV_LABELS = f"""\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{{{SERVER_SPAN},http_request_method="GET",http_response_status_code="200",http_route="/api/users/{{id}}"}} 1523
"""

OLD_HTTP_TAGS = ["http.method", "http.route", "http.status_code", "http.url"]
NEW_HTTP_TAGS = ["http.request.method", "http.response.status_code", "http.route", "url.full"]


@pytest.fixture(scope="module")
def variants(tmp_path_factory: pytest.TempPathFactory):
    with SeriesVariants(tmp_path_factory.mktemp("prom-dimensions"), WITHOUT_ROUTE) as prometheus:
        yield prometheus


@pytest.fixture
def with_labels(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


def _set_dimensions(sandbox, names: list[str]) -> None:
    def edit(config) -> None:
        config["connectors"]["spanmetrics"]["dimensions"] = [{"name": name} for name in names]

    edit_collector_config(sandbox.cluster, edit)


def _set_span_tags(sandbox, tags: list[str]) -> None:
    body = {"scopes": [{"name": "span", "tags": tags}]}
    sandbox.backends["tempo"].set_route(Route.from_dict({"path": "/api/v2/search/tags", "params": {"scope": "span"}, "json": body}))


def _serve(sandbox, variants: SeriesVariants, text: str) -> None:
    variants.serve(text)
    sandbox.route_service("prometheus", 9090, variants.url)


def test_all_dimensions_is_healthy(with_labels, run_cli) -> None:
    result = run_cli("diagnose", "Dimension 누락", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-dimensions"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_route_missing_from_config_and_series(sandbox, variants, run_cli) -> None:
    _set_dimensions(sandbox, ["http.method", "http.status_code"])
    _serve(sandbox, variants, WITHOUT_ROUTE)

    result = run_cli("diagnose", "서비스별로 그룹화가 안 됨", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-dimensions"
    assert result.cause_ids() == ["dimensions-missing"]
    config = result.check("spanmetrics-dimensions-config")
    assert config["status"] == "fail"
    assert "dimensions list http.route: no" in " ".join(config["evidence"])
    labels = result.check("spanmetrics-series-labels")
    assert labels["status"] == "fail"
    assert "http_route label present: no" in " ".join(labels["evidence"])
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "- name: http.route" in patch["content"]
    assert "- name: service.name" not in patch["content"]


def test_method_missing_from_config_only(with_labels, run_cli) -> None:
    _set_dimensions(with_labels, ["http.status_code", "http.route"])

    result = run_cli("diagnose", "spanmetrics missing dimensions", "--json")

    assert result.cause_ids() == ["dimensions-missing"]
    assert result.check("spanmetrics-dimensions-config")["status"] == "fail"
    assert result.check("spanmetrics-series-labels")["status"] == "pass"


def test_series_without_http_labels(sandbox, variants, run_cli) -> None:
    # The ConfigMap lists every dimension, but the running collector has not picked it up.
    _serve(sandbox, variants, WITHOUT_HTTP_LABELS)

    result = run_cli("diagnose", "no http_route label on traces_spanmetrics_calls_total", "--json", "--lang", "en")

    assert result.cause_ids() == ["dimensions-missing"]
    assert result.check("spanmetrics-dimensions-config")["status"] == "pass"
    labels = result.check("spanmetrics-series-labels")
    assert labels["status"] == "fail"
    evidence = " ".join(labels["evidence"])
    assert "service_name label present: yes" in evidence
    assert "http_method (or http_request_method) label present: no" in evidence


def test_renamed_http_attributes(sandbox, variants, run_cli) -> None:
    _set_span_tags(sandbox, NEW_HTTP_TAGS)
    _serve(sandbox, variants, RENAMED_WITHOUT_METHOD)

    result = run_cli("diagnose", "http_method label disappeared after upgrading the otel SDK", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "spanmetrics-dimensions"
    assert result.cause_ids() == ["http-semconv-renamed"]
    semconv = result.check("span-attributes-semconv")
    assert semconv["status"] == "fail"
    evidence = " ".join(semconv["evidence"])
    assert "http.method -> http.request.method" in evidence
    assert "http.status_code -> http.response.status_code" in evidence
    assert result.check("spanmetrics-series-labels")["status"] == "skipped"
    patch = result.json["causes"][0]["patch"]
    assert "- name: http.request.method" in patch["content"]
    assert "- name: http.response.status_code" in patch["content"]


def test_new_names_in_dimensions_are_healthy(sandbox, variants, run_cli) -> None:
    _set_span_tags(sandbox, NEW_HTTP_TAGS)
    _set_dimensions(sandbox, ["http.request.method", "http.response.status_code", "http.route"])
    _serve(sandbox, variants, NEW_SEMCONV_LABELS)

    result = run_cli("diagnose", "Dimension 누락", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.json["status"] == "healthy"
    assert result.check("span-attributes-semconv")["status"] == "pass"
    assert result.check("spanmetrics-series-labels")["status"] == "pass"


def test_spans_with_both_names_are_healthy(with_labels, run_cli) -> None:
    # OTEL_SEMCONV_STABILITY_OPT_IN=http/dup makes the SDK emit both names while services migrate.
    _set_span_tags(with_labels, OLD_HTTP_TAGS + NEW_HTTP_TAGS)

    result = run_cli("diagnose", "Dimension 누락", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("span-attributes-semconv")["status"] == "pass"


def test_korean_report(sandbox, variants, run_cli) -> None:
    _set_span_tags(sandbox, NEW_HTTP_TAGS)
    _serve(sandbox, variants, RENAMED_WITHOUT_METHOD)

    result = run_cli("diagnose", "스팬에는 http.request.method가 있는데 메트릭엔 없음")

    assert result.exit_code == 1
    assert "스팬의 HTTP 속성 이름이 새 시맨틱 컨벤션으로 바뀌었는데 dimensions는 예전 이름" in result.stdout
    assert "http.request.method" in result.stdout


def test_service_name_dimension_rejected(with_labels, run_cli) -> None:
    _set_dimensions(with_labels, ["service.name", "http.method", "http.status_code", "http.route"])

    result = run_cli("diagnose", "spanmetrics missing dimensions", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["dimension-service-name-duplicate"]
    assert result.check("service-name-not-listed")["status"] == "fail"
    patch = result.json["causes"][0]["patch"]
    assert "- name: http.route" in patch["content"]
    assert "- name: service.name" not in patch["content"]


def test_duplicate_dimension_log_names_cause(with_labels, run_cli) -> None:
    pod = pod_name(with_labels.cluster, "otel-collector")
    set_logs(
        with_labels.cluster,
        pod,
        'Error: invalid configuration: connectors::spanmetrics: failed validating dimensions: duplicate dimension name service.name\n',
    )

    result = run_cli("diagnose", "spanmetrics missing dimensions", "--json", "--lang", "en")

    assert result.cause_ids() == ["dimension-service-name-duplicate"]
    assert result.check("collector-duplicate-dimension")["status"] == "fail"
    assert result.check("service-name-not-listed")["status"] == "pass"
