"""remote-write-refused against the sandbox cluster and a real Prometheus."""

from __future__ import annotations

import json

import pytest

from bot.sandbox import Route
from tests.support.prometheus import PrometheusProcess
from tests.support.stack import (
    edit_collector_config,
    pod_name,
    set_collector_metric,
    set_logs,
    set_prometheus_receiver_flag,
    set_prometheus_unready,
    use_prometheus_feature_flag,
)

FAILED_SENDS = 'otelcol_exporter_send_failed_metric_points_total{exporter="prometheusremotewrite"}'


@pytest.fixture
def with_receiver(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


def _set_endpoint(sandbox, endpoint: str) -> None:
    def edit(config) -> None:
        config["exporters"]["prometheusremotewrite"]["endpoint"] = endpoint

    edit_collector_config(sandbox.cluster, edit)


def _collector_log(sandbox, error: str) -> None:
    line = (
        '2026-12-04T09:01:12.481Z\terror\tinternal/queue_sender.go:103\tExporting failed. Dropping data.\t'
        f'{{"kind": "exporter", "data_type": "metrics", "name": "prometheusremotewrite", "error": "{error}", "dropped_items": 412}}'
    )
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "otel-collector"), line + "\n")


def test_healthy_stack_is_healthy(with_receiver, run_cli) -> None:
    result = run_cli("diagnose", "remote write failing", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-refused"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_endpoint_without_scheme(with_receiver, run_cli) -> None:
    _set_endpoint(with_receiver, "prometheus:9090/api/v1/write")
    _collector_log(with_receiver, 'Permanent error: Post \\"prometheus:9090/api/v1/write\\": unsupported protocol scheme \\"prometheus\\"')

    result = run_cli("diagnose", "remote write connection refused", "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["remote-write-endpoint-scheme"]
    assert result.check("remote-write-endpoint-scheme")["status"] == "fail"
    assert result.check("remote-write-endpoint-service")["status"] == "pass"
    assert result.check("remote-write-endpoint-path")["status"] == "pass"
    assert result.check("collector-remote-write-errors")["status"] == "fail"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "endpoint: http://prometheus:9090/api/v1/write" in patch["content"]


@pytest.mark.parametrize(
    ("endpoint", "failed_check", "evidence"),
    [
        ("http://prometheus-server:9090/api/v1/write", "remote-write-endpoint-service", "does not exist"),
        ("http://prometheus:9091/api/v1/write", "remote-write-endpoint-service", "does not expose port 9091"),
        ("http://prometheus:9090/api/v1/push", "remote-write-endpoint-path", "/api/v1/push"),
    ],
    ids=["unknown-service", "wrong-port", "wrong-path"],
)
def test_endpoint_not_pointing_at_prometheus(with_receiver, run_cli, endpoint: str, failed_check: str, evidence: str) -> None:
    _set_endpoint(with_receiver, endpoint)

    result = run_cli("diagnose", "connection refused to prometheus:9090/api/v1/write", "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["remote-write-endpoint-wrong"]
    check = result.check(failed_check)
    assert check["status"] == "fail"
    assert evidence in " ".join(check["evidence"])
    assert result.check("remote-write-endpoint-scheme")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert "endpoint: http://prometheus:9090/api/v1/write" in patch["content"]
    assert "prometheus.wealist-prod.svc.cluster.local:9090" in patch["content"]


def test_prometheus_down(sandbox, run_cli) -> None:
    set_prometheus_unready(sandbox.cluster)
    sandbox.unroute_service("prometheus", 9090)
    _collector_log(sandbox, 'Permanent error: Post \\"http://prometheus:9090/api/v1/write\\": dial tcp 10.43.12.7:9090: connect: connection refused')

    result = run_cli("diagnose", "프로메테우스 파드가 죽어서 remote write 실패", "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-refused"
    assert result.cause_ids() == ["prometheus-unavailable"]
    assert result.check("prometheus-ready-replicas")["status"] == "fail"
    assert result.check("prometheus-ready-endpoints")["status"] == "fail"
    assert result.check("prometheus-flag-live")["status"] == "error"
    assert result.check("remote-write-endpoint-service")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert "kubectl describe deploy prometheus -n wealist-prod" in patch["content"]


def test_receiver_disabled(sandbox, prometheus_without_receiver: PrometheusProcess, run_cli) -> None:
    set_prometheus_receiver_flag(sandbox.cluster, enabled=False)
    sandbox.route_service("prometheus", 9090, prometheus_without_receiver.url)
    set_collector_metric(sandbox.backends["otel-collector"], FAILED_SENDS, 412)
    _collector_log(sandbox, "Permanent error: remote write returned HTTP status 404 Not Found; err = <nil>: remote write receiver needs to be enabled")

    result = run_cli("diagnose", "Error exporting items, retrying... connection refused to prometheus:9090/api/v1/write", "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-refused"
    assert result.cause_ids() == ["remote-write-receiver-disabled"]
    assert result.check("prometheus-flag-live")["status"] == "fail"
    assert result.check("collector-remote-write-failures")["status"] == "fail"
    assert result.check("collector-remote-write-errors")["status"] == "fail"
    assert "--web.enable-remote-write-receiver" in result.json["causes"][0]["patch"]["content"]


def test_prometheus_3_feature_flag(sandbox, run_cli) -> None:
    use_prometheus_feature_flag(sandbox.cluster)
    backend = sandbox.backends["prometheus"]
    build = {"status": "success", "data": {"version": "3.2.1", "revision": "804c49d", "goVersion": "go1.23.6"}}
    flags = {"status": "success", "data": {"web.enable-remote-write-receiver": "false", "enable-feature": "remote-write-receiver"}}
    backend.set_route(Route(path="/api/v1/status/buildinfo", body=json.dumps(build).encode()))
    backend.set_route(Route(path="/api/v1/status/flags", body=json.dumps(flags).encode()))

    result = run_cli("diagnose", "프로메테우스 3으로 올렸더니 remote write가 거부돼요", "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "remote-write-refused"
    assert result.cause_ids() == ["prometheus-3-feature-flag"]
    assert result.check("prometheus-v3-feature-flag")["status"] == "fail"
    assert result.check("prometheus-args")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert "remove --enable-feature=remote-write-receiver" in patch["content"]
    assert "- --web.enable-remote-write-receiver" in patch["content"]


def test_managed_prometheus_endpoint_is_not_flagged(with_receiver, run_cli) -> None:
    _set_endpoint(with_receiver, "https://aps-workspaces.ap-northeast-2.amazonaws.com/workspaces/ws-4f2c9b1e/api/v1/remote_write")

    result = run_cli("diagnose", "remote write failing", "--json", "--lang", "en")

    assert result.exit_code == 0, result.stdout
    assert result.check("remote-write-endpoint-path")["status"] == "pass"
    service = result.check("remote-write-endpoint-service")
    assert service["status"] == "pass"
    assert "outside the cluster" in " ".join(service["evidence"])


def test_korean_report(sandbox, run_cli) -> None:
    _set_endpoint(sandbox, "prometheus:9090/api/v1/write")

    result = run_cli("diagnose", "리모트 라이트가 안 돼요")

    assert result.exit_code == 1
    assert "prometheusremotewrite endpoint에 http:// 스킴이 없음" in result.stdout
    assert "endpoint: http://prometheus:9090/api/v1/write" in result.stdout
