"""The workload_env check against the sandbox: how env is resolved, what it follows, what it never reads."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.app import open_runtime
from bot.checks.base import CheckStatus
from bot.checks.workload_env import WorkloadEnvCheck, resolve_env, run
from bot.config import load_settings
from bot.errors import ClusterNotFound
from tests.support.stack import NAMESPACE, container, remove_env, set_env

TEXT = {"ko": "텍스트", "en": "text"}


def env_check(**fields: Any) -> WorkloadEnvCheck:
    return WorkloadEnvCheck.model_validate({"id": "env", "kind": "workload_env", "title": TEXT, "workload": "deployment/user-service", **fields})


def run_check(sandbox, check: WorkloadEnvCheck):
    settings = load_settings(cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig"})

    async def execute():
        async with open_runtime(settings) as runtime:
            return await run(check, runtime.context())

    return asyncio.run(execute())


def document_of(sandbox) -> dict[str, Any]:
    settings = load_settings(cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig"})

    async def execute():
        async with open_runtime(settings) as runtime:
            spec = container(sandbox.cluster, "user-service")
            resolved = await resolve_env(spec, runtime.context(), workload="deployment/user-service", namespace=NAMESPACE)
            return resolved.document()

    return asyncio.run(execute())


def english(outcome) -> list[str]:
    return [item.text.en for item in outcome.evidence]


def add_configmap(sandbox, name: str, data: dict[str, str]) -> None:
    sandbox.cluster.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NAMESPACE}, "data": data})


def test_env_from_configmap_with_prefix(sandbox) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME")
    add_configmap(sandbox, "otel-defaults", {"SERVICE_NAME": "user-service", "bad key": "x"})
    container(sandbox.cluster, "user-service")["envFrom"] = [{"prefix": "OTEL_", "configMapRef": {"name": "otel-defaults"}}]

    document = document_of(sandbox)
    outcome = run_check(sandbox, env_check(require=["OTEL_SERVICE_NAME"]))

    assert document["env"]["OTEL_SERVICE_NAME"] == "user-service"
    assert document["sources"]["OTEL_SERVICE_NAME"] == "configmap"
    assert "OTEL_bad key" not in document["env"]
    assert outcome.status is CheckStatus.PASS
    assert english(outcome) == ["OTEL_SERVICE_NAME = user-service (from configmap/otel-defaults)"]


def test_env_from_secret_may_set_required_variable(sandbox) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME")
    container(sandbox.cluster, "user-service")["envFrom"] = [{"secretRef": {"name": "otel-credentials"}}]

    document = document_of(sandbox)
    outcome = run_check(sandbox, env_check(require=["OTEL_SERVICE_NAME"]))

    assert document["unread"] == ["secret/otel-credentials"]
    assert outcome.status is CheckStatus.PASS
    assert english(outcome) == ["OTEL_SERVICE_NAME is not in env, but secret/otel-credentials may set it through envFrom (not read)"]
    assert not [request.path for request in sandbox.cluster.requests if "/secrets" in request.path]


def test_reference_to_literal_is_expanded(sandbox) -> None:
    set_env(sandbox.cluster, "user-service", "COLLECTOR_HOST", "otel-collector")
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://$(COLLECTOR_HOST):4317")

    outcome = run_check(sandbox, env_check(endpoints=["OTEL_EXPORTER_OTLP_ENDPOINT"]))

    assert outcome.status is CheckStatus.PASS
    assert english(outcome) == [
        "OTEL_EXPORTER_OTLP_ENDPOINT: endpoint http://otel-collector:4317 reaches service wealist-prod/otel-collector on port 4317"
    ]


def test_reference_to_pod_field_is_not_followed(sandbox) -> None:
    set_env(sandbox.cluster, "user-service", "HOST_IP", value_from={"fieldRef": {"fieldPath": "status.hostIP"}})
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://$(HOST_IP):4317")

    outcome = run_check(sandbox, env_check(require=["HOST_IP"], endpoints=["OTEL_EXPORTER_OTLP_ENDPOINT"]))

    assert outcome.status is CheckStatus.PASS
    assert english(outcome) == [
        "HOST_IP is filled in the pod from status.hostIP",
        "OTEL_EXPORTER_OTLP_ENDPOINT (http://$(HOST_IP):4317) uses variables that only the pod resolves, so its endpoint is not checked",
    ]


def test_escaped_dollar_stays_literal(sandbox) -> None:
    set_env(sandbox.cluster, "user-service", "OTEL_RESOURCE_ATTRIBUTES", "cost=$$(HOST_IP)")

    assert document_of(sandbox)["env"]["OTEL_RESOURCE_ATTRIBUTES"] == "cost=$(HOST_IP)"


def test_credential_values_are_redacted(sandbox) -> None:
    set_env(sandbox.cluster, "user-service", "OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer abc123")

    document = document_of(sandbox)
    outcome = run_check(sandbox, env_check(require=["OTEL_EXPORTER_OTLP_HEADERS"]))

    assert document["env"]["OTEL_EXPORTER_OTLP_HEADERS"] is None
    assert document["redacted"] == ["OTEL_EXPORTER_OTLP_HEADERS"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" in document["set"]
    assert english(outcome) == ["OTEL_EXPORTER_OTLP_HEADERS = ***"]


def test_missing_required_configmap_key_fails(sandbox) -> None:
    remove_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME")
    set_env(sandbox.cluster, "user-service", "OTEL_SERVICE_NAME", value_from={"configMapKeyRef": {"name": "absent", "key": "name"}})

    outcome = run_check(sandbox, env_check(require=["OTEL_SERVICE_NAME"]))

    assert outcome.status is CheckStatus.FAIL
    assert english(outcome) == ["OTEL_SERVICE_NAME refers to configmap/absent key name, which does not exist"]


def test_container_named_like_workload_is_chosen(sandbox) -> None:
    containers = sandbox.cluster.get("Deployment", NAMESPACE, "user-service")["spec"]["template"]["spec"]["containers"]
    containers.insert(0, {"name": "istio-proxy", "image": "istio/proxyv2", "env": [{"name": "OTEL_SERVICE_NAME", "value": "istio"}]})

    outcome = run_check(sandbox, env_check(require=["OTEL_SERVICE_NAME"]))
    sidecar = run_check(sandbox, env_check(container="istio-proxy", require=["OTEL_SERVICE_NAME"]))

    assert english(outcome) == ["OTEL_SERVICE_NAME = user-service"]
    assert english(sidecar) == ["OTEL_SERVICE_NAME = istio"]
    with pytest.raises(ClusterNotFound, match="container app not found in deployment/user-service"):
        run_check(sandbox, env_check(container="app"))


def test_assertions_see_resolved_document(sandbox) -> None:
    check = env_check(expect=[{"path": "sources.OTEL_SERVICE_NAME", "equals": "value"}, {"path": "contains(set, 'OTEL_EXPORTER_OTLP_PROTOCOL')", "equals": True}])

    outcome = run_check(sandbox, check)

    assert outcome.status is CheckStatus.PASS
    assert len(outcome.evidence) == 2


def test_missing_workload_follows_not_found(sandbox) -> None:
    check = env_check(workload="deployment/payment-service", not_found="fail")

    outcome = run_check(sandbox, check)

    assert outcome.status is CheckStatus.FAIL
    assert english(outcome) == ["deployment wealist-prod/payment-service not found"]


@pytest.mark.parametrize("workload", ["user-service", "job/user-service", "deployment/"])
def test_workload_must_be_kind_and_name(workload: str) -> None:
    with pytest.raises(ValueError, match="workload must be KIND/NAME"):
        env_check(workload=workload)
