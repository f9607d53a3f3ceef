"""The Kubernetes permissions the loaded playbooks need, derived from their checks.

``otelbot rbac`` prints them as a Role (or ClusterRole), and at start the bot asks the API server
which of them it actually has. Every rule is ``get`` or ``list``; Secrets are never among them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from bot.cluster import RESOURCES
from bot.playbooks.schema import Playbook

__all__ = ["Permission", "blocked_checks", "render_role", "required_permissions"]

_WORKLOAD_RESOURCES = {"deployment": "deployment", "statefulset": "statefulset", "daemonset": "daemonset", "pod": "pod"}


@dataclass(frozen=True, order=True)
class Permission:
    """One resource and verb, e.g. ``("", "pods/log", "get")``."""

    api_group: str
    resource: str
    verb: str

    def __str__(self) -> str:
        group = f"{self.api_group}/" if self.api_group else ""
        return f"{self.verb} {group}{self.resource}"


def _for_kind(kind: str, verb: str) -> Permission:
    resource = RESOURCES[kind]
    group = "" if resource.group_version == "v1" else resource.group_version.split("/")[0]
    return Permission(group, resource.plural, verb)


def check_permissions(check: Any) -> set[Permission]:
    """Return what one check needs; raises ValueError for a check kind with no known mapping."""
    kind = check.kind
    if kind == "k8s_object":
        return {_for_kind(check.resource, "get" if check.name else "list")}
    if kind == "pod_logs":
        workload_kind = check.workload.partition("/")[0]
        needed = {_for_kind(_WORKLOAD_RESOURCES[workload_kind], "get"), Permission("", "pods/log", "get")}
        if workload_kind != "pod":
            needed.add(_for_kind("pod", "list"))
        return needed
    if kind == "config":
        return {_for_kind("configmap", "get")}
    if kind == "service_ref":
        needed = {_for_kind("configmap", "get"), _for_kind("service", "get")}
        if check.ready_endpoints:
            needed.add(_for_kind("endpoints", "get"))
        return needed
    if kind in ("http", "promql"):
        # Only used when the bot runs outside the cluster and proxies through the API server.
        return {Permission("", "services/proxy", "get")}
    if kind == "combined":
        return {_for_source(source) for source in check.sources.values()}
    if kind == "workload_env":
        workload_kind = check.workload.partition("/")[0]
        needed = {_for_kind(_WORKLOAD_RESOURCES[workload_kind], "get"), _for_kind("configmap", "get")}
        if check.endpoints:
            needed.add(_for_kind("service", "get"))
        return needed
    if kind == "config_by_label":
        return {_for_kind("configmap", "list")}
    if kind == "mount_ref":
        workload_kind = check.workload.partition("/")[0]
        return {_for_kind("configmap", "get"), _for_kind(_WORKLOAD_RESOURCES[workload_kind], "get")}
    raise ValueError(f"no permissions are known for check kind {kind!r}; add it to bot/rbac.py")


def _for_source(source: Any) -> Permission:
    if source.resource is not None:
        return _for_kind(source.resource, "get" if source.name else "list")
    if source.configmap is not None:
        return _for_kind("configmap", "get")
    return Permission("", "services/proxy", "get")


def required_permissions(playbooks: Iterable[Playbook]) -> dict[Permission, list[str]]:
    """Return each needed permission with the ``playbook/check`` ids that need it."""
    needed: dict[Permission, list[str]] = {}
    for playbook in playbooks:
        for check in playbook.checks:
            for permission in check_permissions(check):
                needed.setdefault(permission, []).append(f"{playbook.id}/{check.id}")
    return dict(sorted(needed.items()))


def blocked_checks(needed: dict[Permission, list[str]], allowed: dict[Permission, bool]) -> dict[str, list[Permission]]:
    """Return ``playbook/check`` ids that a missing permission will block, with what they miss."""
    blocked: dict[str, list[Permission]] = {}
    for permission, users in needed.items():
        if allowed.get(permission, False):
            continue
        for user in users:
            blocked.setdefault(user, []).append(permission)
    return blocked


def render_role(needed: Iterable[Permission], *, name: str, namespace: str, cluster_wide: bool) -> dict[str, Any]:
    """Render the permissions as a Role, or a ClusterRole when ``cluster_wide``."""
    grouped: dict[tuple[str, str], set[str]] = {}
    for permission in needed:
        grouped.setdefault((permission.api_group, permission.verb), set()).add(permission.resource)
    rules = [
        {"apiGroups": [group], "resources": sorted(resources), "verbs": [verb]}
        for (group, verb), resources in sorted(grouped.items())
    ]
    metadata: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/name": "otelbot"}}
    if not cluster_wide:
        metadata["namespace"] = namespace
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole" if cluster_wide else "Role",
        "metadata": metadata,
        "rules": rules,
    }
