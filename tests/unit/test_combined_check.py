"""The combined check kind: source validation, reading sources from the sandbox, and permissions."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import ValidationError

from bot.app import open_runtime
from bot.checks.combined import CombinedCheck, Source
from bot.config import load_settings
from bot.engine import run_playbook
from bot.playbooks.schema import Playbook
from bot.rbac import Permission, check_permissions
from bot.sandbox import Route
from tests.support.stack import set_config_text

TITLE = {"ko": "테스트", "en": "test"}


def test_source_needs_exactly_one_origin() -> None:
    with pytest.raises(ValidationError, match="exactly one of resource, configmap or backend; got none"):
        Source()
    with pytest.raises(ValidationError, match=r"got \['configmap', 'backend'\]"):
        Source(configmap="otel-collector-config", key="config.yaml", backend="prometheus", path="/-/ready")


def test_source_rejects_fields_of_other_origins() -> None:
    with pytest.raises(ValidationError, match="a backend source does not take key"):
        Source(backend="prometheus", path="/api/v1/status/buildinfo", key="config.yaml")
    with pytest.raises(ValidationError, match="a resource source does not take path"):
        Source(resource="deployment", name="prometheus", path="/x")


def test_source_requires_key_and_path() -> None:
    with pytest.raises(ValidationError, match="a configmap source needs a key"):
        Source(configmap="otel-collector-config")
    with pytest.raises(ValidationError, match="a backend source needs a path"):
        Source(backend="prometheus")


def test_backend_path_must_be_plain() -> None:
    with pytest.raises(ValidationError, match="without host, query or '..'"):
        Source(backend="prometheus", path="/api/v1/query?query=up")
    with pytest.raises(ValidationError, match="must start with a single '/'"):
        Source(backend="prometheus", path="http://evil.example/api")


def test_format_must_fit_the_origin() -> None:
    with pytest.raises(ValidationError, match="a configmap source takes format auto, json, yaml, not prometheus"):
        Source(configmap="otel-collector-config", key="config.yaml", format="prometheus")


def test_source_names_are_identifiers() -> None:
    with pytest.raises(ValidationError, match="sources"):
        CombinedCheck(id="x", kind="combined", title=TITLE, sources={"build-info": {"backend": "prometheus", "path": "/-/ready"}})


def test_permissions_follow_sources() -> None:
    check = CombinedCheck(
        id="x",
        kind="combined",
        title=TITLE,
        sources={
            "deployment": {"resource": "deployment", "name": "prometheus"},
            "dashboards": {"resource": "configmap", "selector": "grafana_dashboard=1"},
            "collector": {"configmap": "otel-collector-config", "key": "config.yaml"},
            "buildinfo": {"backend": "prometheus", "path": "/api/v1/status/buildinfo"},
        },
    )

    assert check_permissions(check) == {
        Permission("apps", "deployments", "get"),
        Permission("", "configmaps", "list"),
        Permission("", "configmaps", "get"),
        Permission("", "services/proxy", "get"),
    }


def _diagnose(sandbox, check: dict):
    book = Playbook.model_validate(
        {
            "id": "combined-test",
            "source": "test",
            "title": TITLE,
            "symptoms": {"ko": ["테스트"], "en": ["test"]},
            "checks": [{"id": "combined", "kind": "combined", "title": TITLE, **check}],
            "causes": [
                {
                    "id": "combined-failed",
                    "title": TITLE,
                    "explanation": TITLE,
                    "when": {"any": {"combined": "fail"}},
                    "patch": {"path": "x", "format": "text", "content": "y"},
                }
            ],
        }
    )
    settings = load_settings(cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig"}, checks={"retries": 0})

    async def run():
        async with open_runtime(settings) as runtime:
            return await run_playbook(book, runtime.context())

    return asyncio.run(run()).findings[0]


def test_sources_join_into_one_document(sandbox) -> None:
    finding = _diagnose(
        sandbox,
        {
            "sources": {
                "deployment": {"resource": "deployment", "name": "{prometheus.deployment}"},
                "collector": {"configmap": "{collector.configmap}", "key": "{collector.config_key}"},
                "buildinfo": {"backend": "prometheus", "path": "/api/v1/status/buildinfo"},
            },
            "show": [{"path": "buildinfo.body.data.version", "label": {"ko": "버전", "en": "version"}}],
            "expect": [
                {"path": "deployment.spec.template.spec.containers[0].name", "equals": "prometheus"},
                {"path": "collector.connectors.spanmetrics.namespace", "equals": "traces.spanmetrics"},
                {"path": "buildinfo.status", "equals": 200},
            ],
        },
    )

    assert finding.status.value == "pass", [item.text.en for item in finding.evidence]
    assert finding.evidence[0].text.en == "version: 2.47.2"
    assert finding.evidence[0].ok is None


def test_missing_sources_become_null(sandbox) -> None:
    finding = _diagnose(
        sandbox,
        {
            "sources": {
                "deployment": {"resource": "deployment", "name": "no-such-deployment", "missing": "null"},
                "key": {"configmap": "{collector.configmap}", "key": "absent.yaml", "missing": "null"},
                "route": {"backend": "prometheus", "path": "/no/such/path", "missing": "null"},
            },
            "expect": [
                {"path": "deployment", "exists": False},
                {"path": "key", "exists": False},
                {"path": "route", "exists": False},
            ],
        },
    )

    assert finding.status.value == "pass", [item.text.en for item in finding.evidence]


def test_missing_source_is_an_error_by_default(sandbox) -> None:
    finding = _diagnose(sandbox, {"sources": {"route": {"backend": "prometheus", "path": "/no/such/path"}}, "expect": [{"path": "route", "exists": True}]})

    assert finding.status.value == "error"
    assert finding.reason.en == "prometheus answered GET /no/such/path with HTTP 404"


def test_unparsable_config_is_an_error(sandbox) -> None:
    set_config_text(sandbox.cluster, "otel-collector-config", "config.yaml", "exporters: [unclosed")

    finding = _diagnose(sandbox, {"sources": {"collector": {"configmap": "otel-collector-config", "key": "config.yaml"}}, "expect": [{"path": "collector", "exists": True}]})

    assert finding.status.value == "error"
    assert "config.yaml does not parse at line" in finding.reason.en


def test_prometheus_text_body(sandbox) -> None:
    sandbox.backends["otel-collector"].set_route(
        Route(path="/metrics", body=b"# TYPE otelcol_process_uptime_seconds counter\notelcol_process_uptime_seconds_total 12\n", content_type="text/plain")
    )

    finding = _diagnose(
        sandbox,
        {
            "sources": {"metrics": {"backend": "otel-collector", "path": "/metrics", "format": "prometheus"}},
            "expect": [{"path": "metrics.body.otelcol_process_uptime_seconds_total[0].value", "equals": 12.0}],
        },
    )

    assert finding.status.value == "pass", [item.text.en for item in finding.evidence]
