"""Read a workload container's environment as the container would see it, without reading Secrets.

The document for assertions is ``{workload, container, env, sources, set, unread, redacted}``:

- ``env`` maps each variable to its value: a literal, or a ConfigMap value that the check reads.
  The value is null when only the running pod can resolve it (``secretKeyRef``, ``fieldRef``,
  ``resourceFieldRef``) or when the name looks like a credential (see ``redacted``).
- ``sources`` maps each variable to where it comes from: value, configmap, secret, field, resource.
- ``set`` lists the variables that are set: a non-empty value or a reference. A variable taken
  from a Secret counts as set, and its value is never read.
- ``unread`` lists ``envFrom`` Secrets (``secret/NAME``), whose keys stay unknown.

``require`` names variables that must be set, and ``endpoints`` names variables whose value is an
endpoint (URL or host:port) that must name a Service in the cluster and a port it exposes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field, field_validator

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence, evaluate_assertions, short
from bot.checks.service_ref import parse_endpoint
from bot.errors import ClusterNotFound
from bot.i18n import LocalizedText, both

__all__ = ["ContainerEnv", "WorkloadEnvCheck", "resolve_env", "run"]

_WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "pod")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
# Kubernetes expands $(NAME) from variables defined earlier, and $$ escapes a literal $.
_REFERENCE = re.compile(r"\$\$|\$\(([-._a-zA-Z][-._a-zA-Z0-9]*)\)")
_CREDENTIAL = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL|HEADERS|AUTH", re.IGNORECASE)
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
# service, service.namespace, service.namespace.svc and service.namespace.svc.cluster.local
_SERVICE_HOST = re.compile(rf"^(?P<service>{_LABEL})(?:\.(?P<namespace>{_LABEL})(?:\.svc(?:\.cluster\.local)?)?)?$")
_LOOPBACK = ("localhost", "127.0.0.1", "0.0.0.0", "::1")
_URL_PORTS = {"http": 80, "https": 443}


class WorkloadEnvCheck(CheckBase):
    """Environment variables of one container of a workload: required names and endpoints."""

    kind: Literal["workload_env"]
    workload: str = Field(description="KIND/NAME: deployment/user-service, statefulset/NAME, daemonset/NAME or pod/NAME.")
    container: str | None = Field(
        default=None, description="Container name; the container named like the workload when unset, else the first."
    )
    namespace: str | None = None
    require: list[str | list[str]] = Field(
        default_factory=list, description="Variables that must be set; a list item is a set of alternatives, any one of which will do."
    )
    endpoints: list[str] = Field(
        default_factory=list, description="Variables whose value, when set, must name a Service and a port it exposes."
    )
    not_found: Literal["fail", "error"] = Field(
        default="error", description="What a missing workload makes of the check: a finding (fail) or an error."
    )

    @field_validator("workload")
    @classmethod
    def _kind_and_name(cls, value: str) -> str:
        kind, _, name = value.partition("/")
        if kind not in _WORKLOAD_KINDS or not name:
            raise ValueError(f"workload must be KIND/NAME with KIND one of {', '.join(_WORKLOAD_KINDS)}; got {value!r}")
        return value


@dataclass
class ContainerEnv:
    """The resolved environment of one container."""

    workload: str
    container: str
    env: dict[str, str | None] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    unread: list[str] = field(default_factory=list)
    missing_refs: dict[str, str] = field(default_factory=dict)

    def is_set(self, name: str) -> bool:
        source = self.sources.get(name)
        if source in ("secret", "field", "resource"):
            return True
        return bool(self.env.get(name))

    def document(self) -> dict[str, Any]:
        redacted = sorted(name for name in self.env if _CREDENTIAL.search(name))
        env = {name: (None if name in redacted else value) for name, value in self.env.items()}
        return {
            "workload": self.workload,
            "container": self.container,
            "env": env,
            "sources": dict(self.sources),
            "set": sorted(name for name in self.sources if self.is_set(name)),
            "unread": list(self.unread),
            "redacted": redacted,
        }


async def run(check: WorkloadEnvCheck, ctx: CheckContext) -> CheckOutcome:
    cluster = ctx.cluster
    if cluster is None:
        raise ClusterNotFound("no cluster configured")
    namespace = check.namespace or ctx.namespace
    kind, _, name = check.workload.partition("/")

    try:
        owner = await cluster.get(kind, name, namespace)
    except ClusterNotFound:
        if check.not_found == "error":
            raise
        text = both("evidence.object_not_found", kind=kind, name=f"{namespace}/{name}")
        return CheckOutcome.from_evidence([Evidence(text=text, ok=False)])

    spec = owner.get("spec") or {}
    pod_spec = spec if kind == "pod" else ((spec.get("template") or {}).get("spec") or {})
    container = _pick_container(pod_spec.get("containers") or [], check.container, name)
    if container is None:
        requested = check.container or name
        raise ClusterNotFound(f"container {requested} not found in {check.workload} in namespace {namespace}")

    resolved = await resolve_env(container, ctx, workload=check.workload, namespace=namespace)
    evidence = [_require(resolved, alternatives) for alternatives in check.require]
    for variable in check.endpoints:
        if resolved.sources.get(variable) is not None:
            evidence.append(await _follow_endpoint(resolved, variable, ctx, namespace))
    if check.endpoints and not any(variable in resolved.sources for variable in check.endpoints):
        evidence.append(Evidence(text=both("workload_env.no_endpoint", names=", ".join(check.endpoints))))
    evidence.extend(evaluate_assertions(check.expect, resolved.document()))
    return CheckOutcome.from_evidence(evidence)


def _pick_container(containers: list[dict[str, Any]], requested: str | None, workload_name: str) -> dict[str, Any] | None:
    if requested is not None:
        return next((item for item in containers if item.get("name") == requested), None)
    named = next((item for item in containers if item.get("name") == workload_name), None)
    return named or (containers[0] if containers else None)


async def resolve_env(container: dict[str, Any], ctx: CheckContext, *, workload: str, namespace: str) -> ContainerEnv:
    """Resolve ``envFrom`` then ``env`` in order, as the kubelet does. ConfigMaps are read, Secrets never are."""
    resolved = ContainerEnv(workload=workload, container=str(container.get("name") or "?"))

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if "secretRef" in source:
            resolved.unread.append(f"secret/{source['secretRef'].get('name', '?')}")
            continue
        reference = source.get("configMapRef") or {}
        data = await _configmap_data(ctx, reference.get("name", ""), namespace)
        for key, value in (data or {}).items():
            if _ENV_NAME.match(prefix + key):
                _assign(resolved, prefix + key, str(value), "configmap", f"configmap/{reference.get('name')}")

    for item in container.get("env") or []:
        name = item.get("name")
        if not name:
            continue
        value_from = item.get("valueFrom")
        if value_from is None:
            _assign(resolved, name, _expand(str(item.get("value") or ""), resolved), "value", "")
        elif "secretKeyRef" in value_from:
            ref = value_from["secretKeyRef"]
            _assign(resolved, name, None, "secret", f"secret/{ref.get('name', '?')} key {ref.get('key', '?')}")
        elif "configMapKeyRef" in value_from:
            await _assign_configmap_key(resolved, name, value_from["configMapKeyRef"], ctx, namespace)
        elif "fieldRef" in value_from:
            _assign(resolved, name, None, "field", str(value_from["fieldRef"].get("fieldPath", "?")))
        elif "resourceFieldRef" in value_from:
            _assign(resolved, name, None, "resource", str(value_from["resourceFieldRef"].get("resource", "?")))
    return resolved


def _assign(resolved: ContainerEnv, name: str, value: str | None, source: str, origin: str) -> None:
    resolved.env[name] = value
    resolved.sources[name] = source
    resolved.origins[name] = origin
    resolved.missing_refs.pop(name, None)


async def _assign_configmap_key(resolved: ContainerEnv, name: str, ref: dict[str, Any], ctx: CheckContext, namespace: str) -> None:
    configmap, key = ref.get("name", ""), ref.get("key", "")
    data = await _configmap_data(ctx, configmap, namespace)
    if data is not None and key in data:
        _assign(resolved, name, str(data[key]), "configmap", f"configmap/{configmap}")
        return
    # A missing optional reference leaves the variable unset, and a missing required one keeps the pod from starting.
    if not ref.get("optional"):
        resolved.missing_refs[name] = f"configmap/{configmap} key {key}"


async def _configmap_data(ctx: CheckContext, name: str, namespace: str) -> dict[str, Any] | None:
    assert ctx.cluster is not None
    try:
        document = await ctx.cluster.get("configmap", name, namespace)
    except ClusterNotFound:
        return None
    return document.get("data") or {}


def _expand(value: str, resolved: ContainerEnv) -> str:
    """Expand $(NAME) from literal values defined so far, leaving references that only the pod can resolve."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        known = resolved.env.get(match.group(1))
        return known if known is not None else match.group(0)

    return _REFERENCE.sub(replace, value)


def _require(resolved: ContainerEnv, alternatives: str | list[str]) -> Evidence:
    names = [alternatives] if isinstance(alternatives, str) else list(alternatives)
    where = {"container": resolved.container, "workload": resolved.workload}

    for name in names:
        if resolved.is_set(name):
            return Evidence(text=_describe_set(resolved, name), ok=True)
    if resolved.unread:
        # envFrom Secrets may hold the variable. Their keys are never read, so it counts as set.
        text = both("workload_env.maybe_secret", name=" | ".join(names), secrets=", ".join(resolved.unread))
        return Evidence(text=text, ok=True)
    for name in names:
        if name in resolved.missing_refs:
            return Evidence(text=both("workload_env.ref_missing", name=name, ref=resolved.missing_refs[name]), ok=False)
    for name in names:
        if name in resolved.sources:
            return Evidence(text=both("workload_env.empty", name=name, **where), ok=False)
    return Evidence(text=both("workload_env.missing", name=" | ".join(names), **where), ok=False)


def _describe_set(resolved: ContainerEnv, name: str) -> LocalizedText:
    source = resolved.sources[name]
    if source == "secret":
        return both("workload_env.from_secret", name=name, origin=resolved.origins[name])
    if source in ("field", "resource"):
        return both("workload_env.runtime", name=name, origin=resolved.origins[name])
    value = "***" if _CREDENTIAL.search(name) else short(resolved.env[name] or "", 120)
    if source == "configmap":
        return both("workload_env.from_configmap", name=name, value=value, origin=resolved.origins[name])
    return both("workload_env.set", name=name, value=value)


async def _follow_endpoint(resolved: ContainerEnv, variable: str, ctx: CheckContext, namespace: str) -> Evidence:
    raw = resolved.env.get(variable)
    if raw is None:
        text = both("workload_env.endpoint_unread", name=variable, origin=resolved.origins.get(variable) or resolved.sources[variable])
        return Evidence(text=text)
    if not raw.strip():
        return Evidence(text=both("workload_env.empty", name=variable, container=resolved.container, workload=resolved.workload), ok=False)
    if "$(" in raw:
        return Evidence(text=both("workload_env.endpoint_unresolved", name=variable, value=raw))

    evidence = await _endpoint_evidence(raw, ctx, namespace)
    text = LocalizedText(ko=f"{variable}: {evidence.text.ko}", en=f"{variable}: {evidence.text.en}")
    return Evidence(text=text, ok=evidence.ok)


async def _endpoint_evidence(raw: str, ctx: CheckContext, namespace: str) -> Evidence:
    try:
        endpoint = parse_endpoint(raw)
    except ValueError as exc:
        return Evidence(text=both("evidence.endpoint_invalid", endpoint=raw, message=str(exc)), ok=False)
    if not endpoint.host:
        return Evidence(text=both("evidence.endpoint_invalid", endpoint=raw, message="no host"), ok=False)
    if endpoint.host in _LOOPBACK:
        return Evidence(text=both("evidence.endpoint_loopback", endpoint=raw), ok=False)
    match = _SERVICE_HOST.match(endpoint.host)
    if match is None:
        return Evidence(text=both("evidence.endpoint_external", endpoint=raw), ok=True)

    service = match.group("service")
    service_namespace = match.group("namespace") or namespace
    # NOTE: a scheme-less endpoint without a port (e.g. "otel-collector") is checked for the Service only,
    # because the port an OTLP exporter then dials depends on the SDK and the protocol.
    port = endpoint.port or _URL_PORTS.get(endpoint.scheme or "")
    assert ctx.cluster is not None
    try:
        document = await ctx.cluster.get("service", service, service_namespace)
    except ClusterNotFound:
        return Evidence(text=both("evidence.endpoint_no_service", endpoint=raw, service=f"{service_namespace}/{service}"), ok=False)

    ports = sorted(int(item["port"]) for item in (document.get("spec") or {}).get("ports") or [] if "port" in item)
    if port is not None and port not in ports:
        text = both("evidence.endpoint_port_not_exposed", endpoint=raw, service=f"{service_namespace}/{service}", port=port, ports=ports)
        return Evidence(text=text, ok=False)
    return Evidence(text=both("evidence.endpoint_ok", endpoint=raw, service=f"{service_namespace}/{service}", port=port or "-"), ok=True)
