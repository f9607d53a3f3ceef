"""Permissions derived from the playbooks, and the access review against the sandbox."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from bot.app import load_catalog
from bot.cli import app
from bot.config import load_settings
from bot.rbac import Permission, required_permissions


def test_role_is_read_only_and_never_secrets() -> None:
    result = CliRunner().invoke(app, ["rbac"])

    role = yaml.safe_load(result.stdout)
    assert result.exit_code == 0
    assert role["kind"] == "Role"
    for rule in role["rules"]:
        assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule
        assert "secrets" not in rule["resources"], rule


def test_permissions_cover_each_check_kind() -> None:
    needed = required_permissions(load_catalog(load_settings()).playbooks)

    assert Permission("apps", "deployments", "get") in needed
    assert Permission("", "configmaps", "get") in needed
    assert Permission("", "pods/log", "get") in needed
    assert Permission("", "services/proxy", "get") in needed
    assert "spanmetrics-missing/prometheus-args" in needed[Permission("apps", "deployments", "get")]


def test_cluster_wide_role_has_no_namespace() -> None:
    result = CliRunner().invoke(app, ["rbac", "--cluster-wide", "--name", "otelbot"])

    role = yaml.safe_load(result.stdout)
    assert role["kind"] == "ClusterRole"
    assert "namespace" not in role["metadata"]


def test_check_reports_blocked_checks(sandbox) -> None:
    sandbox.cluster.denied.add(("pods/log", "get"))

    result = CliRunner().invoke(app, ["rbac", "--check", "--kubeconfig", str(sandbox.kubeconfig), "-n", "wealist-prod", "--lang", "en"])

    assert result.exit_code == 1, result.stdout
    assert "blocked: spanmetrics-missing/collector-remote-write-errors needs get pods/log" in result.stdout
    assert not any(request.path.endswith("/secrets") for request in sandbox.cluster.requests)


def test_check_passes_with_all_permissions(sandbox) -> None:
    result = CliRunner().invoke(app, ["rbac", "--check", "--kubeconfig", str(sandbox.kubeconfig), "-n", "wealist-prod"])

    assert result.exit_code == 0, result.stdout
    assert "필요한 권한이 모두 있습니다" in result.stdout, "Korean is the default language"
    reviews = [request for request in sandbox.cluster.requests if request.method == "POST"]
    assert reviews, "no SelfSubjectAccessReview was sent"
    assert all(request.path == "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" for request in reviews)
