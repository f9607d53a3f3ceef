"""grafana-dashboard-provisioning against the sandbox cluster."""

from __future__ import annotations

import pytest

from tests.support.stack import (
    container,
    edit_dashboard,
    edit_grafana_provisioning,
    pod_name,
    set_config_text,
    set_logs,
)

PLAYBOOK = "grafana-dashboard-provisioning"
SLO_CONFIGMAP = "grafana-dashboards-slo"
SLO_KEY = "slo-overview.json"

# A trailing comma after the last member: line 4, column 1 is where the parser gives up.
BROKEN_JSON = '{\n  "uid": "slo-overview",\n  "title": "SLO Overview",\n}\n'

GRAFANA_LOG_LOAD_FAILURE = (
    'logger=provisioning.dashboard type=file name=v3-slo t=2026-12-04T09:10:13.201Z level=error '
    'msg="failed to load dashboard from " file=/var/lib/grafana/dashboards/v3/slo/slo-overview.json '
    "error=\"invalid character '}' looking for beginning of object key string\"\n"
)
GRAFANA_LOG_PATH_FAILURE = (
    "logger=provisioning.dashboard type=file name=v3-slo t=2026-12-04T09:10:13.201Z level=error "
    'msg="Cannot read directory" error="stat /var/lib/grafana/dashboards/slo: no such file or directory"\n'
)


def diagnose(run_cli):
    return run_cli("diagnose", "dashboards not showing up in grafana", "--playbook", PLAYBOOK, "--json", "--lang", "en")


def evidence(result, check_id: str) -> str:
    return " ".join(result.check(check_id)["evidence"])


def set_provider_path(cluster, provider: str, path: str) -> None:
    def edit(config):
        next(item for item in config["providers"] if item["name"] == provider)["options"]["path"] = path

    edit_grafana_provisioning(cluster, "dashboards.yaml", edit)


def test_healthy_stack_is_healthy(sandbox, run_cli) -> None:
    result = diagnose(run_cli)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}
    assert "4 of 4 key(s) in 4 ConfigMap(s)" in evidence(result, "dashboard-json-valid")
    assert "(configmap grafana-dashboards-slo)" in evidence(result, "provider-path-mounts")


def test_invalid_json_names_configmap_line_column(sandbox, run_cli) -> None:
    set_config_text(sandbox.cluster, SLO_CONFIGMAP, SLO_KEY, BROKEN_JSON)

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["dashboard-json-invalid"]
    check = result.check("dashboard-json-valid")
    assert check["status"] == "fail"
    found = evidence(result, "dashboard-json-valid")
    assert "configmap wealist-prod/grafana-dashboards-slo key slo-overview.json" in found
    assert "at line 4, column 1" in found
    assert "3 of 4 key(s)" in found
    assert result.check("dashboard-datasource-refs")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "shell"
    assert 'jq empty "$f"' in patch["content"]
    assert "k8s/helm/charts/wealist-monitoring/dashboards-v3/*/*.json" in patch["content"]


def test_load_error_log_reports_cause(sandbox, run_cli) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "grafana"), GRAFANA_LOG_LOAD_FAILURE)

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-json-invalid"]
    assert result.check("grafana-log-dashboard-load")["status"] == "fail"
    assert result.check("dashboard-json-valid")["status"] == "pass"


def test_provider_path_without_mount(sandbox, run_cli) -> None:
    set_provider_path(sandbox.cluster, "v3-slo", "/var/lib/grafana/dashboards/slo")

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert result.check("provider-paths")["status"] == "fail"
    assert "a provider reads the slo folder: no" in evidence(result, "provider-paths")
    mounts = result.check("provider-path-mounts")
    assert mounts["status"] == "fail"
    assert "/var/lib/grafana/dashboards/slo is not inside any volumeMount of deployment/grafana" in evidence(result, "provider-path-mounts")
    assert result.check("dashboard-mounts")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "k8s/helm/charts/wealist-monitoring/templates/grafana/configmap.yaml"
    assert "path: /var/lib/grafana/dashboards/v3/slo" in patch["content"]
    assert "mountPath: /var/lib/grafana/dashboards/v3/slo" in patch["content"]


def test_missing_mount_reports_cause(sandbox, run_cli) -> None:
    mounts = container(sandbox.cluster, "grafana")["volumeMounts"]
    mounts[:] = [mount for mount in mounts if mount["name"] != "dashboards-logs"]

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert "the logs folder is mounted: no" in evidence(result, "dashboard-mounts")
    assert "/var/lib/grafana/dashboards/v3/logs is not inside any volumeMount" in evidence(result, "provider-path-mounts")
    assert result.check("provider-paths")["status"] == "pass"


def test_missing_dashboard_configmap_reports_cause(sandbox, run_cli) -> None:
    sandbox.cluster.delete("ConfigMap", "wealist-prod", "grafana-dashboards-application")

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert "mounted from configmap wealist-prod/grafana-dashboards-application, which does not exist" in evidence(
        result, "provider-path-mounts"
    )
    assert result.check("dashboard-mounts")["status"] == "pass"


def test_mount_without_volume_reports_cause(sandbox, run_cli) -> None:
    pod_spec = sandbox.cluster.get("Deployment", "wealist-prod", "grafana")["spec"]["template"]["spec"]
    pod_spec["volumes"] = [volume for volume in pod_spec["volumes"] if volume["name"] != "dashboards-slo"]

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert "names volume dashboards-slo, which the pod spec does not define" in evidence(result, "provider-path-mounts")
    assert result.check("dashboard-mounts")["status"] == "pass"


def test_missing_provider_reports_cause(sandbox, run_cli) -> None:
    def drop_otel_native(config):
        config["providers"] = [item for item in config["providers"] if item["name"] != "v3-otel-native"]

    edit_grafana_provisioning(sandbox.cluster, "dashboards.yaml", drop_otel_native)

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert "a provider reads the otel-native folder: no" in evidence(result, "provider-paths")
    assert result.check("provider-path-mounts")["status"] == "pass"


def test_path_error_in_log_reports_cause(sandbox, run_cli) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "grafana"), GRAFANA_LOG_PATH_FAILURE)

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-provider-path-wrong"]
    assert result.check("grafana-log-provider-path")["status"] == "fail"
    assert result.check("grafana-log-dashboard-load")["status"] == "pass"


@pytest.mark.parametrize(
    "export",
    [
        pytest.param({"inputs": True, "uid": "${DS_PROMETHEUS}"}, id="inputs-and-uid"),
        pytest.param({"inputs": False, "uid": "${DS_PROMETHEUS}"}, id="uid-only"),
        pytest.param({"inputs": True, "uid": "prometheus"}, id="inputs-only"),
    ],
)
def test_ui_export_inputs_report_cause(sandbox, run_cli, export: dict) -> None:
    def as_exported(dashboard):
        if export["inputs"]:
            dashboard["__inputs"] = [
                {"name": "DS_PROMETHEUS", "label": "Prometheus", "type": "datasource", "pluginId": "prometheus"}
            ]
        dashboard["panels"][0]["datasource"]["uid"] = export["uid"]

    edit_dashboard(sandbox.cluster, "grafana-dashboards-application", "app-red-metrics.json", as_exported)

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["dashboard-ds-inputs"]
    check = result.check("dashboard-datasource-refs")
    assert check["status"] == "fail"
    found = evidence(result, "dashboard-datasource-refs")
    assert found.startswith("grafana-dashboards-application/app-red-metrics.json: ")
    assert "3 of 4 key(s)" in found
    assert result.check("dashboard-json-valid")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert "s/\\${DS_PROMETHEUS}/prometheus/g" in patch["content"]
    assert "del(.__inputs, .__requires)" in patch["content"]


def test_string_datasource_input_in_row(sandbox, run_cli) -> None:
    def add_collapsed_row(dashboard):
        dashboard["panels"].append({"type": "row", "collapsed": True, "panels": [{"type": "timeseries", "datasource": "${DS_TEMPO}"}]})

    edit_dashboard(sandbox.cluster, "grafana-dashboards-otel-native", "otel-span-metrics.json", add_collapsed_row)

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-ds-inputs"]
    assert "${DS_TEMPO}" in evidence(result, "dashboard-datasource-refs")


def test_invalid_json_is_not_ds_inputs(sandbox, run_cli) -> None:
    set_config_text(sandbox.cluster, SLO_CONFIGMAP, SLO_KEY, '{"__inputs": [{"name": "DS_PROMETHEUS"}],')

    result = diagnose(run_cli)

    assert result.cause_ids() == ["dashboard-json-invalid"]
    refs = result.check("dashboard-datasource-refs")
    assert refs["status"] == "pass"
    assert "does not parse" in " ".join(refs["evidence"])


def test_no_dashboard_configmaps_is_error(sandbox, run_cli) -> None:
    for folder in ("otel-native", "application", "logs", "slo"):
        sandbox.cluster.get("ConfigMap", "wealist-prod", f"grafana-dashboards-{folder}")["metadata"]["labels"] = {}

    result = diagnose(run_cli)

    assert result.check("dashboard-json-valid")["status"] == "error"
    assert "no ConfigMap labelled grafana_dashboard=1" in evidence(result, "dashboard-json-valid")
    assert result.json["status"] == "inconclusive"


@pytest.mark.parametrize(
    ("text", "cause"),
    [
        ("대시보드가 그라파나에 안 보여요", None),
        ("대시보드 JSON 문법 오류", None),
        (GRAFANA_LOG_LOAD_FAILURE.strip(), "dashboard-json-invalid"),
        ("parse error: Expected separator between values at line 4, column 1", None),
        ("Failed to upgrade legacy queries Datasource ${DS_PROMETHEUS} was not found", None),
    ],
)
def test_symptom_selects_playbook(sandbox, run_cli, text: str, cause: str | None) -> None:
    if cause is not None:
        set_logs(sandbox.cluster, pod_name(sandbox.cluster, "grafana"), GRAFANA_LOG_LOAD_FAILURE)

    result = run_cli("diagnose", text, "--json")

    assert result.json["playbook"]["id"] == PLAYBOOK
    assert result.cause_ids() == ([cause] if cause else [])


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_config_text(sandbox.cluster, SLO_CONFIGMAP, SLO_KEY, BROKEN_JSON)

    result = run_cli("diagnose", "대시보드 프로비저닝 실패", "--playbook", PLAYBOOK)

    assert result.exit_code == 1
    assert "대시보드 JSON 문법 오류" in result.stdout
    assert "slo-overview.json 키 파싱 실패 (4행 1열)" in result.stdout
