"""tempo-metrics-generator against the sandbox cluster's Tempo config and per-tenant overrides."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from bot.sandbox import FakeCluster
from tests.support.stack import NAMESPACE, edit_tempo_config, pod_name, set_logs

PHRASE = "tempo metrics generator produces no metrics"

TEMPO_REMOTE_WRITE_FAILED = (
    "level=warn ts=2026-12-04T09:31:02.118Z caller=dedupe.go:112 tenant=single-tenant component=remote "
    'remote_name=5d3a1f url=http://prometheus:9091/api/v1/write msg="Failed to send batch, retrying" '
    'err="Post \\"http://prometheus:9091/api/v1/write\\": dial tcp 10.43.12.9:9091: connect: connection refused"\n'
)


def set_tenant_overrides(cluster: FakeCluster, tenants: dict[str, Any]) -> None:
    """Point Tempo at /conf/overrides.yaml and store ``tenants`` there, as the Helm chart lays it out."""
    edit_tempo_config(cluster, lambda config: config["overrides"].update(per_tenant_override_config="/conf/overrides.yaml"))
    with cluster.lock:
        cluster.get("ConfigMap", NAMESPACE, "tempo")["data"]["overrides.yaml"] = yaml.safe_dump({"overrides": tenants})


def assert_only_cause(result, cause_id: str) -> dict:
    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "tempo-metrics-generator"
    assert result.json["status"] == "problem"
    assert result.cause_ids() == [cause_id]
    return result.json["causes"][0]


@pytest.mark.parametrize("phrase", [PHRASE, "메트릭 제너레이터 활성화했는데 메트릭이 안 나와요"])
def test_healthy_stack_reports_healthy(sandbox, run_cli, phrase: str) -> None:
    result = run_cli("diagnose", phrase, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "tempo-metrics-generator"
    assert result.json["status"] == "healthy"
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


@pytest.mark.parametrize(
    "url",
    [
        "http://prometheus:9091/api/v1/write",
        "http://prometheus:9090/api/v1/push",
        "http://prometheus-server:9090/api/v1/write",
        "prometheus:9090/api/v1/write",
    ],
)
def test_wrong_remote_write_url(sandbox, run_cli, url: str) -> None:
    edit_tempo_config(sandbox.cluster, lambda config: config["metrics_generator"]["storage"]["remote_write"][0].update(url=url))

    result = run_cli("diagnose", PHRASE, "--json")

    cause = assert_only_cause(result, "metrics-generator-remote-write-wrong")
    check = result.check("tempo-remote-write-url")
    assert check["status"] == "fail"
    assert url in " ".join(check["evidence"])
    assert cause["patch"]["path"] == "ConfigMap tempo, key tempo.yaml"
    assert "url: http://prometheus:9090/api/v1/write" in cause["patch"]["content"]


def test_missing_remote_write_is_wrong(sandbox, run_cli) -> None:
    edit_tempo_config(sandbox.cluster, lambda config: config["metrics_generator"]["storage"].pop("remote_write"))

    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "metrics-generator-remote-write-wrong")


def test_remote_write_failures_in_tempo_log(sandbox, run_cli) -> None:
    edit_tempo_config(sandbox.cluster, lambda config: config["metrics_generator"]["storage"]["remote_write"][0].update(url="http://prometheus:9091/api/v1/write"))
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "tempo"), TEMPO_REMOTE_WRITE_FAILED * 2)

    result = run_cli("diagnose", PHRASE, "--json")

    assert_only_cause(result, "metrics-generator-remote-write-wrong")
    assert result.check("tempo-remote-write-errors")["status"] == "fail"


def test_pasted_remote_write_line_matches_signature(run_cli) -> None:
    result = run_cli("match", TEMPO_REMOTE_WRITE_FAILED.strip(), "--json")

    matches = {item["playbook"]: item for item in result.json["matches"]}
    assert matches["tempo-metrics-generator"]["via"] == "signature"
    assert matches["tempo-metrics-generator"]["score"] >= 0.9


@pytest.mark.parametrize(
    "overrides",
    [
        {"defaults": {"metrics_generator": {"processors": ["span-metrics"]}}},
        {"defaults": {}},
        {},
        {"metrics_generator_processors": ["service-graphs"]},
    ],
)
def test_processors_missing_from_defaults(sandbox, run_cli, overrides: dict) -> None:
    edit_tempo_config(sandbox.cluster, lambda config: config.update(overrides=overrides))

    result = run_cli("diagnose", PHRASE, "--json")

    cause = assert_only_cause(result, "metrics-generator-processors-missing")
    assert result.check("tempo-default-processors")["status"] == "fail"
    assert "processors: [service-graphs, span-metrics]" in cause["patch"]["content"]
    assert cause["patch"]["path"] == "ConfigMap tempo, key tempo.yaml"


def test_legacy_processors_key_is_healthy(sandbox, run_cli) -> None:
    edit_tempo_config(sandbox.cluster, lambda config: config.update(overrides={"metrics_generator_processors": ["service-graphs", "span-metrics"]}))

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("tempo-default-processors")["status"] == "pass"


@pytest.mark.parametrize(
    "tenant_block",
    [
        {"metrics_generator": {"processors": ["span-metrics"]}},
        {"metrics_generator_processors": ["service-graphs"]},
        {"ingestion": {"rate_limit_bytes": 30000000, "burst_size_bytes": 40000000}},
    ],
)
def test_tenant_block_replaces_processors(sandbox, run_cli, tenant_block: dict) -> None:
    set_tenant_overrides(sandbox.cluster, {"team-board": tenant_block})

    result = run_cli("diagnose", "테넌트 overrides 넣고 나서 metrics generator가 멈췄어요", "--json")

    cause = assert_only_cause(result, "tempo-overrides-replace-processors")
    check = result.check("tempo-tenant-processors")
    assert check["status"] == "fail"
    assert result.check("tempo-default-processors")["status"] == "pass"
    assert cause["patch"]["path"] == "ConfigMap tempo, key overrides.yaml"
    assert "processors: [service-graphs, span-metrics]" in cause["patch"]["content"]


def test_tenant_block_with_processors_is_healthy(sandbox, run_cli) -> None:
    set_tenant_overrides(
        sandbox.cluster,
        {
            "team-board": {"metrics_generator": {"processors": ["service-graphs", "span-metrics", "local-blocks"]}},
            "*": {"metrics_generator": {"processors": ["span-metrics", "service-graphs"]}},
        },
    )

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("tempo-tenant-processors")["status"] == "pass"


def test_overrides_file_unused_without_config(sandbox, run_cli) -> None:
    with sandbox.cluster.lock:
        data = sandbox.cluster.get("ConfigMap", NAMESPACE, "tempo")["data"]
        data["overrides.yaml"] = yaml.safe_dump({"overrides": {"team-board": {"metrics_generator": {"processors": []}}}})

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("tempo-tenant-processors")["status"] == "pass"


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_tenant_overrides(sandbox.cluster, {"team-board": {"ingestion": {"rate_limit_bytes": 30000000}}})

    result = run_cli("diagnose", PHRASE)

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "테넌트별 overrides가 프로세서 설정을 덮어써서 꺼 버림" in result.stdout
