"""Read several documents together so that one assertion can relate them.

Some causes show only in two places at once: a Prometheus 3.x version in
``/api/v1/status/buildinfo`` together with ``--enable-feature=remote-write-receiver`` in the
Deployment's args, where either alone is normal. A ``combined`` check reads each named source and
asserts on ``{source name: value}``, where the value is

* a Kubernetes object as the API returns it, or ``{items, count}`` for a list (``resource``),
* the parsed YAML or JSON of one ConfigMap key (``configmap`` and ``key``),
* ``{status, body}`` of a GET to a backend, the body parsed as JSON, text or Prometheus text
  format (``backend`` and ``path``).

``show`` lines report selected values without judging them, for facts a person needs next to the
verdict, such as the metric names that do exist. Every read is a GET.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import jmespath
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from bot.backends import BackendResponse, decode_json
from bot.checks.base import CheckBase, CheckContext, CheckOutcome, CheckStatus, Evidence, evaluate_assertions, short
from bot.checks.config import ParseFailure, parse_document, parse_failure_text, read_config
from bot.checks.http import BACKEND_NAME, parse_prometheus_text, validate_backend_path
from bot.checks.k8s_object import K8sObjectCheck
from bot.errors import ClusterNotFound
from bot.i18n import LocalizedText, both, tr
from bot.redact import redact_document

__all__ = ["CombinedCheck", "Shown", "Source", "run"]

SourceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$")]
Resource = K8sObjectCheck.model_fields["resource"].annotation


class Source(BaseModel):
    """One document to read: a Kubernetes object or list, a ConfigMap key, or a backend GET."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    resource: Resource | None = Field(default=None, description="Kubernetes resource kind, e.g. deployment.")
    name: str | None = Field(default=None, description="Object name; without one the source is {items, count} of a list.")
    selector: str | None = Field(default=None, description="Label selector of the list, e.g. grafana_dashboard=1.")
    configmap: str | None = Field(default=None, description="ConfigMap whose key is parsed.")
    key: str | None = Field(default=None, description="ConfigMap data key.")
    backend: str | None = Field(
        default=None, pattern=BACKEND_NAME, description="Backend name from settings: prometheus, tempo, grafana, otel-collector."
    )
    path: str | None = Field(default=None, description="Absolute path on the backend, e.g. /api/v1/status/buildinfo.")
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters of the backend GET.")
    format: Literal["auto", "yaml", "json", "text", "prometheus"] = Field(
        default="auto", description="How a ConfigMap key (auto, yaml, json) or a backend body (auto means json) is parsed."
    )
    namespace: str | None = Field(default=None, description="Namespace; the configured one when unset.")
    missing: Literal["error", "null"] = Field(
        default="error",
        description="What a missing object or key, or a backend status other than 200, makes of the source: "
        "an error of the check, or null in the document.",
    )

    @field_validator("path")
    @classmethod
    def _plain_path(cls, value: str | None) -> str | None:
        return validate_backend_path(value) if value is not None else None

    @model_validator(mode="after")
    def _one_origin(self) -> "Source":
        origins = [name for name in ("resource", "configmap", "backend") if getattr(self, name) is not None]
        if len(origins) != 1:
            raise ValueError(f"a source needs exactly one of resource, configmap or backend; got {origins or 'none'}")
        allowed = {
            "resource": {"name", "selector"},
            "configmap": {"key"},
            "backend": {"path", "params"},
        }[origins[0]]
        stray = sorted({"name", "selector", "key", "path", "params"} & self.model_fields_set - allowed)
        if stray:
            raise ValueError(f"a {origins[0]} source does not take {', '.join(stray)}")
        if self.resource is not None and self.name and self.selector:
            raise ValueError("give either name or selector, not both")
        if self.configmap is not None and not self.key:
            raise ValueError("a configmap source needs a key")
        if self.backend is not None and not self.path:
            raise ValueError("a backend source needs a path")
        formats = {"resource": {"auto"}, "configmap": {"auto", "yaml", "json"}, "backend": {"auto", "json", "text", "prometheus"}}
        if self.format not in formats[origins[0]]:
            raise ValueError(f"a {origins[0]} source takes format {', '.join(sorted(formats[origins[0]]))}, not {self.format}")
        return self


class Shown(BaseModel):
    """A value reported as evidence without passing or failing the check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="JMESPath expression on the combined document.")
    label: LocalizedText = Field(description="What the value is, shown before it.")

    @field_validator("path")
    @classmethod
    def _compile(cls, value: str) -> str:
        jmespath.compile(value)
        return value


class CombinedCheck(CheckBase):
    """Assertions on ``{source name: document}`` of several sources read together."""

    kind: Literal["combined"]
    sources: dict[SourceName, Source] = Field(min_length=1, description="Documents to read, by the name assertions use.")
    show: list[Shown] = Field(default_factory=list, description="Values reported as evidence before the assertions.")


class _SourceUnavailable(Exception):
    """A source that could not be read, with the reason shown in the report."""

    def __init__(self, reason: LocalizedText) -> None:
        self.reason = reason
        super().__init__(reason.en)


async def run(check: CombinedCheck, ctx: CheckContext) -> CheckOutcome:
    names = list(check.sources)
    try:
        values = await asyncio.gather(*(_read(check.sources[name], ctx, check) for name in names))
    except _SourceUnavailable as exc:
        return CheckOutcome(CheckStatus.ERROR, reason=exc.reason)
    document = dict(zip(names, values))

    # Shown values are selected from the document with its credentials masked, as assertions are.
    masked = redact_document(document) if check.show else document
    evidence = [_shown(item, masked) for item in check.show]
    evidence.extend(evaluate_assertions(check.expect, document))
    return CheckOutcome.from_evidence(evidence)


async def _read(source: Source, ctx: CheckContext, check: CombinedCheck) -> Any:
    namespace = source.namespace or ctx.namespace
    if source.backend is not None:
        return await _read_backend(source, ctx, check)
    if ctx.cluster is None:
        raise ClusterNotFound("no cluster configured")

    if source.configmap is not None:
        try:
            values = await read_config(ctx, source.configmap, source.key or "", namespace)
        except ClusterNotFound:
            if source.missing == "null":
                return None
            raise
        if source.key not in values:
            if source.missing == "null":
                return None
            raise ClusterNotFound(f"key {source.key} not found in configmap {namespace}/{source.configmap}")
        try:
            return parse_document(values[source.key], key=source.key, format=source.format)
        except ParseFailure as exc:
            raise _SourceUnavailable(parse_failure_text(source.configmap, source.key, namespace, exc)) from exc

    assert source.resource is not None
    if source.name:
        try:
            return await ctx.cluster.get(source.resource, source.name, namespace)
        except ClusterNotFound:
            if source.missing == "null":
                return None
            raise
    items = await ctx.cluster.list(source.resource, namespace, label_selector=source.selector)
    return {"items": items, "count": len(items)}


async def _read_backend(source: Source, ctx: CheckContext, check: CombinedCheck) -> Any:
    assert source.backend is not None and source.path is not None
    timeout = check.timeout_s or ctx.settings.checks.default_timeout_s
    response = await ctx.backends.get(source.backend, source.path, params=list(source.params.items()), timeout_s=timeout)
    if response.status != 200:
        if source.missing == "null":
            return None
        raise _SourceUnavailable(both("evidence.http_status", backend=source.backend, path=source.path, status=response.status))
    return {"status": response.status, "body": _parse_body(source.format, response)}


def _parse_body(format: str, response: BackendResponse) -> Any:
    if format == "prometheus":
        return parse_prometheus_text(response)
    if format == "text":
        return response.text()
    return decode_json(response)


def _shown(item: Shown, document: dict[str, Any]) -> Evidence:
    value = short(jmespath.search(item.path, document))
    text = LocalizedText(ko=tr("ko", "evidence.shown", label=item.label.ko, value=value), en=tr("en", "evidence.shown", label=item.label.en, value=value))
    return Evidence(text=text)
