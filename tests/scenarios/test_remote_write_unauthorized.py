"""remote-write-unauthorized against the sandbox cluster with an AWS Managed Prometheus endpoint."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from tests.support.stack import edit_collector_config, pod_name, set_collector_metric, set_logs

AMP_ENDPOINT = "https://aps-workspaces.ap-northeast-2.amazonaws.com/workspaces/ws-4f2c9b1e-7d3a-4c55-9e0b-2a1f6c8d9e70/api/v1/remote_write"
FAILED_SENDS = 'otelcol_exporter_send_failed_metric_points_total{exporter="prometheusremotewrite"}'
UNAUTHORIZED_LINE = (
    '2026-12-04T09:03:41.220Z\terror\tinternal/queue_sender.go:103\tExporting failed. Dropping data.\t'
    '{"kind": "exporter", "data_type": "metrics", "name": "prometheusremotewrite", '
    '"error": "Permanent error: Permanent error: remote write returned HTTP status 401 Unauthorized; err = <nil>: ", "dropped_items": 390}\n'
)


def _use_amp(sandbox, *, edit: Callable[[dict[str, Any]], None] | None = None) -> None:
    """Point prometheusremotewrite at AMP with a complete sigv4auth setup, then apply ``edit``."""

    def configure(config: dict[str, Any]) -> None:
        config["exporters"]["prometheusremotewrite"] = {"endpoint": AMP_ENDPOINT, "auth": {"authenticator": "sigv4auth"}}
        config["extensions"]["sigv4auth"] = {"region": "ap-northeast-2", "service": "aps"}
        config["service"]["extensions"] = ["health_check", "sigv4auth"]
        if edit is not None:
            edit(config)

    edit_collector_config(sandbox.cluster, configure)


def _unauthorized_sends(sandbox) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "otel-collector"), UNAUTHORIZED_LINE)
    set_collector_metric(sandbox.backends["otel-collector"], FAILED_SENDS, 390)


def _drop_auth(config) -> None:
    del config["exporters"]["prometheusremotewrite"]["auth"]


def _drop_extension(config) -> None:
    del config["extensions"]["sigv4auth"]


def _unlist_extension(config) -> None:
    config["service"]["extensions"] = ["health_check"]


def _wrong_region(config) -> None:
    config["extensions"]["sigv4auth"]["region"] = "us-east-1"


def _wrong_service(config) -> None:
    config["extensions"]["sigv4auth"]["service"] = "execute-api"


def _infer_region_and_service(config) -> None:
    config["extensions"]["sigv4auth"] = {}


def test_in_cluster_prometheus_is_healthy(sandbox, run_cli) -> None:
    result = run_cli("diagnose", "remote write 401 unauthorized", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-unauthorized"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_complete_sigv4_setup_is_healthy(sandbox, run_cli) -> None:
    _use_amp(sandbox)

    result = run_cli("diagnose", "remote write 401 unauthorized", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.json["status"] == "healthy"


def test_region_and_service_inferred_when_unset(sandbox, run_cli) -> None:
    # sigv4auth infers both from an aps-workspaces.<region>.amazonaws.com endpoint.
    _use_amp(sandbox, edit=_infer_region_and_service)

    result = run_cli("diagnose", "remote write 401 unauthorized", "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("sigv4auth-settings")["status"] == "pass"


def test_amp_endpoint_without_authenticator(sandbox, run_cli) -> None:
    _use_amp(sandbox, edit=_drop_auth)
    _unauthorized_sends(sandbox)

    result = run_cli("diagnose", "status code: 401, response: Unauthorized", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-unauthorized"
    assert result.cause_ids() == ["sigv4-auth-missing"]
    check = result.check("amp-exporter-authenticator")
    assert check["status"] == "fail"
    assert AMP_ENDPOINT in " ".join(check["evidence"])
    assert result.check("sigv4auth-extension")["status"] == "pass"
    assert result.check("collector-auth-errors")["status"] == "fail"
    assert result.check("collector-remote-write-failures")["status"] == "fail"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "authenticator: sigv4auth" in patch["content"]
    assert "service: aps" in patch["content"]
    assert "https://aps-workspaces.{region}.amazonaws.com/workspaces/{workspace_id}/api/v1/remote_write" in patch["content"]


@pytest.mark.parametrize(
    ("edit", "failed_check", "evidence"),
    [
        (_drop_extension, "sigv4auth-extension", "sigv4auth is defined under extensions: no"),
        (_unlist_extension, "sigv4auth-extension", "service.extensions lists sigv4auth: no"),
        (_wrong_region, "sigv4auth-settings", "region matches the endpoint's region (inferred from the endpoint when unset): no"),
        (_wrong_service, "sigv4auth-settings", "service is aps (inferred from the endpoint when unset): no"),
    ],
    ids=["extension-missing", "extension-not-enabled", "wrong-region", "wrong-service"],
)
def test_sigv4auth_extension_problems(sandbox, run_cli, edit, failed_check: str, evidence: str) -> None:
    _use_amp(sandbox, edit=edit)
    _unauthorized_sends(sandbox)

    result = run_cli("diagnose", "AMP remote write authentication error", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["sigv4-auth-missing"]
    check = result.check(failed_check)
    assert check["status"] == "fail"
    assert evidence in " ".join(check["evidence"])
    assert result.check("amp-exporter-authenticator")["status"] == "pass"


def test_pasted_exporter_line_matches(sandbox, run_cli) -> None:
    _use_amp(sandbox, edit=_drop_auth)

    result = run_cli("diagnose", UNAUTHORIZED_LINE.strip(), "--json")

    assert result.json["playbook"]["id"] == "remote-write-unauthorized"
    assert result.cause_ids() == ["sigv4-auth-missing"]


def test_korean_report(sandbox, run_cli) -> None:
    _use_amp(sandbox, edit=_drop_auth)

    result = run_cli("diagnose", "AMP로 메트릭 전송하면 401 떠요")

    assert result.exit_code == 1
    assert "AWS Managed Prometheus로 보내는 요청에 SigV4 서명이 없음" in result.stdout
    assert "authenticator: sigv4auth" in result.stdout
