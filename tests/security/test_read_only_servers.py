"""The test stand-ins are read-only too, so any request other than GET fails the test that sent it.

The sandbox's API server accepts GET and the POST of a SelfSubjectAccessReview; each backend
stand-in accepts GET. Anything else, including HEAD, OPTIONS and methods without a handler, is
recorded as a violation, and the ``sandbox`` fixture and ``assert_read_only`` fail on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import httpx
import pytest

from bot.sandbox import DATA_DIR, FixtureBackend, Route, Sandbox
from tests.support.readonly import assert_read_only

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parents[1]
METHODS = ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "PROPFIND", "TRACE"]
REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
# Calls that start a stand-in outside the sandbox fixture. SeriesVariants is not among them
# because its close() checks the exporter it starts, in tests/support/prometheus.py.
STARTERS = {"Sandbox", "FixtureBackend", "KubeAPIServer", "span_metrics_exporter"}


@pytest.mark.parametrize("method", METHODS)
def test_apiserver_records_non_get(method: str) -> None:
    with Sandbox(DATA_DIR / "stack") as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.cluster.token}"}
        response = httpx.request(method, f"{sandbox.apiserver.url}/api/v1/namespaces/wealist-prod/configmaps", headers=headers)
        violations = sandbox.violations()

    assert response.status_code == 405
    assert violations == [f"apiserver {method} /api/v1/namespaces/wealist-prod/configmaps"]
    with pytest.raises(AssertionError, match="non-GET requests reached"):
        assert_read_only(sandbox)


def test_apiserver_records_write_through_proxy() -> None:
    with Sandbox(DATA_DIR / "stack") as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.cluster.token}"}
        path = "/api/v1/namespaces/wealist-prod/services/prometheus:9090/proxy/api/v1/admin/tsdb/delete_series"
        response = httpx.post(f"{sandbox.apiserver.url}{path}", headers=headers)
        violations = sandbox.violations()
        forwarded = list(sandbox.backends["prometheus"].requests)

    assert response.status_code == 405
    assert violations == [f"apiserver POST {path}"]
    assert forwarded == []


def test_apiserver_allows_get_and_review() -> None:
    with Sandbox(DATA_DIR / "stack") as sandbox:
        headers = {"Authorization": f"Bearer {sandbox.cluster.token}"}
        got = httpx.get(f"{sandbox.apiserver.url}/api/v1/namespaces/wealist-prod/configmaps", headers=headers)
        review = {"spec": {"resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "wealist-prod"}}}
        reviewed = httpx.post(f"{sandbox.apiserver.url}{REVIEW_PATH}", headers=headers, json=review)
        violations = sandbox.violations()

    assert got.status_code == 200
    assert reviewed.status_code == 201
    assert violations == []


@pytest.mark.parametrize("method", METHODS)
def test_backend_records_non_get(method: str) -> None:
    backend = FixtureBackend([Route(path="/ready", body=b"ready", content_type="text/plain")], name="probe").start()
    try:
        response = httpx.request(method, f"{backend.url}/ready")
        got = httpx.get(f"{backend.url}/ready")
    finally:
        backend.stop()

    assert response.status_code == 405
    assert got.status_code == 200
    assert backend.violations == [(method, "/ready")]
    with pytest.raises(AssertionError, match=f"probe {method} /ready"):
        assert_read_only(backend)


def test_sandbox_fixture_fails_on_write(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_writes="""
        import httpx

        from tests.conftest import sandbox  # the fixture under test


        def test_delete_pod(sandbox):
            headers = {"Authorization": f"Bearer {sandbox.cluster.token}"}
            httpx.delete(f"{sandbox.apiserver.url}/api/v1/namespaces/wealist-prod/pods/x", headers=headers)


        def test_head_backend(sandbox):
            httpx.head(sandbox.backends["tempo"].url + "/ready")


        def test_only_get(sandbox):
            headers = {"Authorization": f"Bearer {sandbox.cluster.token}"}
            httpx.get(f"{sandbox.apiserver.url}/api/v1/namespaces/wealist-prod/pods", headers=headers)
        """
    )

    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(["*non-GET requests reached*apiserver DELETE*", "*non-GET requests reached*tempo HEAD /ready*"])


def starter_calls(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name) and node.func.id in STARTERS:
            names.add(node.func.id)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in STARTERS:
            names.add(node.func.attr)
    return names


def calls_assert_read_only(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "assert_read_only"
        for node in ast.walk(tree)
    )


def test_every_stand_in_is_checked() -> None:
    # A module that starts a stand-in itself must also check it. This module is skipped, because it tests the checks.
    unchecked = []
    starting = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        started = starter_calls(tree)
        if not started:
            continue
        starting.append(path.relative_to(TESTS.parent).as_posix())
        if not calls_assert_read_only(tree):
            unchecked.append(f"{path.relative_to(TESTS.parent)} starts {', '.join(sorted(started))}")

    assert "tests/conftest.py" in starting
    assert unchecked == []
