"""A local Kubernetes API server over HTTP for the demo and the tests.

It serves a set of manifests the way kube-apiserver does for reads: discovery documents, get and
list (with label selectors), pod logs, and the service proxy, which forwards GETs to local
processes standing in for Prometheus, Tempo, Grafana and the collector. It records every request,
answers any method but GET (and POST of a SelfSubjectAccessReview) with 405 and counts it as a
violation, and can inject faults (a status for a
path prefix) so tests can see how the bot handles 403s and outages.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from bot.sandbox.server import LoopbackServer

__all__ = ["KIND_PLURALS", "FakeCluster", "KubeAPIServer", "RecordedRequest"]

logger = logging.getLogger(__name__)

KIND_PLURALS = {
    "Deployment": ("apps/v1", "deployments"),
    "StatefulSet": ("apps/v1", "statefulsets"),
    "DaemonSet": ("apps/v1", "daemonsets"),
    "ReplicaSet": ("apps/v1", "replicasets"),
    "Service": ("v1", "services"),
    "Endpoints": ("v1", "endpoints"),
    "ConfigMap": ("v1", "configmaps"),
    "Pod": ("v1", "pods"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"),
    "Event": ("v1", "events"),
    "Secret": ("v1", "secrets"),
    "Namespace": ("v1", "namespaces"),
}
_SHORT_NAMES = {"deployments": ["deploy"], "services": ["svc"], "endpoints": ["ep"], "configmaps": ["cm"], "pods": ["po"], "persistentvolumeclaims": ["pvc"], "events": ["ev"]}
_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received."""

    method: str
    path: str
    query: str


@dataclass
class FakeCluster:
    """The objects, logs and proxy upstreams the server serves. Thread-safe."""

    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    upstreams: dict[tuple[str, str, int], str] = field(default_factory=dict)
    faults: dict[str, tuple[int, str]] = field(default_factory=dict)
    denied: set[tuple[str, str]] = field(default_factory=set)
    token: str = "sandbox-token"
    requests: list[RecordedRequest] = field(default_factory=list)
    violations: list[RecordedRequest] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def apply(self, manifest: dict[str, Any]) -> None:
        """Add or replace an object (in memory; nothing is sent over HTTP)."""
        plural = KIND_PLURALS[manifest["kind"]][1]
        metadata = manifest.setdefault("metadata", {})
        namespace = metadata.get("namespace", "default")
        with self.lock:
            self.objects[(plural, namespace, metadata["name"])] = manifest

    def delete(self, kind: str, namespace: str, name: str) -> None:
        with self.lock:
            self.objects.pop((KIND_PLURALS[kind][1], namespace, name), None)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any]:
        with self.lock:
            return self.objects[(KIND_PLURALS[kind][1], namespace, name)]

    def load_dir(self, directory: Path) -> None:
        """Load every YAML manifest below ``directory`` and each ``logs/NAMESPACE/POD.log``."""
        for path in sorted(directory.rglob("*.yaml")):
            if "backends" in path.relative_to(directory).parts:
                continue
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
                if isinstance(document, dict) and document.get("kind") in KIND_PLURALS:
                    self.apply(document)
        for path in sorted(directory.glob("logs/*/*.log")):
            self.logs[(path.parent.name, path.stem)] = path.read_text(encoding="utf-8")

    def record(self, method: str, path: str, query: str) -> RecordedRequest:
        request = RecordedRequest(method, path, query)
        with self.lock:
            self.requests.append(request)
            mutating = method != "GET" and not (method == "POST" and path == _REVIEW_PATH)
            if mutating:
                self.violations.append(request)
        return request


class KubeAPIServer(LoopbackServer):
    """Serves a FakeCluster on 127.0.0.1 at a free port."""

    def __init__(self, cluster: FakeCluster) -> None:
        self.cluster = cluster
        super().__init__(type("Handler", (_Handler,), {"cluster": cluster}), name="kube-apiserver")

    def write_kubeconfig(self, path: Path, *, namespace: str = "default") -> Path:
        """Write a kubeconfig with one context that points at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "sandbox", "cluster": {"server": self.url}}],
            "users": [{"name": "sandbox", "user": {"token": self.cluster.token}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": "sandbox", "namespace": namespace}}],
            "current-context": "sandbox",
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path


class _Handler(BaseHTTPRequestHandler):
    cluster: FakeCluster
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes. With Nagle's algorithm on, the body of a
    # kept-alive response waits for the client's delayed ACK of the headers: 40 ms a request.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("apiserver: " + format, *args)

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler responds 501, unrecorded, to a method without a do_<METHOD>. Here
        # every other method (HEAD, OPTIONS, PROPFIND, ...) is recorded and rejected like a write.
        if name.startswith("do_"):
            return self._other_method
        raise AttributeError(name)

    def _other_method(self) -> None:
        self.close_connection = True
        self._handle(self.command)

    def _handle(self, method: str) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        self.cluster.record(method, path, parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""

        if self.headers.get("Authorization") != f"Bearer {self.cluster.token}":
            return self._status(401, "Unauthorized", "Unauthorized")
        for prefix, (status, message) in self.cluster.faults.items():
            if path.startswith(prefix):
                return self._status(status, _REASONS.get(status, "Error"), message)
        if method == "POST" and path == _REVIEW_PATH:
            return self._review(body)
        if method != "GET":
            return self._status(405, "MethodNotAllowed", f"{method} is not allowed: this server is read-only")
        self._get(path, parse_qs(parts.query))

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        discovery = _discovery(path)
        if discovery is not None:
            return self._json(200, discovery)
        segments = [unquote(segment) for segment in path.strip("/").split("/")]
        if segments[:1] == ["api"] and segments[1:2] == ["v1"]:
            rest = segments[2:]
        elif segments[:1] == ["apis"] and len(segments) >= 3:
            rest = segments[3:]
        else:
            return self._status(404, "NotFound", f"the server could not find the requested resource ({path})")
        if len(rest) < 3 or rest[0] != "namespaces":
            return self._status(404, "NotFound", f"the server could not find the requested resource ({path})")
        namespace, plural, tail = rest[1], rest[2], rest[3:]
        if plural == "secrets":
            return self._status(403, "Forbidden", "secrets is forbidden: otelbot never reads Secrets")
        if (plural, "list" if not tail else "get") in self.cluster.denied:
            verb = "list" if not tail else "get"
            return self._status(403, "Forbidden", f'{plural} is forbidden: User "system:serviceaccount:otelbot" cannot {verb} resource "{plural}"')
        if not tail:
            return self._list(plural, namespace, query)
        name, sub = tail[0], tail[1:]
        if plural == "pods" and sub == ["log"]:
            return self._log(namespace, name, query)
        if plural == "services" and sub[:1] == ["proxy"]:
            return self._proxy(namespace, name, "/" + "/".join(sub[1:]))
        with self.cluster.lock:
            document = self.cluster.objects.get((plural, namespace, name))
        if document is None:
            return self._status(404, "NotFound", f'{plural} "{name}" not found')
        self._json(200, document)

    def _list(self, plural: str, namespace: str, query: dict[str, list[str]]) -> None:
        selector = _parse_selector((query.get("labelSelector") or [""])[0])
        with self.cluster.lock:
            items = [
                document
                for (kind, item_namespace, _), document in sorted(self.cluster.objects.items())
                if kind == plural and item_namespace == namespace and _selected(document, selector)
            ]
        self._json(200, {"kind": "List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items})

    def _log(self, namespace: str, pod: str, query: dict[str, list[str]]) -> None:
        with self.cluster.lock:
            exists = ("pods", namespace, pod) in self.cluster.objects
            text = self.cluster.logs.get((namespace, pod), "")
        if not exists:
            return self._status(404, "NotFound", f'pods "{pod}" not found')
        lines = text.splitlines()
        tail = (query.get("tailLines") or [None])[0]
        if tail is not None:
            lines = lines[-int(tail):] if int(tail) > 0 else []
        body = ("\n".join(lines) + ("\n" if lines else "")).encode()
        self._send(200, "text/plain", body)

    def _proxy(self, namespace: str, target: str, path: str) -> None:
        service, _, port_text = target.partition(":")
        port = int(port_text) if port_text.isdigit() else 80
        with self.cluster.lock:
            upstream = self.cluster.upstreams.get((namespace, service, port))
        if upstream is None:
            return self._status(503, "ServiceUnavailable", f"no endpoints available for service \"{service}:{port}\"")
        query = urlsplit(self.path).query
        parts = urlsplit(upstream)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        try:
            connection.request("GET", path + (f"?{query}" if query else ""), headers={"Accept": self.headers.get("Accept", "*/*")})
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            return self._status(503, "ServiceUnavailable", f"error trying to reach service: dial tcp {parts.hostname}:{parts.port}: connect: {exc}")
        finally:
            connection.close()
        self._send(response.status, response.getheader("Content-Type", "application/octet-stream"), body)

    def _review(self, body: bytes) -> None:
        try:
            review = json.loads(body or b"{}")
            attributes = review["spec"]["resourceAttributes"]
        except (ValueError, KeyError, TypeError):
            return self._status(400, "BadRequest", "invalid SelfSubjectAccessReview")
        with self.cluster.lock:
            self.cluster.reviews.append(dict(attributes))
        resource = attributes.get("resource", "")
        if attributes.get("subresource"):
            resource += "/" + attributes["subresource"]
        allowed = (resource, attributes.get("verb", "")) not in self.cluster.denied and resource != "secrets"
        review["status"] = {"allowed": allowed}
        self._json(201, review)

    def _status(self, code: int, reason: str, message: str) -> None:
        self._json(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code})

    def _json(self, code: int, document: Any) -> None:
        self._send(code, "application/json", json.dumps(document).encode())

    def _send(self, code: int, content_type: str, body: bytes) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_REASONS = {401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 500: "InternalError", 503: "ServiceUnavailable", 504: "Timeout"}


def _parse_selector(text: str) -> dict[str, str]:
    selector = {}
    for term in filter(None, (part.strip() for part in text.split(","))):
        key, _, value = term.partition("=")
        selector[key.strip()] = value.lstrip("=").strip()
    return selector


def _selected(document: dict[str, Any], selector: dict[str, str]) -> bool:
    labels = (document.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in selector.items())


def _discovery(path: str) -> dict[str, Any] | None:
    if path == "/version":
        return {"major": "1", "minor": "30", "gitVersion": "v1.30.0-otelbot-sandbox"}
    if path == "/api":
        return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
    if path == "/apis":
        groups = [("apps", "v1"), ("authorization.k8s.io", "v1")]
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [
                {"name": name, "versions": [{"groupVersion": f"{name}/{version}", "version": version}], "preferredVersion": {"groupVersion": f"{name}/{version}", "version": version}}
                for name, version in groups
            ],
        }
    if path in ("/api/v1", "/apis/apps/v1"):
        group_version = "v1" if path == "/api/v1" else "apps/v1"
        resources = [
            {"name": plural, "singularName": kind.lower(), "namespaced": kind != "Namespace", "kind": kind, "verbs": ["get", "list"], "shortNames": _SHORT_NAMES.get(plural, [])}
            for kind, (version, plural) in KIND_PLURALS.items()
            if version == group_version
        ]
        return {"kind": "APIResourceList", "groupVersion": group_version, "resources": resources}
    return None
