"""A local stand-in for a cluster running the monitoring stack: the demo and the tests use it.

``Sandbox`` loads a data directory (manifests, pod logs under ``logs/NAMESPACE/POD.log`` and
backend fixtures under ``backends/*.yaml``), starts a KubeAPIServer and one FixtureBackend per
backend file on loopback, wires the API server's service proxy to them and writes a kubeconfig.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from bot.sandbox.apiserver import FakeCluster, KubeAPIServer, RecordedRequest
from bot.sandbox.backend import FixtureBackend, Route

__all__ = ["DATA_DIR", "FakeCluster", "FixtureBackend", "KubeAPIServer", "RecordedRequest", "Route", "Sandbox"]

DATA_DIR = Path(__file__).resolve().parent / "data"


class Sandbox:
    """A running sandbox cluster; use as a context manager."""

    def __init__(self, *directories: Path, namespace: str = "wealist-prod") -> None:
        self.namespace = namespace
        self.cluster = FakeCluster()
        for directory in directories:
            self.cluster.load_dir(directory)
        self.backends: dict[str, FixtureBackend] = {}
        for directory in directories:
            for path in sorted((directory / "backends").glob("*.yaml")):
                backend = FixtureBackend.from_file(path)
                self.backends[backend.name] = backend
        self.apiserver = KubeAPIServer(self.cluster)
        self._tmp = tempfile.TemporaryDirectory(prefix="otelbot-sandbox-")
        self.kubeconfig = Path(self._tmp.name) / "kubeconfig"

    def __enter__(self) -> "Sandbox":
        self.apiserver.start()
        for backend in self.backends.values():
            backend.start()
            if backend.service is not None:
                self.route_service(backend.service[0], backend.service[1], backend.url)
        self.apiserver.write_kubeconfig(self.kubeconfig, namespace=self.namespace)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for backend in self.backends.values():
            backend.stop()
        self.apiserver.stop()
        self._tmp.cleanup()

    def route_service(self, service: str, port: int, url: str, *, namespace: str | None = None) -> None:
        """Make the service proxy of ``service:port`` forward to ``url``."""
        with self.cluster.lock:
            self.cluster.upstreams[(namespace or self.namespace, service, port)] = url

    def unroute_service(self, service: str, port: int, *, namespace: str | None = None) -> None:
        with self.cluster.lock:
            self.cluster.upstreams.pop((namespace or self.namespace, service, port), None)

    def violations(self) -> list[str]:
        """Return every non-GET request any part of the sandbox received."""
        found = [f"apiserver {item.method} {item.path}" for item in self.cluster.violations]
        for backend in self.backends.values():
            found.extend(f"{backend.name} {method} {path}" for method, path in backend.violations)
        return found
