"""grafana-datasource against the sandbox cluster and a local Grafana stand-in."""

from __future__ import annotations

import json

import pytest

from bot.sandbox import Route
from tests.support.stack import edit_grafana_provisioning

PLAYBOOK = "grafana-datasource"
HEALTH_PROMETHEUS = "/api/datasources/uid/prometheus/health"

# What Grafana 10 returns, with HTTP 400, when the Prometheus datasource cannot be queried.
PROMETHEUS_HEALTH_ERROR = {
    "status": "ERROR",
    "message": 'Post "http://prometheus:9090/api/v1/query": dial tcp 10.43.12.7:9090: connect: connection refused'
    " - There was an error returned querying the Prometheus API.",
}


def set_datasource_url(cluster, name: str, url: str) -> None:
    def edit(config):
        next(item for item in config["datasources"] if item["name"] == name)["url"] = url

    edit_grafana_provisioning(cluster, "datasources.yaml", edit)


def diagnose(run_cli, *extra: str):
    return run_cli("diagnose", "grafana datasource connection failed", "--playbook", PLAYBOOK, "--json", "--lang", "en", *extra)


def test_healthy_stack_is_healthy(sandbox, run_cli) -> None:
    result = diagnose(run_cli)

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["status"] == "healthy"
    assert result.cause_ids() == []
    assert {check["status"] for check in result.json["checks"]} == {"pass"}
    urls = " ".join(result.check("datasource-urls")["evidence"])
    assert "http://loki:3100" in urls


@pytest.mark.parametrize(
    ("url", "evidence"),
    [
        ("http://prometheus:9091", "does not expose port 9091"),
        ("http://prometheus-server:9090", "wealist-prod/prometheus-server, which does not exist"),
        ("prometheus:9090", "has no http:// or https:// scheme"),
    ],
)
def test_wrong_prometheus_url_reports_cause(sandbox, run_cli, url: str, evidence: str) -> None:
    set_datasource_url(sandbox.cluster, "Prometheus", url)

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.json["status"] == "problem"
    assert result.cause_ids() == ["datasource-url-wrong"]
    urls = result.check("datasource-urls")
    assert urls["status"] == "fail"
    assert evidence in " ".join(urls["evidence"])
    assert result.check("datasource-health-prometheus")["status"] == "pass"
    patch = result.json["causes"][0]["patch"]
    assert patch["path"] == "k8s/helm/charts/wealist-monitoring/templates/grafana/configmap.yaml"
    assert "url: http://prometheus:9090" in patch["content"]
    assert "url: http://tempo:3200" in patch["content"]
    assert "datasources.yaml: |" in patch["content"]


def test_wrong_tempo_url_reports_cause(sandbox, run_cli) -> None:
    set_datasource_url(sandbox.cluster, "Tempo", "http://tempo:4317")
    sandbox.cluster.get("Service", "wealist-prod", "tempo")["spec"]["ports"] = [{"name": "http", "port": 3200}]

    result = diagnose(run_cli)

    assert result.cause_ids() == ["datasource-url-wrong"]
    assert "does not expose port 4317" in " ".join(result.check("datasource-urls")["evidence"])


def test_failed_health_check_reports_cause(sandbox, run_cli) -> None:
    body = json.dumps(PROMETHEUS_HEALTH_ERROR).encode()
    sandbox.backends["grafana"].set_route(Route(path=HEALTH_PROMETHEUS, status=400, body=body))

    result = diagnose(run_cli)

    assert result.exit_code == 1, result.stdout + result.stderr
    assert result.cause_ids() == ["datasource-url-wrong"]
    health = result.check("datasource-health-prometheus")
    assert health["status"] == "fail"
    assert "connection refused" in " ".join(health["evidence"])
    assert result.check("datasource-health-tempo")["status"] == "pass"
    assert result.check("datasource-urls")["status"] == "pass"


def test_unreachable_grafana_is_inconclusive(sandbox, run_cli) -> None:
    sandbox.unroute_service("grafana", 3000)

    result = diagnose(run_cli)

    assert result.exit_code == 3, result.stdout
    assert result.json["status"] == "inconclusive"
    assert result.cause_ids() == []
    assert result.check("datasource-health-prometheus")["status"] == "error"
    assert result.check("datasource-health-tempo")["status"] == "error"
    assert result.check("datasource-urls")["status"] == "pass"


def test_unknown_datasource_uid_is_error(sandbox, run_cli) -> None:
    body = json.dumps({"message": "Unable to load datasource metadata"}).encode()
    sandbox.backends["grafana"].set_route(Route(path=HEALTH_PROMETHEUS, status=500, body=body))

    result = diagnose(run_cli)

    assert result.json["status"] == "inconclusive"
    health = result.check("datasource-health-prometheus")
    assert health["status"] == "error"
    assert "HTTP 500" in " ".join(health["evidence"])


@pytest.mark.parametrize(
    "text",
    [
        "Error: Data source is not configured correctly",
        "그라파나 데이터소스 연결 실패",
        "데이터소스 Save & test 누르면 실패함",
        'Post "http://prometheus:9090/api/v1/query": EOF - There was an error returned querying the Prometheus API.',
    ],
)
def test_symptom_selects_playbook(sandbox, run_cli, text: str) -> None:
    set_datasource_url(sandbox.cluster, "Prometheus", "http://prometheus:9091")

    result = run_cli("diagnose", text, "--json")

    assert result.json["playbook"]["id"] == PLAYBOOK
    assert result.cause_ids() == ["datasource-url-wrong"]


def test_korean_report_by_default(sandbox, run_cli) -> None:
    set_datasource_url(sandbox.cluster, "Prometheus", "http://prometheus:9091")

    result = run_cli("diagnose", "데이터소스 연결이 안 돼요", "--playbook", PLAYBOOK)

    assert result.exit_code == 1
    assert "데이터소스 URL이 잘못되어 Grafana가 백엔드에 연결하지 못함" in result.stdout
    assert "포트 9091를 노출하지 않음" in result.stdout
