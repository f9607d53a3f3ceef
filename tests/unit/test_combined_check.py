"""The combined check kind: source validation and the permissions it needs."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.checks.combined import CombinedCheck, Source
from bot.rbac import Permission, check_permissions

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
