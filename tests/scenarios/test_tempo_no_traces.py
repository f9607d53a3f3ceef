"""tempo-no-traces against the sandbox cluster, fixture Tempo and a real Prometheus for volume stats."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from bot.sandbox import FixtureBackend, Route
from tests.support.prometheus import SPAN_METRICS, PrometheusProcess
from tests.support.readonly import assert_read_only
from tests.support.stack import edit_collector_config, edit_tempo_config, pod_name, set_logs, set_ready_replicas

PHRASE = "tempo is not storing traces"
GIB = 1024**3

COLLECTOR_REFUSED = (
    "2026-12-04T09:12:01.512Z\tinfo\tinternal/retry_sender.go:126\tExporting failed. Will retry the request after interval.\t"
    '{"kind": "exporter", "data_type": "traces", "name": "otlp/tempo", "error": "rpc error: code = Unavailable desc = '
    'connection error: desc = \\"transport: Error while dialing: dial tcp 10.43.128.17:4317: connect: connection refused\\"", '
    '"interval": "5.224s"}\n'
)
TEMPO_DISK_FULL = (
    'level=error ts=2026-12-04T09:20:11.402Z caller=flush.go:221 msg="error cutting block" userid=single-tenant '
    'err="error creating block: write /var/tempo/wal/blocks/single-tenant/8c1f.../0000000001: no space left on device"\n'
)


def volume_stats(used_bytes: float, capacity_bytes: float = 20 * GIB) -> str:
    """Kubelet volume stats for the Tempo PVC, in Prometheus text format."""
    labels = 'namespace="wealist-prod",persistentvolumeclaim="tempo",node="worker-1"'
    return (
        "# TYPE kubelet_volume_stats_capacity_bytes gauge\n"
        f"kubelet_volume_stats_capacity_bytes{{{labels}}} {capacity_bytes:.0f}\n"
        "# TYPE kubelet_volume_stats_used_bytes gauge\n"
        f"kubelet_volume_stats_used_bytes{{{labels}}} {used_bytes:.0f}\n"
    )


def prometheus_scraping(data_dir: Path, text: str) -> tuple[FixtureBackend, PrometheusProcess]:
    """Start an exporter serving ``text`` and a real Prometheus that has scraped it."""
    exporter = FixtureBackend([Route(path="/metrics", body=text.encode(), content_type="text/plain; version=0.0.4")], name="kubelet-exporter").start()
    try:
        # start() returns once the span metrics in the same scrape are queryable.
        process = PrometheusProcess(data_dir, remote_write_receiver=True, scrape_url=exporter.url).start()
    except BaseException:
        exporter.stop()
        raise
    return exporter, process


@pytest.fixture(scope="module")
def prometheus_volume_ok(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    exporter, process = prometheus_scraping(tmp_path_factory.mktemp("prom-volume-ok"), SPAN_METRICS + volume_stats(8.2 * GIB))
    yield process
    process.stop()
    exporter.stop()
    assert_read_only(exporter)


@pytest.fixture(scope="module")
def prometheus_volume_full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    exporter, process = prometheus_scraping(tmp_path_factory.mktemp("prom-volume-full"), SPAN_METRICS + volume_stats(19 * GIB))
    yield process
    process.stop()
    exporter.stop()
    assert_read_only(exporter)


def assert_only_cause(result, cause_id: str) -> dict:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "tempo-no-traces"
    assert result.json["status"] == "problem"
    assert result.cause_ids() == [cause_id]
    return result.json["causes"][0]


@pytest.mark.parametrize("phrase", [PHRASE, "트레이스가 저장되지 않아요"])
def test_healthy_stack_reports_healthy(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "tempo-no-traces"
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_healthy_with_real_prometheus(sandbox, run_cli, prometheus_volume_ok: PrometheusProcess) -> None:
    sandbox.route_service("prometheus", 9090, prometheus_volume_ok.url)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.json["status"] == "healthy"
    assert result.check("tempo-volume-usage")["status"] == "pass"


@pytest.mark.parametrize(
    ("endpoint", "check_id"),
    [
        ("tempo:4318", "collector-tempo-grpc-endpoint"),
        ("http://tempo:4317", "collector-tempo-grpc-endpoint"),
        ("tempo-distributor:4317", "collector-tempo-grpc-endpoint"),
    ],
)
def test_grpc_endpoint_mismatch(sandbox, run_cli, endpoint: str, check_id: str) -> None:
    def point(config):
        config["exporters"]["otlp/tempo"]["endpoint"] = endpoint

    edit_collector_config(sandbox.cluster, point)
    result = run_cli("diagnose", PHRASE, "--json")

    cause = assert_only_cause(result, "tempo-otlp-port-mismatch")
    assert result.check(check_id)["status"] == "fail"
    assert endpoint in " ".join(result.check(check_id)["evidence"])
    assert cause["patch"]["path"] == "ConfigMap otel-collector-config, key config.yaml"
    assert "endpoint: tempo:4317" in cause["patch"]["content"]
    assert "insecure: true" in cause["patch"]["content"]


def test_tls_not_insecure_is_mismatch(sandbox, run_cli) -> None:
    def secure(config):
        config["exporters"]["otlp/tempo"]["tls"] = {"insecure": False}

    edit_collector_config(sandbox.cluster, secure)
    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "tempo-otlp-port-mismatch")
    assert result.check("collector-tempo-grpc-tls")["status"] == "fail"
    assert result.check("collector-tempo-grpc-endpoint")["status"] == "pass"


@pytest.mark.parametrize("endpoint", ["http://tempo:4317", "tempo:4318", "https://tempo:4318"])
def test_otlphttp_exporter_off_4318(sandbox, run_cli, endpoint: str) -> None:
    def add_http(config):
        config["exporters"]["otlphttp/tempo"] = {"endpoint": endpoint}

    edit_collector_config(sandbox.cluster, add_http)
    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "tempo-otlp-port-mismatch")
    assert result.check("collector-tempo-http-endpoint")["status"] == "fail"


def test_otlphttp_exporter_on_4318_passes(sandbox, run_cli) -> None:
    def add_http(config):
        config["exporters"]["otlphttp/tempo"] = {"endpoint": "http://tempo.wealist-prod.svc:4318"}

    edit_collector_config(sandbox.cluster, add_http)
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("collector-tempo-http-endpoint")["status"] == "pass"


def test_refused_exports_in_collector_log(sandbox, run_cli) -> None:
    def point(config):
        config["exporters"]["otlp/tempo"]["endpoint"] = "tempo:4318"

    edit_collector_config(sandbox.cluster, point)
    pod = pod_name(sandbox.cluster, "otel-collector")
    set_logs(sandbox.cluster, pod, COLLECTOR_REFUSED * 3)

    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "tempo-otlp-port-mismatch")
    errors = result.check("collector-tempo-export-errors")
    assert errors["status"] == "fail"
    assert any("Exporting failed. Will retry" in line for line in errors["evidence"])


def test_pasted_refused_line_selects_playbook(sandbox, run_cli) -> None:
    result = run_cli("diagnose", COLLECTOR_REFUSED.strip(), "--json")

    assert result.json["playbook"]["id"] == "tempo-no-traces"
    assert result.exit_code == 0, result.stdout


def test_volume_over_90_percent_is_full(sandbox, run_cli, prometheus_volume_full: PrometheusProcess) -> None:
    sandbox.route_service("prometheus", 9090, prometheus_volume_full.url)

    result = run_cli("diagnose", PHRASE, "--json")

    cause = assert_only_cause(result, "tempo-storage-full")
    usage = result.check("tempo-volume-usage")
    assert usage["status"] == "fail"
    assert "0.95" in " ".join(usage["evidence"])
    assert result.check("tempo-disk-errors")["status"] == "pass"
    assert cause["patch"]["path"] == "PersistentVolumeClaim tempo (namespace wealist-prod)"
    assert "storage:" in cause["patch"]["content"]


def test_no_space_log_is_storage_full(sandbox, run_cli) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "tempo"), TEMPO_DISK_FULL)

    result = run_cli("diagnose", "템포 디스크 꽉 찬 것 같아요", "--json")

    assert_only_cause(result, "tempo-storage-full")
    assert result.check("tempo-disk-errors")["status"] == "fail"
    assert result.check("tempo-volume-usage")["status"] == "pass"


def test_ready_503_is_not_ready(sandbox, run_cli) -> None:
    body = b"Ingester not ready: ingester check ready failed: waiting for 15s after being ready\n"
    sandbox.backends["tempo"].set_route(Route(path="/ready", status=503, body=body, content_type="text/plain; charset=utf-8"))

    result = run_cli("diagnose", "tempo not ready", "--json")

    cause = assert_only_cause(result, "tempo-not-ready")
    ready = result.check("tempo-ready")
    assert ready["status"] == "fail"
    assert any("Ingester not ready" in line for line in ready["evidence"])
    assert result.check("tempo-deployment-ready")["status"] == "pass"
    assert cause["patch"]["path"] == "k8s/helm/charts/wealist-monitoring/templates/tempo/deployment.yaml"
    assert "readinessProbe" in cause["patch"]["content"]


def test_no_ready_replicas_is_not_ready(sandbox, run_cli) -> None:
    set_ready_replicas(sandbox.cluster, "tempo", 0)

    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "tempo-not-ready")
    assert result.check("tempo-deployment-ready")["status"] == "fail"


@pytest.mark.parametrize("protocols", [{"grpc": None, "http": None}, {"grpc": {}}, {"grpc": {"endpoint": "localhost:4317"}}])
def test_unset_receiver_endpoint_tempo_2_9(sandbox, run_cli, protocols: dict) -> None:
    def unset(config):
        config["distributor"]["receivers"]["otlp"]["protocols"] = protocols

    edit_tempo_config(sandbox.cluster, unset)
    result = run_cli("diagnose", PHRASE, "--json")

    cause = assert_only_cause(result, "tempo-receiver-localhost")
    bind = result.check("tempo-receiver-bind")
    assert bind["status"] == "fail"
    assert any("2.9.0" in line for line in bind["evidence"])
    assert cause["patch"]["path"] == "ConfigMap tempo, key tempo.yaml"
    assert "endpoint: 0.0.0.0:4317" in cause["patch"]["content"]
    assert "endpoint: 0.0.0.0:4318" in cause["patch"]["content"]


def test_unset_receiver_endpoint_tempo_2_6(sandbox, run_cli) -> None:
    def unset(config):
        config["distributor"]["receivers"]["otlp"]["protocols"] = {"grpc": None, "http": None}

    edit_tempo_config(sandbox.cluster, unset)
    sandbox.backends["tempo"].set_route(Route.from_dict({"path": "/api/status/buildinfo", "json": {"version": "2.6.1", "revision": "1b4f2c0"}}))

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("tempo-receiver-bind")["status"] == "pass"


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "tempo"), TEMPO_DISK_FULL)

    result = run_cli("diagnose", "템포 디스크 꽉 찬 것 같아요")

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "Tempo 볼륨 용량이 거의 다 참" in result.stdout
    assert "df -h /var/tempo" in result.stdout
