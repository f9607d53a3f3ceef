"""Edits that break the sandbox stack one piece at a time, as scenario tests need."""

from __future__ import annotations

import json
from typing import Any, Callable

import yaml

from bot.sandbox import FakeCluster, FixtureBackend, Route

NAMESPACE = "wealist-prod"


def container(cluster: FakeCluster, deployment: str) -> dict[str, Any]:
    return cluster.get("Deployment", NAMESPACE, deployment)["spec"]["template"]["spec"]["containers"][0]


def set_prometheus_receiver_flag(cluster: FakeCluster, enabled: bool) -> None:
    """Add or remove --web.enable-remote-write-receiver in the Prometheus Deployment."""
    args = container(cluster, "prometheus")["args"]
    flag = "--web.enable-remote-write-receiver"
    if enabled and flag not in args:
        args.append(flag)
    if not enabled and flag in args:
        args.remove(flag)


def edit_config(cluster: FakeCluster, configmap: str, key: str, edit: Callable[[Any], None]) -> None:
    """Parse a ConfigMap's YAML key, apply ``edit`` to the document and store it back."""
    document = cluster.get("ConfigMap", NAMESPACE, configmap)
    parsed = yaml.safe_load(document["data"][key])
    edit(parsed)
    document["data"][key] = yaml.safe_dump(parsed, sort_keys=False)


def edit_collector_config(cluster: FakeCluster, edit: Callable[[Any], None]) -> None:
    edit_config(cluster, "otel-collector-config", "config.yaml", edit)


def edit_tempo_config(cluster: FakeCluster, edit: Callable[[Any], None]) -> None:
    edit_config(cluster, "tempo", "tempo.yaml", edit)


def set_logs(cluster: FakeCluster, pod: str, text: str) -> None:
    with cluster.lock:
        cluster.logs[(NAMESPACE, pod)] = text


def pod_name(cluster: FakeCluster, app: str) -> str:
    with cluster.lock:
        return next(name for (plural, namespace, name), document in cluster.objects.items()
                    if plural == "pods" and document["metadata"]["labels"].get("app") == app)


def edit_grafana_provisioning(cluster: FakeCluster, key: str, edit: Callable[[Any], None]) -> None:
    """Edit datasources.yaml or dashboards.yaml of the Grafana provisioning ConfigMap."""
    edit_config(cluster, "grafana", key, edit)


def set_config_text(cluster: FakeCluster, configmap: str, key: str, text: str) -> None:
    """Replace a ConfigMap key's raw text, e.g. with JSON that does not parse."""
    with cluster.lock:
        cluster.get("ConfigMap", NAMESPACE, configmap)["data"][key] = text


def edit_dashboard(cluster: FakeCluster, configmap: str, key: str, edit: Callable[[Any], None]) -> None:
    """Parse a dashboard ConfigMap's JSON key, apply ``edit`` and store it back as JSON."""
    with cluster.lock:
        data = cluster.get("ConfigMap", NAMESPACE, configmap)["data"]
        dashboard = json.loads(data[key])
        edit(dashboard)
        data[key] = json.dumps(dashboard, indent=2)


def edit_env(cluster: FakeCluster, deployment: str, edit: Callable[[list[dict[str, Any]]], None]) -> None:
    """Apply ``edit`` to the env list of a Deployment's first container."""
    with cluster.lock:
        spec = container(cluster, deployment)
        env = spec.setdefault("env", [])
        edit(env)


def set_env(cluster: FakeCluster, deployment: str, name: str, value: str | None = None, *, value_from: dict[str, Any] | None = None) -> None:
    """Set one env variable of a Deployment's first container, replacing any with the same name."""
    def edit(env: list[dict[str, Any]]) -> None:
        entry: dict[str, Any] = {"name": name}
        if value_from is not None:
            entry["valueFrom"] = value_from
        else:
            entry["value"] = value
        env[:] = [item for item in env if item.get("name") != name] + [entry]

    edit_env(cluster, deployment, edit)


def remove_env(cluster: FakeCluster, deployment: str, *names: str) -> None:
    """Remove env variables from a Deployment's first container."""
    def edit(env: list[dict[str, Any]]) -> None:
        env[:] = [item for item in env if item.get("name") not in names]

    edit_env(cluster, deployment, edit)


def set_tempo_search(backend: FixtureBackend, query: str, traces: list[dict[str, Any]]) -> None:
    """Make Tempo's /api/search answer the TraceQL ``query`` with ``traces``."""
    body = {"traces": traces, "metrics": {"inspectedBytes": "1024", "completedJobs": 1, "totalJobs": 1}}
    backend.set_route(Route.from_dict({"path": "/api/search", "params": {"q": query}, "json": body}))


def use_prometheus_feature_flag(cluster: FakeCluster) -> None:
    """Swap --web.enable-remote-write-receiver for the deprecated --enable-feature=remote-write-receiver."""
    args = container(cluster, "prometheus")["args"]
    if "--web.enable-remote-write-receiver" in args:
        args.remove("--web.enable-remote-write-receiver")
    args.append("--enable-feature=remote-write-receiver")


def set_prometheus_unready(cluster: FakeCluster) -> None:
    """Show Prometheus as down: no ready replicas, and its endpoint addresses moved to notReadyAddresses."""
    with cluster.lock:
        status = cluster.get("Deployment", NAMESPACE, "prometheus")["status"]
        status.pop("readyReplicas", None)
        status["availableReplicas"] = 0
        for subset in cluster.get("Endpoints", NAMESPACE, "prometheus").get("subsets") or []:
            subset["notReadyAddresses"] = subset.pop("addresses", [])


def set_collector_metric(backend: FixtureBackend, sample: str, value: float) -> None:
    """Set the value of one sample, e.g. ``name{label="x"}``, in the collector's /metrics fixture."""
    route = backend.find("/metrics", {})
    if route is None:
        raise ValueError(f"backend {backend.name} has no /metrics route")
    lines = route.body.decode().splitlines()
    matching = [index for index, line in enumerate(lines) if line.startswith(sample + " ")]
    if len(matching) != 1:
        raise ValueError(f"expected one sample {sample} in {backend.name} /metrics, found {len(matching)}")
    lines[matching[0]] = f"{sample} {value:g}"
    backend.set_route(Route(path="/metrics", body=("\n".join(lines) + "\n").encode(), content_type=route.content_type))


def set_ready_replicas(cluster: FakeCluster, deployment: str, count: int) -> None:
    """Set a Deployment's ready and available replica counts. At 0 the status has no readyReplicas, as in Kubernetes."""
    with cluster.lock:
        status = cluster.get("Deployment", NAMESPACE, deployment)["status"]
        status["availableReplicas"] = count
        if count:
            status["readyReplicas"] = count
        else:
            status.pop("readyReplicas", None)
