"""Follow file paths written in a config to the volume mounts of the workload that reads them.

Each path is selected from a ConfigMap key, such as a Grafana dashboard provider's
``options.path``. Some volumeMount of the workload's container must be that path or a directory
above it. The mount must name a volume of the pod spec, and a ConfigMap volume must name a
ConfigMap that exists. A path that no mount covers is a directory the container sees empty or
missing.
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

import jmespath
from pydantic import Field, field_validator

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence
from bot.checks.config import select_in_config
from bot.errors import ClusterNotFound
from bot.i18n import both

__all__ = ["MountRefCheck", "covering_mount", "run"]

_WORKLOAD_KINDS = ("deployment", "statefulset", "daemonset")


class MountRefCheck(CheckBase):
    """Paths in a config must lie inside volumes mounted into the workload's container."""

    kind: Literal["mount_ref"]
    configmap: str
    key: str
    select: str = Field(description="JMESPath selecting the path string, or a list of them.")
    format: Literal["auto", "yaml", "json"] = "auto"
    workload: str = Field(description="KIND/NAME of the workload that reads the paths: deployment/grafana, statefulset/NAME.")
    container: str | None = Field(default=None, description="Container whose mounts count; every container of the pod when unset.")
    namespace: str | None = None

    @field_validator("select")
    @classmethod
    def _compile(cls, value: str) -> str:
        jmespath.compile(value)
        return value

    @field_validator("workload")
    @classmethod
    def _kind_and_name(cls, value: str) -> str:
        kind, _, name = value.partition("/")
        if kind not in _WORKLOAD_KINDS or not name:
            raise ValueError(f"workload must be KIND/NAME with KIND one of {', '.join(_WORKLOAD_KINDS)}; got {value!r}")
        return value


def covering_mount(path: str, mounts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Return the mount with the longest mountPath that is ``path`` or a directory above it."""
    target = posixpath.normpath(path)
    best: dict[str, Any] | None = None
    for mount in mounts:
        mount_path = posixpath.normpath(str(mount.get("mountPath") or ""))
        inside = target == mount_path or target.startswith(mount_path.rstrip("/") + "/")
        if inside and (best is None or len(mount_path) > len(posixpath.normpath(best["mountPath"]))):
            best = mount
    return best


async def run(check: MountRefCheck, ctx: CheckContext) -> CheckOutcome:
    namespace = check.namespace or ctx.namespace
    selections = await select_in_config(
        ctx, configmap=check.configmap, key=check.key, select=check.select, format=check.format, namespace=namespace
    )

    assert ctx.cluster is not None
    kind, _, name = check.workload.partition("/")
    workload = await ctx.cluster.get(kind, name, namespace)
    pod_spec = ((workload.get("spec") or {}).get("template") or {}).get("spec") or {}
    mounts = _mounts(pod_spec, check.container, check.workload)
    volumes = {volume.get("name"): volume for volume in pod_spec.get("volumes") or []}

    evidence: list[Evidence] = []
    for selection in selections:
        if selection.failure is not None:
            evidence.append(Evidence(text=selection.failure, ok=False))
            continue
        if not selection.values:
            evidence.append(Evidence(text=both("evidence.mount_path_missing", select=check.select), ok=False))
            continue
        for path in selection.values:
            evidence.append(await _check_path(ctx, str(path), mounts, volumes, check.workload, namespace))
    return CheckOutcome.from_evidence(evidence)


def _mounts(pod_spec: dict[str, Any], container: str | None, workload: str) -> list[dict[str, Any]]:
    containers = pod_spec.get("containers") or []
    if container is not None:
        containers = [item for item in containers if item.get("name") == container]
        if not containers:
            raise ClusterNotFound(f"container {container} not found in {workload}")
    return [mount for item in containers for mount in item.get("volumeMounts") or []]


async def _check_path(
    ctx: CheckContext,
    path: str,
    mounts: list[dict[str, Any]],
    volumes: dict[str, dict[str, Any]],
    workload: str,
    namespace: str,
) -> Evidence:
    mount = covering_mount(path, mounts)
    if mount is None:
        mounted = sorted(str(item.get("mountPath")) for item in mounts)
        return Evidence(text=both("evidence.mount_missing", path=path, workload=workload, mounts=", ".join(mounted) or "-"), ok=False)

    mount_path = mount["mountPath"]
    volume = volumes.get(mount.get("name"))
    if volume is None:
        text = both("evidence.mount_volume_missing", mount=mount_path, volume=mount.get("name"), workload=workload)
        return Evidence(text=text, ok=False)

    configmap = (volume.get("configMap") or {}).get("name")
    if configmap:
        assert ctx.cluster is not None
        try:
            await ctx.cluster.get("configmap", configmap, namespace)
        except ClusterNotFound:
            text = both("evidence.mount_configmap_missing", path=path, configmap=f"{namespace}/{configmap}")
            return Evidence(text=text, ok=False)

    return Evidence(text=both("evidence.mount_ok", path=path, mount=mount_path, source=_source(volume)), ok=True)


def _source(volume: dict[str, Any]) -> str:
    """Describe where a volume's files come from, e.g. ``configmap grafana-dashboards-slo``."""
    if "configMap" in volume:
        return f"configmap {volume['configMap'].get('name')}"
    if "persistentVolumeClaim" in volume:
        return f"pvc {volume['persistentVolumeClaim'].get('claimName')}"
    kinds = sorted(key for key in volume if key != "name")
    return kinds[0] if kinds else "volume"
