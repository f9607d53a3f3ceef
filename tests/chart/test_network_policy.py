"""The NetworkPolicy allows egress to DNS, the API server, the backends, Redis and Slack only."""

from __future__ import annotations

from tests.chart.conftest import VALUE_SETS

MONITORED = "wealist-prod"


def egress_ports(rule: dict) -> set[tuple[int | str, str]]:
    return {(port["port"], port["protocol"]) for port in rule["ports"]}


def test_policy_is_off_by_default(render) -> None:
    assert render(VALUE_SETS["default"]).of_kind("NetworkPolicy") == []


def test_egress_rules_cover_each_destination(render) -> None:
    policy = render(VALUE_SETS["network-policy"]).one("NetworkPolicy", "otelbot")

    egress = policy["spec"]["egress"]
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert egress_ports(egress[0]) == {(53, "UDP"), (53, "TCP")}
    assert egress[0]["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert egress_ports(egress[1]) == {(443, "TCP"), (6443, "TCP")}
    assert egress[1]["to"] == [{"ipBlock": {"cidr": "10.0.0.1/32"}}]
    backend_ports = set()
    for rule in egress[2:6]:
        assert rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": MONITORED}}}]
        backend_ports |= egress_ports(rule)
    assert backend_ports == {(9090, "TCP"), (3200, "TCP"), (3000, "TCP"), (8888, "TCP")}
    assert egress[6] == {"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"port": 443, "protocol": "TCP"}]}
    assert len(egress) == 7


def test_every_egress_rule_has_ports(render) -> None:
    for name in ("network-policy", "bundled-redis"):
        policy = render(VALUE_SETS[name]).one("NetworkPolicy", "otelbot")
        for rule in policy["spec"]["egress"]:
            assert rule["ports"], f"{name}: an egress rule without ports allows every port: {rule}"


def test_backend_in_other_namespace(render) -> None:
    values = {
        **VALUE_SETS["network-policy"],
        "config": {"backends": {"tempo": {"service": "tempo", "port": 3200, "namespace": "tracing"}}},
    }

    egress = render(values).one("NetworkPolicy", "otelbot")["spec"]["egress"]
    tempo = [rule for rule in egress if egress_ports(rule) == {(3200, "TCP")}]
    prometheus = [rule for rule in egress if egress_ports(rule) == {(9090, "TCP")}]
    assert tempo[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "tracing"}
    assert prometheus[0]["to"][0]["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": MONITORED}


def test_bundled_redis_egress_and_its_own_policy(render) -> None:
    result = render(VALUE_SETS["bundled-redis"])

    egress = result.one("NetworkPolicy", "otelbot")["spec"]["egress"]
    redis_rules = [rule for rule in egress if egress_ports(rule) == {(6379, "TCP")}]
    assert redis_rules[0]["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "redis"
    redis_policy = result.one("NetworkPolicy", "otelbot-redis")["spec"]
    assert redis_policy["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "bot"
    assert redis_policy["egress"] == []


def test_external_redis_egress(render) -> None:
    values = {**VALUE_SETS["http-3-replicas-external-redis"], "networkPolicy": {"enabled": True}}

    egress = render(values).one("NetworkPolicy", "otelbot")["spec"]["egress"]
    assert {"ports": [{"port": 6379, "protocol": "TCP"}, {"port": 26379, "protocol": "TCP"}]} in egress


def test_ingress_only_to_http_port(render) -> None:
    values = {**VALUE_SETS["network-policy"], "networkPolicy": {"enabled": True, "ingressFrom": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}]}}

    ingress = render(values).one("NetworkPolicy", "otelbot")["spec"]["ingress"]
    assert ingress == [{"ports": [{"port": "http", "protocol": "TCP"}], "from": [{"namespaceSelector": {"matchLabels": {"name": "ingress"}}}]}]
