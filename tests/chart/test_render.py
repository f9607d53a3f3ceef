"""Every supported value set renders objects that a Kubernetes API server would accept."""

from __future__ import annotations

from typing import Any

import helm_python
import kubernetes_validate
import pytest

from tests.chart.conftest import CHART_DIR, KUBE_VERSION, NAMESPACE, RELEASE, VALUE_SETS, Rendered

# kubernetes-validate has no schema for custom resources, so their tests check them field by field.
CUSTOM_KINDS = {"ServiceMonitor"}


def test_lint_passes_for_every_value_set() -> None:
    for name, values in VALUE_SETS.items():
        report = helm_python.lint(CHART_DIR, values, strict=True, namespace=NAMESPACE, kube_version=f"v{KUBE_VERSION}.0")

        problems = [message for message in report["messages"] if message["severity"] >= 2]
        assert report["errors"] == [], name
        assert problems == [], name


def test_objects_match_kubernetes_schemas(rendered: Rendered) -> None:
    for item in rendered.objects:
        if item["kind"] in CUSTOM_KINDS:
            continue
        try:
            kubernetes_validate.validate(item, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(part) for part in exc.path)
            pytest.fail(f"{item['kind']}/{item['metadata']['name']}: {path}: {exc.message}")


def test_objects_have_namespace_and_labels(rendered: Rendered) -> None:
    cluster_scoped = {"ClusterRole", "ClusterRoleBinding"}
    for item in rendered.objects:
        metadata = item["metadata"]
        assert metadata["labels"]["app.kubernetes.io/instance"] == RELEASE, item["kind"]
        if item["kind"] in cluster_scoped:
            assert "namespace" not in metadata, item["kind"]
        else:
            assert metadata.get("namespace"), f"{item['kind']}/{metadata['name']} has no namespace"


def test_names_are_unique_per_kind(rendered: Rendered) -> None:
    keys = [(item["kind"], item["metadata"].get("namespace"), item["metadata"]["name"]) for item in rendered.objects]

    assert len(keys) == len(set(keys)), keys


def test_references_point_at_rendered_objects(rendered: Rendered, value_set: tuple[str, dict[str, Any]]) -> None:
    values = value_set[1]
    names = {(item["kind"], item["metadata"]["name"]) for item in rendered.objects}
    existing_secrets = {values.get("slack", {}).get("existingSecret"), values.get("redis", {}).get("existingSecret")} - {None}
    pod = rendered.bot_deployment()["spec"]["template"]["spec"]

    assert ("ServiceAccount", pod["serviceAccountName"]) in names
    for volume in pod["volumes"]:
        if "configMap" in volume:
            assert ("ConfigMap", volume["configMap"]["name"]) in names, volume
    for env in rendered.bot_container()["env"]:
        ref = env.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ("Secret", ref["name"]) in names or ref["name"] in existing_secrets, env["name"]
    for binding in rendered.of_kind("RoleBinding") + rendered.of_kind("ClusterRoleBinding"):
        assert (binding["roleRef"]["kind"], binding["roleRef"]["name"]) in names
        assert binding["subjects"][0]["name"] == pod["serviceAccountName"]
        assert binding["subjects"][0]["namespace"] == NAMESPACE


def test_service_selects_bot_pods(rendered: Rendered) -> None:
    pod_labels = rendered.bot_deployment()["spec"]["template"]["metadata"]["labels"]
    for service in rendered.of_kind("Service"):
        selector = service["spec"]["selector"]
        pods = [deployment["spec"]["template"]["metadata"]["labels"] for deployment in rendered.of_kind("Deployment")]
        assert any(selector.items() <= labels.items() for labels in pods), service["metadata"]["name"]
        if service["metadata"]["name"] == RELEASE:
            assert selector.items() <= pod_labels.items()
            assert service["spec"]["ports"][0]["targetPort"] == "http"


def test_socket_mode_has_no_service(render) -> None:
    assert render(VALUE_SETS["default"]).of_kind("Service") == []


def test_http_mode_has_service(render) -> None:
    service = render(VALUE_SETS["http-3-replicas-external-redis"]).one("Service", RELEASE)

    assert service["spec"]["ports"][0]["port"] == 80


def test_ingress_routes_slack_events_to_service(render) -> None:
    ingress = render(VALUE_SETS["ingress"]).one("Ingress")

    rule = ingress["spec"]["rules"][0]
    path = rule["http"]["paths"][0]
    assert rule["host"] == "otelbot.example.com"
    assert path["path"] == "/slack/events"
    assert path["backend"]["service"] == {"name": RELEASE, "port": {"name": "http"}}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"][0]["secretName"] == "otelbot-tls"


def test_service_monitor_scrapes_metrics(render) -> None:
    result = render(VALUE_SETS["service-monitor"])

    monitor = result.one("ServiceMonitor")
    service = result.one("Service", RELEASE)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}]


def test_pod_disruption_budget_allows_drain(render) -> None:
    budget = render(VALUE_SETS["default"]).one("PodDisruptionBudget")

    assert budget["spec"]["maxUnavailable"] == 1
    assert "minAvailable" not in budget["spec"]


def test_config_change_rolls_pods(render) -> None:
    english = {**VALUE_SETS["default"], "config": {"lang": "en"}}

    before = render(VALUE_SETS["default"]).bot_deployment()["spec"]["template"]["metadata"]["annotations"]
    after = render(english).bot_deployment()["spec"]["template"]["metadata"]["annotations"]
    assert before["checksum/config"] != after["checksum/config"]
    assert before["checksum/secret"] == after["checksum/secret"]


def test_notes_tell_how_to_check(rendered: Rendered) -> None:
    assert "/otel help" in rendered.notes
    assert f"rollout status deployment/{RELEASE}" in rendered.notes
    assert "otelbot rbac --check" in rendered.notes
