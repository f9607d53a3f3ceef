"""Read-only by construction: which modules may talk to the cluster, backends, Redis and Slack, and how.

These tests parse the source of ``bot/`` with ``ast``. They fail when a module outside its fence
imports a client library, or when the cluster module gains a request method other than GET.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[2] / "bot"
REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
HTTPX_BUILDERS = {"Client", "AsyncClient", "get", "post", "put", "patch", "delete", "head", "options", "request", "stream"}
PROCESS_CALLS = {
    ("os", "system"),
    ("os", "popen"),
    ("os", "execv"),
    ("os", "execve"),
    ("os", "execvp"),
    ("os", "execvpe"),
    ("os", "execl"),
    ("os", "execle"),
    ("os", "execlp"),
    ("os", "execlpe"),
    ("os", "spawnv"),
    ("os", "spawnve"),
    ("os", "spawnvp"),
    ("os", "spawnl"),
    ("os", "posix_spawn"),
    ("os", "posix_spawnp"),
    ("os", "fork"),
    ("asyncio", "create_subprocess_exec"),
    ("asyncio", "create_subprocess_shell"),
}


def modules() -> list[tuple[str, ast.Module]]:
    """Return every module under bot/ as (path relative to the repository, parsed tree)."""
    found = []
    for path in sorted(BOT.rglob("*.py")):
        relative = path.relative_to(BOT.parent).as_posix()
        found.append((relative, ast.parse(path.read_text(encoding="utf-8"), filename=relative)))
    return found


def imported_roots(tree: ast.Module) -> set[str]:
    """Return the top-level package of every import, e.g. ``kubernetes`` for ``from kubernetes.client import X``."""
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def importers(package: str) -> set[str]:
    return {path for path, tree in modules() if package in imported_roots(tree)}


def test_bot_has_modules() -> None:
    # Guards the scans below against passing on an empty or moved package.
    paths = [path for path, _ in modules()]

    assert "bot/cluster.py" in paths
    assert len(paths) > 40


def test_only_cluster_module_imports_kubernetes() -> None:
    assert importers("kubernetes") == {"bot/cluster.py"}


def test_only_state_package_imports_redis() -> None:
    outside = {path for path in importers("redis") if not path.startswith("bot/state/")}

    assert outside == set()
    assert importers("redis"), "bot/state/ no longer imports redis; update this test"


@pytest.mark.parametrize("package", ["slack_bolt", "slack_sdk"])
def test_only_slack_package_imports_slack(package: str) -> None:
    outside = {path for path in importers(package) if not path.startswith("bot/slack/")}

    assert outside == set()


def test_only_http_module_builds_httpx_clients() -> None:
    builders: dict[str, list[str]] = {}
    for path, tree in modules():
        for node in ast.walk(tree):
            # A call builds a client or sends a request; httpx.AsyncClient as a type annotation does neither.
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name):
                if node.func.value.id == "httpx" and node.func.attr in HTTPX_BUILDERS:
                    builders.setdefault(path, []).append(f"httpx.{node.func.attr}() (line {node.lineno})")
            if isinstance(node, ast.ImportFrom) and node.module == "httpx":
                names = [alias.name for alias in node.names if alias.name in HTTPX_BUILDERS]
                if names:
                    builders.setdefault(path, []).append(f"from httpx import {', '.join(names)} (line {node.lineno})")

    assert set(builders) == {"bot/http.py"}, builders


def test_backend_client_sends_only_get() -> None:
    # The one httpx client is used in bot/backends.py, and every request it sends is .get().
    tree = dict(modules())["bot/backends.py"]
    methods = [
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Attribute)
        and node.func.value.attr == "_http"
    ]

    assert methods == ["get"]


def test_cluster_module_sends_get_and_one_review() -> None:
    tree = dict(modules())["bot/cluster.py"]
    methods: list[tuple[str, str, int]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "method":
                assert isinstance(keyword.value, ast.Constant), f"line {node.lineno}: method= must be a literal, not computed"
                path = next((item.value for item in node.keywords if item.arg == "resource_path"), None)
                methods.append((keyword.value.value, ast.unparse(path) if path is not None else "", node.lineno))

    gets = [item for item in methods if item[0] == "GET"]
    others = [item for item in methods if item[0] != "GET"]
    assert len(gets) == 1, methods
    assert [(method, path) for method, path, _ in others] == [("POST", "path")], others
    assert f'_ACCESS_REVIEW_PATH = "{REVIEW_PATH}"' in (BOT / "cluster.py").read_text(encoding="utf-8")


def test_cluster_module_uses_no_generated_apis() -> None:
    # The generated API classes (CoreV1Api, AppsV1Api, ...) carry create, patch and delete methods.
    tree = dict(modules())["bot/cluster.py"]
    used = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute) and node.attr.endswith("Api")}

    assert used <= {"ApiClient"}, used


def test_no_module_starts_processes() -> None:
    found: list[str] = []
    for path, tree in modules():
        if "subprocess" in imported_roots(tree) or "pty" in imported_roots(tree):
            found.append(f"{path}: imports subprocess or pty")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and (node.value.id, node.attr) in PROCESS_CALLS:
                found.append(f"{path}:{node.lineno}: {node.value.id}.{node.attr}")
            if isinstance(node, ast.ImportFrom) and node.module in ("os", "asyncio"):
                names = [alias.name for alias in node.names if (node.module, alias.name) in PROCESS_CALLS]
                if names:
                    found.append(f"{path}:{node.lineno}: from {node.module} import {', '.join(names)}")

    assert found == []


def test_no_module_evaluates_code() -> None:
    found = [
        f"{path}:{node.lineno}: {node.func.id}()"
        for path, tree in modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec", "compile", "__import__")
    ]

    assert found == []
