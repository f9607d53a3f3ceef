"""Read-only access to the Kubernetes API. The only module that imports ``kubernetes``.

Every read goes through ``ClusterReader._get``, which sends GET and nothing else. The one other
request is ``can_i``: a SelfSubjectAccessReview, which asks the API server what this identity may
do and changes nothing. No code path here can create, change or delete a cluster object. Responses are read as raw JSON
(what ``kubectl get -o json`` shows) instead of the client's models, so field names match the
manifests people write.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import urllib3.exceptions
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from bot.config import ClusterSettings
from bot.errors import (
    ClusterError,
    ClusterForbidden,
    ClusterNotFound,
    ClusterUnauthorized,
    ClusterUnavailable,
    ConfigError,
)

__all__ = ["RESOURCES", "ClusterReader", "ProxyResponse", "Resource", "connect"]

logger = logging.getLogger(__name__)
# urllib3 logs every retry at WARNING; the reads here report their own failures once.
logging.getLogger("urllib3").setLevel(logging.ERROR)

_IN_CLUSTER_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"


@dataclass(frozen=True)
class Resource:
    """A namespaced resource type the bot may read."""

    plural: str
    group_version: str

    def collection_path(self, namespace: str) -> str:
        prefix = "/api/v1" if self.group_version == "v1" else f"/apis/{self.group_version}"
        return f"{prefix}/namespaces/{quote(namespace, safe='')}/{self.plural}"


RESOURCES: dict[str, Resource] = {
    "deployment": Resource("deployments", "apps/v1"),
    "statefulset": Resource("statefulsets", "apps/v1"),
    "daemonset": Resource("daemonsets", "apps/v1"),
    "replicaset": Resource("replicasets", "apps/v1"),
    "service": Resource("services", "v1"),
    "endpoints": Resource("endpoints", "v1"),
    "configmap": Resource("configmaps", "v1"),
    "pod": Resource("pods", "v1"),
    "pvc": Resource("persistentvolumeclaims", "v1"),
    "event": Resource("events", "v1"),
}


@dataclass(frozen=True)
class ProxyResponse:
    """A response that a Service returned through the API server's service proxy."""

    status: int
    headers: dict[str, str]
    body: bytes


class ClusterReader:
    """Read verbs on one cluster: get, list, pod logs and GET through the service proxy."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        request_timeout_s: float,
        executor: ThreadPoolExecutor,
        server: str = "",
    ) -> None:
        self._api = api_client
        self._timeout = request_timeout_s
        self._executor = executor
        self.server = server

    async def get(self, kind: str, name: str, namespace: str) -> dict[str, Any]:
        """Return one object as JSON, as ``kubectl get KIND NAME -o json`` shows it."""
        resource = _resource(kind)
        path = f"{resource.collection_path(namespace)}/{quote(name, safe='')}"
        return await self._get_json(path, resource=resource.plural, verb="get")

    async def list(self, kind: str, namespace: str, *, label_selector: str | None = None) -> list[dict[str, Any]]:
        """Return the objects of ``kind`` in ``namespace``, optionally filtered by a label selector."""
        resource = _resource(kind)
        query = [("labelSelector", label_selector)] if label_selector else []
        document = await self._get_json(
            resource.collection_path(namespace), query=query, resource=resource.plural, verb="list"
        )
        return list(document.get("items") or [])

    async def pod_logs(
        self,
        pod: str,
        namespace: str,
        *,
        container: str | None = None,
        tail_lines: int | None = None,
        since_seconds: int | None = None,
    ) -> str:
        """Return the log of one pod's container, as ``kubectl logs`` shows it."""
        path = f"{RESOURCES['pod'].collection_path(namespace)}/{quote(pod, safe='')}/log"
        query: list[tuple[str, str]] = []
        if container:
            query.append(("container", container))
        if tail_lines is not None:
            query.append(("tailLines", str(tail_lines)))
        if since_seconds is not None:
            query.append(("sinceSeconds", str(since_seconds)))
        response = await self._run(path, query, resource="pods/log", verb="get")
        return response.data.decode("utf-8", errors="replace")

    async def proxy_get(
        self,
        service: str,
        port: int,
        path: str,
        *,
        namespace: str,
        params: list[tuple[str, str]] | None = None,
        timeout_s: float | None = None,
    ) -> ProxyResponse:
        """GET ``path`` from a Service through the API server's service proxy.

        A response from the Service is returned whatever its status. Raises ClusterUnavailable when
        the API server itself reports that the Service could not be reached.
        """
        target = quote(f"{service}:{port}", safe="")
        base = f"{RESOURCES['service'].collection_path(namespace)}/{target}/proxy"
        full_path = base + "/" + path.lstrip("/")
        response = await self._run(full_path, params or [], resource="services/proxy", timeout_s=timeout_s, raw=True)
        headers = {key.lower(): value for key, value in response.headers.items()}
        if response.status >= 500 and _is_status_body(response.data, headers):
            raise ClusterUnavailable(
                f"API server could not reach service {service}:{port}: {_status_message(response.data)}",
                path=full_path,
                status=response.status,
            )
        if response.status in (401, 403) and _is_status_body(response.data, headers):
            raise _error_for(response.status, _status_message(response.data), full_path, "services/proxy", "get")
        return ProxyResponse(status=response.status, headers=headers, body=response.data)

    async def can_i(self, verb: str, resource: str, *, group: str = "", namespace: str | None = None) -> bool:
        """Ask the API server whether this identity may ``verb`` ``resource`` (SelfSubjectAccessReview).

        This review is the one request here that is not a GET: it creates no object and changes
        nothing, and the API server only returns its decision. ``resource`` may name a subresource, e.g. ``pods/log``.
        """
        plural, _, subresource = resource.partition("/")
        attributes = {"verb": verb, "resource": plural, "group": group}
        if subresource:
            attributes["subresource"] = subresource
        if namespace:
            attributes["namespace"] = namespace
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}}
        loop = asyncio.get_running_loop()
        document = await loop.run_in_executor(self._executor, self._review, review)
        return bool((document.get("status") or {}).get("allowed"))

    def _review(self, review: dict[str, Any]) -> dict[str, Any]:
        path = _ACCESS_REVIEW_PATH
        method, url, headers, body, post_params = self._api.param_serialize(
            method="POST",
            resource_path=path,
            body=review,
            header_params={"Accept": "application/json", "Content-Type": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(method, url, header_params=headers, body=body, _request_timeout=self._timeout)
            response.read()
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterUnavailable(f"POST {path} failed: {_urllib3_reason(exc, self._timeout)} (API server {self.server})", path=path) from exc
        if not 200 <= response.status < 300:
            message = _status_message(response.data) if _is_status_body(response.data, {}) else response.reason
            raise _error_for(response.status, message, path, "selfsubjectaccessreviews", "create")
        return json.loads(response.data)

    async def close(self) -> None:
        self._api.close()

    async def _get_json(
        self, path: str, *, query: list[tuple[str, str]] | None = None, resource: str, verb: str
    ) -> dict[str, Any]:
        response = await self._run(path, query or [], resource=resource, verb=verb)
        try:
            return json.loads(response.data)
        except ValueError as exc:
            raise ClusterUnavailable(f"API server returned invalid JSON for GET {path}", path=path) from exc

    async def _run(
        self,
        path: str,
        query: list[tuple[str, str]],
        *,
        resource: str,
        verb: str = "get",
        timeout_s: float | None = None,
        raw: bool = False,
    ) -> Any:
        loop = asyncio.get_running_loop()
        timeout = timeout_s or self._timeout
        return await loop.run_in_executor(self._executor, self._get, path, query, (resource, verb), timeout, raw)

    def _get(
        self, path: str, query: list[tuple[str, str]], permission: tuple[str, str], timeout: float, raw: bool
    ) -> Any:
        """Send one GET request and raise a ClusterError for anything but 2xx (unless ``raw``)."""
        method, url, headers, body, post_params = self._api.param_serialize(
            method="GET",
            resource_path=path,
            query_params=query,
            header_params={"Accept": "application/json, */*"},
            auth_settings=["BearerToken"],
        )
        try:
            response = self._api.call_api(method, url, header_params=headers, _request_timeout=timeout)
            response.read()
        except ApiException as exc:
            raise ClusterUnavailable(f"GET {path} failed: {exc.reason}", path=path, status=exc.status or None) from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ClusterUnavailable(f"GET {path} failed: {_urllib3_reason(exc, timeout)} (API server {self.server})", path=path) from exc
        if raw or 200 <= response.status < 300:
            return response
        message = _status_message(response.data) if _is_status_body(response.data, {}) else response.reason
        raise _error_for(response.status, message, path, *permission)


def _resource(kind: str) -> Resource:
    try:
        return RESOURCES[kind]
    except KeyError:
        raise ClusterError(f"unknown resource kind {kind!r}; known: {', '.join(sorted(RESOURCES))}") from None


def _error_for(status: int, message: str, path: str, resource: str, verb: str) -> ClusterError:
    text = f"GET {path}: HTTP {status}: {message}"
    if status == 401:
        return ClusterUnauthorized(text, path=path, status=status)
    if status == 403:
        return ClusterForbidden(text, path=path, resource=resource, verb=verb)
    if status == 404:
        return ClusterNotFound(text, path=path, status=status)
    return ClusterUnavailable(text, path=path, status=status)


def _is_status_body(data: bytes, headers: dict[str, str]) -> bool:
    """Tell whether a body is a Kubernetes ``Status``; only those are parsed for messages."""
    if not data or not data.lstrip().startswith(b"{"):
        return False
    try:
        document = json.loads(data)
    except ValueError:
        return False
    return isinstance(document, dict) and document.get("kind") == "Status"


def _status_message(data: bytes) -> str:
    try:
        document = json.loads(data)
    except ValueError:
        return "no message"
    return str(document.get("message") or document.get("reason") or "no message")[:300]


def _urllib3_reason(exc: Exception, timeout: float) -> str:
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, so it is tested first.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return "connection refused or host unreachable"
    if isinstance(exc, (urllib3.exceptions.TimeoutError, urllib3.exceptions.ReadTimeoutError)):
        return f"timed out after {timeout:g}s"
    return type(exc).__name__


def in_cluster() -> bool:
    """Tell whether this process runs in a pod with a service account token."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and _IN_CLUSTER_TOKEN.exists()


def connect(settings: ClusterSettings, *, executor: ThreadPoolExecutor | None = None) -> ClusterReader:
    """Build a ClusterReader from settings: the in-cluster account in a pod, a kubeconfig elsewhere.

    Raises ConfigError when no cluster is configured, naming what to set.
    """
    configuration = k8s_client.Configuration()
    use_in_cluster = settings.mode == "in_cluster" or (settings.mode == "auto" and in_cluster())
    source = "in-cluster service account"
    try:
        if use_in_cluster:
            k8s_config.load_incluster_config(client_configuration=configuration)
        else:
            kubeconfig = _kubeconfig_path(settings)
            source = str(kubeconfig)
            k8s_config.load_kube_config(
                config_file=str(kubeconfig), context=settings.context, client_configuration=configuration
            )
    except ConfigException as exc:
        raise ConfigError.of("credentials_failed", source=source, problem=exc) from exc
    except (TypeError, AttributeError, KeyError) as exc:
        # YAML of the wrong shape, such as a bare string, fails deep inside the client.
        raise ConfigError.of("kubeconfig_wrong_shape", source=source) from exc
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError.of("kubeconfig_invalid", source=source, problem=f"{type(exc).__name__}: {exc}") from exc

    configuration.retries = 1
    configuration.connection_pool_maxsize = max(settings.max_workers, 4)
    pool = executor or ThreadPoolExecutor(max_workers=settings.max_workers, thread_name_prefix="k8s-read")
    logger.info("cluster: %s via %s", configuration.host, "in-cluster service account" if use_in_cluster else "kubeconfig")
    return ClusterReader(
        k8s_client.ApiClient(configuration),
        request_timeout_s=settings.request_timeout_s,
        executor=pool,
        server=configuration.host,
    )


def _kubeconfig_path(settings: ClusterSettings) -> Path:
    if settings.kubeconfig is not None:
        candidates = [settings.kubeconfig]
    elif os.environ.get("KUBECONFIG"):
        candidates = [Path(item) for item in os.environ["KUBECONFIG"].split(os.pathsep) if item]
    else:
        candidates = [Path.home() / ".kube" / "config"]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    if settings.kubeconfig is not None:
        raise ConfigError.of("kubeconfig_not_found", path=settings.kubeconfig)
    raise ConfigError.of("no_cluster", paths=", ".join(str(candidate) for candidate in candidates))
