"""Read the recent log lines of a workload's pods and look for patterns, as ``kubectl logs`` would."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence, parse_duration, short
from bot.errors import ClusterNotFound
from bot.i18n import both

__all__ = ["PodLogsCheck", "run"]

_WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset", "pod")


class PodLogsCheck(CheckBase):
    """Patterns that must not appear, or must appear, in a workload's recent logs."""

    kind: Literal["pod_logs"]
    workload: str = Field(description="KIND/NAME: deployment/otel-collector, statefulset/tempo or pod/NAME.")
    container: str | None = Field(default=None, description="Container name; the pod's first container when unset.")
    namespace: str | None = None
    tail: int = Field(default=200, ge=1, le=10000, description="Lines read from the end of each pod's log.")
    since: str | None = Field(default=None, description="Only lines newer than this duration, e.g. 10m.")
    max_pods: int = Field(default=3, ge=1, le=20, description="Pods of the workload whose logs are read.")
    absent: list[str] = Field(default_factory=list, description="Regular expressions no line may match.")
    present: list[str] = Field(default_factory=list, description="Regular expressions that some line must match, each.")
    ignore_case: bool = True

    @field_validator("workload")
    @classmethod
    def _kind_and_name(cls, value: str) -> str:
        kind, _, name = value.partition("/")
        if kind not in _WORKLOAD_KINDS or not name:
            raise ValueError(f"workload must be KIND/NAME with KIND one of {', '.join(_WORKLOAD_KINDS)}; got {value!r}")
        return value

    @field_validator("absent", "present")
    @classmethod
    def _compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {pattern!r}: {exc}") from exc
        return patterns

    @field_validator("since")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value


async def run(check: PodLogsCheck, ctx: CheckContext) -> CheckOutcome:
    cluster = ctx.cluster
    if cluster is None:
        raise ClusterNotFound("no cluster configured")
    namespace = check.namespace or ctx.namespace
    pods = await _pods_of(check.workload, namespace, ctx, check.max_pods)
    if not pods:
        raise ClusterNotFound(f"no pods found for {check.workload} in namespace {namespace}")

    tail = min(check.tail, ctx.settings.checks.max_log_lines)
    since = int(parse_duration(check.since)) if check.since else None
    lines: list[str] = []
    for pod in pods:
        text = await cluster.pod_logs(pod, namespace, container=check.container, tail_lines=tail, since_seconds=since)
        lines.extend(f"{pod}: {line}" for line in text.splitlines() if line.strip())

    flags = re.IGNORECASE if check.ignore_case else 0
    scope = both("evidence.logs_scope", lines=len(lines), pods=len(pods), workload=check.workload)
    evidence = [Evidence(text=scope)]
    for pattern in check.absent:
        evidence.append(_absent(pattern, lines, flags))
    for pattern in check.present:
        evidence.append(_present(pattern, lines, flags))
    return CheckOutcome.from_evidence(evidence)


async def _pods_of(workload: str, namespace: str, ctx: CheckContext, limit: int) -> list[str]:
    kind, _, name = workload.partition("/")
    cluster = ctx.cluster
    assert cluster is not None
    if kind == "pod":
        return [name]
    owner = await cluster.get(kind, name, namespace)
    labels = (owner.get("spec", {}).get("selector") or {}).get("matchLabels") or {}
    if not labels:
        return []
    selector = ",".join(f"{key}={value}" for key, value in sorted(labels.items()))
    pods = await cluster.list("pod", namespace, label_selector=selector)
    running = [pod for pod in pods if (pod.get("status") or {}).get("phase") == "Running"] or pods
    return [pod["metadata"]["name"] for pod in running[:limit]]


def _absent(pattern: str, lines: list[str], flags: int) -> Evidence:
    regex = re.compile(pattern, flags)
    hits = [line for line in lines if regex.search(line)]
    if not hits:
        return Evidence(text=both("evidence.logs_absent_ok", pattern=pattern), ok=True)
    text = both("evidence.logs_absent_failed", pattern=pattern, count=len(hits), line=short(hits[-1], 200))
    return Evidence(text=text, ok=False, detail="\n".join(hits[-20:]))


def _present(pattern: str, lines: list[str], flags: int) -> Evidence:
    regex = re.compile(pattern, flags)
    hits = [line for line in lines if regex.search(line)]
    if hits:
        return Evidence(text=both("evidence.logs_present_ok", pattern=pattern, line=short(hits[0], 200)), ok=True)
    return Evidence(text=both("evidence.logs_present_failed", pattern=pattern), ok=False)
