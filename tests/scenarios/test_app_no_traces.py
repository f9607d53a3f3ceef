"""app-no-traces against the sandbox cluster and its Tempo stand-in."""

from __future__ import annotations

import pytest

from tests.support.stack import pod_name, remove_env, set_env, set_logs, set_tempo_search

PHRASE = "user-service is not sending traces"
SERVICE_QUERY = '{ resource.service.name = "user-service" }'
EXPORT_REFUSED = (
    '2026/12/04 09:01:10 traces export: context deadline exceeded: rpc error: code = Unavailable desc = connection error: '
    'desc = "transport: Error while dialing: dial tcp 127.0.0.1:4317: connect: connection refused"'
)


def break_traces(sandbox, log: str) -> None:
    """Make the service look as it does without traces: its log as given, nothing for it in Tempo."""
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "user-service"), log + "\n")
    set_tempo_search(sandbox.backends["tempo"], SERVICE_QUERY, [])


def test_healthy_service_reports_healthy(sandbox, run_cli) -> None:
    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["playbook"]["id"] == "app-no-traces"
    assert result.json["inputs"] == {"workload": "user-service"}
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}


def test_phrase_names_the_workload(sandbox, run_cli) -> None:
    result = run_cli("diagnose", "board-service is not sending traces", "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["inputs"] == {"workload": "board-service"}
    assert "OTEL_SERVICE_NAME = board-service" in result.check("otel-env")["evidence"]
    assert any("board-service" in line for line in result.check("sdk-init-log")["evidence"])


def test_korean_particle_after_workload(sandbox, run_cli) -> None:
    result = run_cli("diagnose", "user-service에서 트레이스가 안 나와요", "--json")

    assert result.json["inputs"] == {"workload": "user-service"}


@pytest.mark.parametrize("missing", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"])
def test_missing_env_reports_cause(sandbox, run_cli, missing: str) -> None:
    remove_env(sandbox.cluster, "user-service", missing)
    break_traces(sandbox, EXPORT_REFUSED)

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["otel-env-missing"]
    otel_env = result.check("otel-env")
    assert otel_env["status"] == "fail"
    assert any(missing in line and "not set" in line for line in otel_env["evidence"])
    assert result.check("otel-endpoint")["status"] == "skipped"
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "yaml"
    assert patch["path"].startswith("Deployment user-service")
    assert f"- name: {missing}" in patch["content"]
    assert "value: http://otel-collector:4317" in patch["content"]
    assert "kubectl set env deploy/user-service -n wealist-prod --list | grep OTEL" in result.json["causes"][0]["verify"]


def test_traces_endpoint_alone_is_enough(sandbox, run_cli) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT")
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://otel-collector:4317")

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 0, result.stdout
    assert result.check("otel-env")["status"] == "pass"
    assert result.check("otel-endpoint")["status"] == "pass"


def test_empty_env_value_is_not_set(sandbox, run_cli) -> None:
    set_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME", "")

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.cause_ids() == ["otel-env-missing"]
    assert any("OTEL_SERVICE_NAME is empty" in line for line in result.check("otel-env")["evidence"])


def test_env_from_secret_counts_as_set(sandbox, run_cli) -> None:
    secret_ref = {"secretKeyRef": {"name": "user-service-otel", "key": "endpoint"}}
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", value_from=secret_ref)

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 0, result.stdout
    assert result.check("otel-env")["status"] == "pass"
    evidence = " ".join(result.check("otel-env")["evidence"])
    assert "secret/user-service-otel key endpoint" in evidence
    assert "value is not read" in evidence
    assert any("not checked" in line for line in result.check("otel-endpoint")["evidence"])
    assert not [request.path for request in sandbox.cluster.requests if "/secrets" in request.path]


def test_env_from_configmap_is_followed(sandbox, run_cli) -> None:
    sandbox.cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "user-service-otel", "namespace": "wealist-prod"},
            "data": {"endpoint": "http://otel-collector:4318"},
        }
    )
    configmap_ref = {"configMapKeyRef": {"name": "user-service-otel", "key": "endpoint"}}
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", value_from=configmap_ref)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.cause_ids() == ["otel-endpoint-wrong"]
    evidence = result.check("otel-endpoint")["evidence"]
    assert any("grpc http://otel-collector:4318" in line for line in evidence)


@pytest.mark.parametrize(
    ("endpoint", "protocol", "expected"),
    [
        ("http://otel-collector:4318", "grpc", "grpc protocol does not use the HTTP port 4318: no"),
        ("http://otel-collector:4317", "http/protobuf", "http/protobuf protocol does not use the gRPC port 4317: no"),
        ("http://localhost:4317", "grpc", "points at localhost"),
        ("http://otel-gateway:4317", "grpc", "names service wealist-prod/otel-gateway, which does not exist"),
        ("otel-collector:14317", "grpc", "does not expose port 14317"),
    ],
)
def test_wrong_endpoint_reports_cause(sandbox, run_cli, endpoint: str, protocol: str, expected: str) -> None:
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    break_traces(sandbox, EXPORT_REFUSED)

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["otel-endpoint-wrong"]
    assert result.check("otel-env")["status"] == "pass"
    endpoint_check = result.check("otel-endpoint")
    assert endpoint_check["status"] == "fail"
    assert any(expected in line for line in endpoint_check["evidence"]), endpoint_check["evidence"]
    patch = result.json["causes"][0]["patch"]
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in patch["content"]
    assert "http://otel-collector:4317" in patch["content"]


def test_endpoint_in_other_namespace_by_fqdn(sandbox, run_cli) -> None:
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.wealist-prod.svc.cluster.local:4317")

    result = run_cli("diagnose", PHRASE, "--json", "--lang", "en")

    assert result.exit_code == 0, result.stdout
    assert any("reaches service wealist-prod/otel-collector on port 4317" in line for line in result.check("otel-endpoint")["evidence"])


def test_missing_init_line_reports_sdk_cause(sandbox, run_cli) -> None:
    break_traces(sandbox, '{"level":"info","msg":"http server listening","addr":":8080"}')

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["otel-sdk-not-initialized"]
    assert result.check("sdk-init-log")["status"] == "fail"
    assert result.check("sdk-export-errors")["status"] == "pass"
    assert result.check("tempo-service-traces")["status"] == "fail"
    patch = result.json["causes"][0]["patch"]
    assert patch["format"] == "go"
    assert patch["path"] == "cmd/user-service/main.go"
    assert "otlptracegrpc.New(ctx)" in patch["content"]
    assert "otel.SetTracerProvider(tp)" in patch["content"]
    assert "tp.Shutdown" in patch["content"]


def test_exporter_errors_report_sdk_cause(sandbox, run_cli) -> None:
    log = '{"level":"info","msg":"otel tracer provider initialized"}\n' + EXPORT_REFUSED.replace("127.0.0.1", "10.43.12.7")
    break_traces(sandbox, log)

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.cause_ids() == ["otel-sdk-not-initialized"]
    assert result.check("sdk-init-log")["status"] == "pass"
    assert result.check("sdk-export-errors")["status"] == "fail"


def test_missing_init_line_alone_names_no_cause(sandbox, run_cli) -> None:
    set_logs(sandbox.cluster, pod_name(sandbox.cluster, "user-service"), '{"level":"info","msg":"request","status":200}\n')

    result = run_cli("diagnose", PHRASE, "--json")

    assert result.exit_code == 1
    assert result.check("sdk-init-log")["status"] == "fail"
    assert result.check("tempo-service-traces")["status"] == "pass"
    assert result.cause_ids() == []


def test_pasted_go_exporter_error_selects_playbook(sandbox, run_cli) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT")

    result = run_cli("diagnose", EXPORT_REFUSED, "--workload", "user-service", "--json")

    assert result.json["playbook"]["id"] == "app-no-traces"
    assert result.cause_ids() == ["otel-env-missing"]


def test_korean_report_by_default(sandbox, run_cli) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME")

    result = run_cli("diagnose", "트레이스가 생성되지 않음", "--workload", "user-service")

    assert result.exit_code == 1
    assert "문제 발견" in result.stdout
    assert "워크로드에 OTEL 환경변수가 없음" in result.stdout
    assert "OTEL_SERVICE_NAME" in result.stdout


@pytest.mark.parametrize("workload", ["../x", "a;b", "User-Service", "x" * 64 + "-"])
def test_invalid_workload_is_rejected(sandbox, run_cli, workload: str) -> None:
    result = run_cli("diagnose", PHRASE, "--workload", workload)

    assert result.exit_code == 2
    assert f"workload 값 {workload!r}이(가) 올바르지 않습니다" in result.stderr
    assert "쿠버네티스 이름" in result.stderr
    assert not [request for request in sandbox.cluster.requests if workload in request.path]


def test_phrase_without_workload_asks_for_one(sandbox, run_cli) -> None:
    result = run_cli("diagnose", "트레이스가 생성되지 않음")

    assert result.exit_code == 2
    assert "workload이(가) 필요합니다" in result.stderr
    assert "--workload" in result.stderr


def test_unknown_workload_is_inconclusive(sandbox, run_cli) -> None:
    result = run_cli("diagnose", "payment-service is not sending traces", "--json")

    assert result.exit_code == 3, result.stdout + result.stderr
    assert result.json["status"] == "inconclusive"
    assert result.check("otel-env")["status"] == "error"
    assert result.cause_ids() == []
