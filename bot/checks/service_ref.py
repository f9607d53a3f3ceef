"""Follow endpoints written in a config (URLs or host:port) to the Services they name.

For each endpoint selected from a ConfigMap key: the scheme is present or absent as the consumer
expects, the path is the one required, the host names a Service that exists in the cluster, the
Service exposes the port, and optionally ready endpoints stand behind it. Hosts outside the
cluster (a managed Prometheus, say) are reported and pass unless ``external: fail``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import jmespath
from pydantic import Field, field_validator

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence
from bot.checks.config import select_in_config
from bot.errors import ClusterNotFound
from bot.i18n import LocalizedText, both

__all__ = ["Endpoint", "ServiceRefCheck", "parse_endpoint", "run"]

_DEFAULT_PORTS = {"http": 80, "https": 443, "grpc": 443}
_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
# service, service.namespace, service.namespace.svc and service.namespace.svc.cluster.local
_SERVICE_HOST = re.compile(rf"^(?P<service>{_LABEL})(?:\.(?P<namespace>{_LABEL})(?:\.svc(?:\.cluster\.local)?)?)?$")
_LOOPBACK = ("localhost", "127.0.0.1", "0.0.0.0", "::1")


class ServiceRefCheck(CheckBase):
    """Endpoints in a config must name reachable Services the way their consumer expects."""

    kind: Literal["service_ref"]
    configmap: str
    key: str
    select: str = Field(description="JMESPath selecting the endpoint string, or a list of them.")
    format: Literal["auto", "yaml", "json"] = "auto"
    namespace: str | None = None
    scheme: Literal["required", "forbidden", "any"] = Field(
        default="any", description="required for URLs (http://...), forbidden for bare host:port (gRPC exporters)."
    )
    path: str | None = Field(default=None, description="Path the URL must have, e.g. /api/v1/write.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Port the endpoint must use, e.g. 4317.")
    external: Literal["pass", "fail"] = Field(default="pass", description="What a host outside the cluster makes of the check.")
    ready_endpoints: bool = Field(default=False, description="Also require ready endpoints behind the Service.")

    @field_validator("select")
    @classmethod
    def _compile(cls, value: str) -> str:
        jmespath.compile(value)
        return value


@dataclass(frozen=True)
class Endpoint:
    """An endpoint string split into its parts."""

    raw: str
    scheme: str | None
    host: str
    port: int | None
    path: str


def parse_endpoint(raw: str) -> Endpoint:
    """Split ``http://host:port/path`` or ``host:port`` into parts; raises ValueError if unusable."""
    text = raw.strip()
    if "://" in text:
        parts = urlsplit(text)
        return Endpoint(raw, parts.scheme, parts.hostname or "", parts.port, parts.path or "")
    parts = urlsplit("//" + text)
    return Endpoint(raw, None, parts.hostname or "", parts.port, parts.path or "")


async def run(check: ServiceRefCheck, ctx: CheckContext) -> CheckOutcome:
    namespace = check.namespace or ctx.namespace
    selections = await select_in_config(
        ctx, configmap=check.configmap, key=check.key, select=check.select, format=check.format, namespace=namespace
    )

    evidence: list[Evidence] = []
    for selection in selections:
        if selection.failure is not None:
            evidence.append(Evidence(text=selection.failure, ok=False))
            continue
        if not selection.values:
            evidence.append(Evidence(text=both("evidence.endpoint_missing", select=check.select), ok=False))
            continue
        for raw in selection.values:
            evidence.append(await _check_endpoint(check, ctx, str(raw), namespace))
    return CheckOutcome.from_evidence(evidence)


async def _check_endpoint(check: ServiceRefCheck, ctx: CheckContext, raw: str, namespace: str) -> Evidence:
    try:
        endpoint = parse_endpoint(raw)
    except ValueError as exc:
        return Evidence(text=both("evidence.endpoint_invalid", endpoint=raw, message=str(exc)), ok=False)

    problem = _shape_problem(check, endpoint)
    if problem is not None:
        return Evidence(text=problem, ok=False)

    if endpoint.host in _LOOPBACK:
        return Evidence(text=both("evidence.endpoint_loopback", endpoint=raw), ok=False)
    match = _SERVICE_HOST.match(endpoint.host)
    if match is None:
        text = both("evidence.endpoint_external", endpoint=raw)
        return Evidence(text=text, ok=check.external == "pass")

    service = match.group("service")
    service_namespace = match.group("namespace") or namespace
    port = endpoint.port or _DEFAULT_PORTS.get(endpoint.scheme or "", None)
    return await _check_service(check, ctx, raw, service, service_namespace, port)


def _shape_problem(check: ServiceRefCheck, endpoint: Endpoint) -> LocalizedText | None:
    raw = endpoint.raw
    if check.scheme == "required" and endpoint.scheme not in ("http", "https"):
        return both("evidence.endpoint_scheme_missing", endpoint=raw)
    if check.scheme == "forbidden" and endpoint.scheme is not None:
        return both("evidence.endpoint_scheme_unexpected", endpoint=raw, scheme=endpoint.scheme)
    if not endpoint.host:
        return both("evidence.endpoint_invalid", endpoint=raw, message="no host")
    if check.path is not None and endpoint.path.rstrip("/") != check.path.rstrip("/"):
        return both("evidence.endpoint_path_wrong", endpoint=raw, expected=check.path, path=endpoint.path or "/")
    if check.port is not None and endpoint.port != check.port:
        return both("evidence.endpoint_port_wrong", endpoint=raw, expected=check.port, port=endpoint.port or "-")
    return None


async def _check_service(
    check: ServiceRefCheck, ctx: CheckContext, raw: str, service: str, namespace: str, port: int | None
) -> Evidence:
    assert ctx.cluster is not None
    try:
        document: dict[str, Any] = await ctx.cluster.get("service", service, namespace)
    except ClusterNotFound:
        return Evidence(text=both("evidence.endpoint_no_service", endpoint=raw, service=f"{namespace}/{service}"), ok=False)

    exposed = sorted(int(item["port"]) for item in (document.get("spec") or {}).get("ports") or [] if "port" in item)
    if port is not None and port not in exposed:
        text = both("evidence.endpoint_port_not_exposed", endpoint=raw, service=f"{namespace}/{service}", port=port, ports=exposed)
        return Evidence(text=text, ok=False)

    if check.ready_endpoints:
        ready = await _ready_addresses(ctx, service, namespace)
        if ready == 0:
            return Evidence(text=both("evidence.endpoint_not_ready", endpoint=raw, service=f"{namespace}/{service}"), ok=False)

    return Evidence(text=both("evidence.endpoint_ok", endpoint=raw, service=f"{namespace}/{service}", port=port or "-"), ok=True)


async def _ready_addresses(ctx: CheckContext, service: str, namespace: str) -> int:
    assert ctx.cluster is not None
    try:
        document = await ctx.cluster.get("endpoints", service, namespace)
    except ClusterNotFound:
        return 0
    return sum(len(subset.get("addresses") or []) for subset in document.get("subsets") or [])
