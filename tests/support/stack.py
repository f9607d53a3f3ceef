"""Edits that break the sandbox stack one piece at a time, as scenario tests need."""

from __future__ import annotations

import json
from typing import Any, Callable

import yaml

from bot.sandbox import FakeCluster

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
