"""grafana-variable-empty against the sandbox cluster and a real Prometheus."""

from __future__ import annotations

import pytest

from tests.support.prometheus import PrometheusProcess
from tests.support.stack import edit_dashboard, set_config_text

PLAYBOOK = "grafana-variable-empty"
CONFIGMAP = "grafana-dashboards-otel-native"
KEY = "otel-span-metrics.json"


@pytest.fixture
def with_span_metrics(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


@pytest.fixture
def without_span_metrics(sandbox, prometheus_without_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_without_receiver.url)
    return sandbox


def set_variable_query(cluster, query) -> None:
    def edit(dashboard):
        dashboard["templating"]["list"][0]["query"] = query

    edit_dashboard(cluster, CONFIGMAP, KEY, edit)


def diagnose(run_cli):
    return run_cli("diagnose", "dashboard dropdown is empty", "--playbook", PLAYBOOK, "--json", "--lang", "en")


def test_healthy_stack_is_healthy(with_span_metrics, run_cli) -> None:
    result = diagnose(run_cli)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}
    values = " ".join(result.check("corrected-query-values")["evidence"])
    assert '"user-service"' in values
    assert '"board-service"' in values


@pytest.mark.parametrize(
    "query",
    [
        pytest.param("label_values(service_name)", id="string"),
        pytest.param("label_values( http_route )", id="spaces"),
        pytest.param({"query": "label_values(service_name)", "refId": "PrometheusVariableQueryEditor-VariableQuery"}, id="object"),
    ],
)
def test_metricless_label_values_reports_cause(with_span_metrics, run_cli, query) -> None:
    set_variable_query(with_span_metrics.cluster, query)

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["status"] == "problem"
    assert result.cause_ids() == ["label-values-missing-metric"]
    check = result.check("variable-queries")
    assert check["status"] == "fail"
    found = " ".join(check["evidence"])
    assert found.startswith("grafana-dashboards-otel-native/otel-span-metrics.json: ")
    assert "label_values(" in found
    assert "3 of 4 key(s)" in found
    assert result.check("corrected-query-values")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "json"
    assert '"query": "label_values(traces_spanmetrics_calls_total, service_name)"' in patch["content"]
    assert '"uid": "prometheus"' in patch["content"]


def test_metric_selector_form_passes(with_span_metrics, run_cli) -> None:
    set_variable_query(with_span_metrics.cluster, 'label_values(traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"}, service_name)')

    result = diagnose(run_cli)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.check("variable-queries")["status"] == "pass"


def test_no_span_metrics_fails_corrected_query(without_span_metrics, run_cli) -> None:
    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == []
    corrected = result.check("corrected-query-values")
    assert corrected["status"] == "fail"
    assert "has service_name values: no ([])" in " ".join(corrected["evidence"])
    assert result.check("variable-queries")["status"] == "pass"


def test_unparsable_dashboard_is_only_noted(with_span_metrics, run_cli) -> None:
    set_config_text(with_span_metrics.cluster, CONFIGMAP, KEY, '{"templating": ')

    result = diagnose(run_cli)

    assert result.exit_code == 0, result.stdout + result.stderr
    check = result.check("variable-queries")
    assert check["status"] == "pass"
    assert "otel-span-metrics.json does not parse" in " ".join(check["evidence"])


@pytest.mark.parametrize("text", ["변수 드롭다운에 아무것도 안 나와요", "dashboard dropdown is empty", "label_values(service_name) 쿼리"])
def test_symptom_selects_playbook(with_span_metrics, run_cli, text: str) -> None:
    set_variable_query(with_span_metrics.cluster, "label_values(service_name)")

    result = run_cli("diagnose", text, "--json")

    assert result.json["playbook"]["id"] == PLAYBOOK
    assert result.cause_ids() == ["label-values-missing-metric"]


def test_korean_report_by_default(with_span_metrics, run_cli) -> None:
    set_variable_query(with_span_metrics.cluster, "label_values(service_name)")

    result = run_cli("diagnose", "서비스 선택 드롭다운이 비었어요", "--playbook", PLAYBOOK)

    assert result.exit_code == 1
    assert "변수 쿼리 label_values()에 메트릭 이름이 빠짐" in result.stdout
    assert "label_values(traces_spanmetrics_calls_total, service_name)" in result.stdout
