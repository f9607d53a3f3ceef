"""Render helm/otelbot with Helm's own engine (helm-python-sdk, no helm binary, no cluster).

The value sets below are the combinations the chart supports. Tests that take the ``rendered``
fixture run once for each of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import helm_python
import pytest
import yaml

REPO_DIR = Path(__file__).resolve().parents[2]
CHART_DIR = REPO_DIR / "helm" / "otelbot"
RELEASE = "otelbot"
NAMESPACE = "otelbot"
KUBE_VERSION = "1.33"

SOCKET_TOKENS = {"botToken": "xoxb-test-bot-token", "appToken": "xapp-test-app-token"}
HTTP_TOKENS = {"botToken": "xoxb-test-bot-token", "signingSecret": "test-signing-secret"}

VALUE_SETS: dict[str, dict[str, Any]] = {
    "default": {"slack": SOCKET_TOKENS},
    "cluster-wide-rbac": {"slack": SOCKET_TOKENS, "rbac": {"clusterWide": True}},
    "http-3-replicas-external-redis": {
        "replicaCount": 3,
        "slack": {"mode": "http", **HTTP_TOKENS},
        "redis": {"url": "redis://:password@redis.example.internal:6379/0"},
    },
    "existing-secrets": {
        "replicaCount": 2,
        "slack": {"mode": "http", "existingSecret": "slack-tokens"},
        "redis": {"existingSecret": "redis-url", "existingSecretKey": "url"},
    },
    "network-policy": {"slack": SOCKET_TOKENS, "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"]}}},
    "bundled-redis": {
        "replicaCount": 2,
        "slack": {"mode": "http", **HTTP_TOKENS},
        "redis": {"bundled": {"enabled": True}},
        "networkPolicy": {"enabled": True},
    },
    "bundled-redis-persistent": {"slack": SOCKET_TOKENS, "redis": {"bundled": {"enabled": True, "persistence": {"enabled": True}}}},
    "ingress": {
        "slack": {"mode": "http", **HTTP_TOKENS},
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "hosts": [{"host": "otelbot.example.com", "paths": [{"path": "/slack/events", "pathType": "Prefix"}]}],
            "tls": [{"hosts": ["otelbot.example.com"], "secretName": "otelbot-tls"}],
        },
    },
    "service-monitor": {"slack": SOCKET_TOKENS, "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}}},
    "extra-playbooks": {
        "slack": SOCKET_TOKENS,
        "extraPlaybooks": {"team.yaml": "id: team\n"},
        "rbac": {"extraRules": [{"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list"]}]},
    },
}


@dataclass
class Rendered:
    """The objects one `helm template` run produced, and its NOTES.txt."""

    objects: list[dict[str, Any]]
    notes: str

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [item for item in self.objects if item["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = [item for item in self.of_kind(kind) if name is None or item["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {[item['metadata']['name'] for item in found]}"
        return found[0]

    def bot_deployment(self) -> dict[str, Any]:
        return self.one("Deployment", RELEASE)

    def bot_container(self) -> dict[str, Any]:
        return self.bot_deployment()["spec"]["template"]["spec"]["containers"][0]


@pytest.fixture(scope="session")
def chart() -> Iterator[helm_python.Chart]:
    helm_python.disable_logging()
    with helm_python.Chart.load(CHART_DIR) as loaded:
        yield loaded


def render_chart(chart: helm_python.Chart, values: dict[str, Any]) -> Rendered:
    """Render the chart as `helm template otelbot helm/otelbot -n otelbot` would."""
    manifests = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)

    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        objects.extend(document for document in yaml.safe_load_all(text) if document)
    return Rendered(objects, notes)


@pytest.fixture
def render(chart: helm_python.Chart):
    return lambda values: render_chart(chart, values)


@pytest.fixture(params=sorted(VALUE_SETS), scope="session")
def value_set(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, VALUE_SETS[request.param]


@pytest.fixture(scope="session")
def rendered(chart: helm_python.Chart, value_set: tuple[str, dict[str, Any]]) -> Rendered:
    """The chart rendered with one of VALUE_SETS."""
    return render_chart(chart, value_set[1])
