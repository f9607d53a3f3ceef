"""Fake credentials planted in the sandbox stack where a real stack keeps real ones.

Each value is unique, so finding it anywhere in an output means a leak. ``plant`` writes three
into the collector's config: a ``prometheusremotewrite`` Authorization header, a password in the
endpoint URL and a ``basicauth`` password. Two go into Grafana's datasource ``secureJsonData``,
and AWS keys into the env of two workloads. The rest are a bearer token in a collector log line,
a token in a Grafana response, and a token in the error message the API server returns for
Tempo's ConfigMap, which the bot logs.
"""

from __future__ import annotations

from typing import Any

from bot.sandbox import Route, Sandbox
from tests.support.stack import NAMESPACE, edit_collector_config, edit_grafana_provisioning, pod_name, set_env

REMOTE_WRITE_TOKEN = "prw-header-token-7f3a9c2e1b"
URL_PASSWORD = "urlpass-8h7g6f5d"
BASIC_PASSWORD = "basic-pass-Q9w8e7r6"
GRAFANA_HEADER_TOKEN = "glsa_grafanaSecureHeader0123456789ab"
GRAFANA_PASSWORD = "grafana-basic-pw-5t4r3e"
AWS_KEY_ID = "AKIAQWERTYUIOPASDFGH"
AWS_SECRET_KEY = "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"
LOG_TOKEN = "log-token-abcdef123456789"
BODY_TOKEN = "body-token-zyxwvu987654321"
STATUS_TOKEN = "status-token-1q2w3e4r5t6y"

SECRETS = {
    "remote write Authorization header": REMOTE_WRITE_TOKEN,
    "password in the remote write URL": URL_PASSWORD,
    "basicauth password": BASIC_PASSWORD,
    "Grafana secureJsonData header": GRAFANA_HEADER_TOKEN,
    "Grafana secureJsonData password": GRAFANA_PASSWORD,
    "AWS access key id": AWS_KEY_ID,
    "AWS secret access key": AWS_SECRET_KEY,
    "token in a collector log line": LOG_TOKEN,
    "token in a Grafana response body": BODY_TOKEN,
    "token in an API server error message": STATUS_TOKEN,
}

# The token comes early in the line, so it is inside the 200 characters that evidence quotes.
UNAUTHORIZED_LINE = (
    f"2026-12-04T09:03:41.220Z\terror\tAuthorization: Bearer {LOG_TOKEN} was rejected: "
    '{"kind": "exporter", "name": "prometheusremotewrite", '
    '"error": "Permanent error: remote write returned HTTP status 401 Unauthorized", "dropped_items": 390}\n'
)


def plant(sandbox: Sandbox) -> None:
    """Write every fake credential of ``SECRETS`` into the running sandbox."""

    def collector(config: dict[str, Any]) -> None:
        exporter = config["exporters"].setdefault("prometheusremotewrite", {})
        exporter["endpoint"] = f"http://writer:{URL_PASSWORD}@prometheus:9090/api/v1/write"
        exporter["headers"] = {"Authorization": f"Bearer {REMOTE_WRITE_TOKEN}"}
        config.setdefault("extensions", {})["basicauth/prw"] = {"client_auth": {"username": "otel", "password": BASIC_PASSWORD}}

    def datasources(document: dict[str, Any]) -> None:
        first = document["datasources"][0]
        first["basicAuth"] = True
        first["basicAuthUser"] = "admin"
        first["jsonData"] = {"httpHeaderName1": "Authorization"}
        first["secureJsonData"] = {"httpHeaderValue1": f"Bearer {GRAFANA_HEADER_TOKEN}", "basicAuthPassword": GRAFANA_PASSWORD}

    edit_collector_config(sandbox.cluster, collector)
    edit_grafana_provisioning(sandbox.cluster, "datasources.yaml", datasources)
    for deployment in ("user-service", "otel-collector"):
        set_env(sandbox.cluster, deployment, "AWS_ACCESS_KEY_ID", AWS_KEY_ID)
        set_env(sandbox.cluster, deployment, "AWS_SECRET_ACCESS_KEY", AWS_SECRET_KEY)

    collector_pod = pod_name(sandbox.cluster, "otel-collector")
    with sandbox.cluster.lock:
        logs = sandbox.cluster.logs.get((NAMESPACE, collector_pod), "")
        sandbox.cluster.logs[(NAMESPACE, collector_pod)] = logs + UNAUTHORIZED_LINE

    body = {"status": "ERROR", "message": f"Prometheus returned 401; upstream said token={BODY_TOKEN}"}
    sandbox.backends["grafana"].set_route(Route.from_dict({"path": "/api/datasources/uid/prometheus/health", "json": body}))

    # An admission webhook or an aggregated API can quote a request in its error message.
    tempo_configmap = f"/api/v1/namespaces/{NAMESPACE}/configmaps/tempo"
    sandbox.cluster.faults[tempo_configmap] = (500, f"etcdserver: request timed out; request carried token={STATUS_TOKEN}")


def leaks(text: str) -> list[str]:
    """Return the names of the planted credentials that ``text`` contains."""
    return [name for name, value in SECRETS.items() if value in text]
