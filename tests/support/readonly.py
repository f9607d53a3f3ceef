"""Fail a test when a read-only stand-in (the sandbox's API server, a backend, an exporter) saw anything but GET.

The ``sandbox`` fixture checks its sandbox itself. A test module that starts a ``Sandbox`` or a
``FixtureBackend`` of its own calls ``assert_read_only`` once the server has stopped.
"""

from __future__ import annotations

from bot.sandbox import FixtureBackend, Sandbox

__all__ = ["assert_read_only"]


def assert_read_only(*servers: Sandbox | FixtureBackend) -> None:
    """Raise AssertionError listing every request other than GET (or the access review) that ``servers`` received."""
    violations: list[str] = []
    for server in servers:
        if isinstance(server, Sandbox):
            violations.extend(server.violations())
        else:
            violations.extend(f"{server.name} {method} {path}" for method, path in server.violations)
    assert not violations, f"non-GET requests reached the cluster or a backend: {violations}"
