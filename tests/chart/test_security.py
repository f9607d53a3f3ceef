"""Pods run restricted: non-root, read-only root filesystem, no capabilities, tokens from Secrets."""

from __future__ import annotations

import helm_python
import pytest

from tests.chart.conftest import VALUE_SETS, Rendered

RESTRICTED_CONTAINER = {
    "runAsNonRoot": True,
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
SECRET_ENV = {"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET"}


def pod_specs(rendered: Rendered) -> list[dict]:
    return [deployment["spec"]["template"]["spec"] for deployment in rendered.of_kind("Deployment")]


def test_containers_are_restricted(rendered: Rendered) -> None:
    for pod in pod_specs(rendered):
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            context = container["securityContext"]
            for key, expected in RESTRICTED_CONTAINER.items():
                assert context.get(key) == expected, f"{container['name']}: securityContext.{key}"
            assert context["runAsUser"] > 0, container["name"]
            assert "add" not in context["capabilities"], container["name"]


def test_pods_have_no_host_access(rendered: Rendered) -> None:
    for pod in pod_specs(rendered):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            assert not pod.get(key), key
        for volume in pod["volumes"]:
            assert "hostPath" not in volume, volume["name"]


def test_bot_writes_only_to_tmp(rendered: Rendered) -> None:
    pod = rendered.bot_deployment()["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}

    writable = [mount for mount in rendered.bot_container()["volumeMounts"] if not mount.get("readOnly")]
    assert [mount["mountPath"] for mount in writable] == ["/tmp"]
    assert "emptyDir" in volumes[writable[0]["name"]]


def test_probes_use_health_endpoints(rendered: Rendered) -> None:
    container = rendered.bot_container()
    port = container["ports"][0]

    assert port == {"name": "http", "containerPort": 3000, "protocol": "TCP"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}


def test_probes_follow_slack_port(render) -> None:
    values = {**VALUE_SETS["default"], "slack": {**VALUE_SETS["default"]["slack"], "port": 8080}}

    container = render(values).bot_container()
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert container["ports"][0]["containerPort"] == 8080
    assert env["OTELBOT_SLACK__PORT"] == "8080"


def test_tokens_come_from_secret_refs(rendered: Rendered) -> None:
    for env in rendered.bot_container()["env"]:
        if env["name"] in SECRET_ENV:
            assert "value" not in env, env["name"]
            assert "secretKeyRef" in env["valueFrom"], env["name"]
        if env["name"] == "OTELBOT_REDIS_URL" and "value" in env:
            assert "@" not in env["value"], "a Redis password must come from a Secret"


def test_socket_mode_env(render) -> None:
    env = {item["name"]: item for item in render(VALUE_SETS["default"]).bot_container()["env"]}

    assert env["OTELBOT_SLACK__MODE"]["value"] == "socket"
    assert env["SLACK_BOT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "otelbot-slack", "key": "bot-token"}
    assert env["SLACK_APP_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "otelbot-slack", "key": "app-token"}
    assert "SLACK_SIGNING_SECRET" not in env
    assert "OTELBOT_REDIS_URL" not in env


def test_http_mode_env_with_external_redis(render) -> None:
    result = render(VALUE_SETS["http-3-replicas-external-redis"])

    env = {item["name"]: item for item in result.bot_container()["env"]}
    assert env["OTELBOT_SLACK__MODE"]["value"] == "http"
    assert env["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "otelbot-slack", "key": "signing-secret"}
    assert "SLACK_APP_TOKEN" not in env
    assert env["OTELBOT_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "otelbot-redis-url", "key": "redis-url"}
    assert result.bot_deployment()["spec"]["replicas"] == 3


def test_created_secrets_hold_the_values(render) -> None:
    import base64

    result = render(VALUE_SETS["http-3-replicas-external-redis"])

    slack = result.one("Secret", "otelbot-slack")["data"]
    redis = result.one("Secret", "otelbot-redis-url")["data"]
    assert base64.b64decode(slack["bot-token"]).decode() == "xoxb-test-bot-token"
    assert base64.b64decode(slack["signing-secret"]).decode() == "test-signing-secret"
    assert "app-token" not in slack
    assert base64.b64decode(redis["redis-url"]).decode() == "redis://:password@redis.example.internal:6379/0"


def test_existing_secrets_are_referenced_not_created(render) -> None:
    result = render(VALUE_SETS["existing-secrets"])

    env = {item["name"]: item for item in result.bot_container()["env"]}
    assert result.of_kind("Secret") == []
    assert env["SLACK_BOT_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "slack-tokens", "key": "bot-token"}
    assert env["SLACK_SIGNING_SECRET"]["valueFrom"]["secretKeyRef"] == {"name": "slack-tokens", "key": "signing-secret"}
    assert env["OTELBOT_REDIS_URL"]["valueFrom"]["secretKeyRef"] == {"name": "redis-url", "key": "url"}


def test_settings_hold_no_secret(rendered: Rendered) -> None:
    settings = rendered.one("ConfigMap", "otelbot-config")["data"]["settings.yaml"]

    for word in ("xoxb-", "xapp-", "signing", "password", "redis://"):
        assert word not in settings, word


def test_bundled_redis_is_restricted_and_ephemeral(render) -> None:
    result = render(VALUE_SETS["bundled-redis"])

    redis = result.one("Deployment", "otelbot-redis")
    pod = redis["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item for item in result.bot_container()["env"]}
    assert container["image"] == "redis:7.4-alpine"
    assert container["securityContext"]["runAsUser"] == 999
    assert pod["automountServiceAccountToken"] is False
    assert ["--save", ""] == container["command"][-2:]
    assert "emptyDir" in pod["volumes"][0]
    assert result.of_kind("PersistentVolumeClaim") == []
    assert redis["spec"]["strategy"] == {"type": "Recreate"}
    assert env["OTELBOT_REDIS_URL"]["value"] == "redis://otelbot-redis:6379/0"
    assert result.one("Service", "otelbot-redis")["spec"]["ports"][0]["port"] == 6379


def test_bundled_redis_persistence_uses_claim(render) -> None:
    result = render(VALUE_SETS["bundled-redis-persistent"])

    pod = result.one("Deployment", "otelbot-redis")["spec"]["template"]["spec"]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {"claimName": "otelbot-redis"}
    assert result.one("PersistentVolumeClaim")["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "--appendonly" in pod["containers"][0]["command"]


@pytest.mark.parametrize(
    ("override", "pointer"),
    [
        ({"readOnlyRootFilesystem": False}, "/securityContext/readOnlyRootFilesystem"),
        ({"allowPrivilegeEscalation": True}, "/securityContext/allowPrivilegeEscalation"),
        ({"runAsNonRoot": False}, "/securityContext/runAsNonRoot"),
        ({"privileged": True}, "/securityContext/privileged"),
        ({"capabilities": {"drop": [], "add": ["NET_ADMIN"]}}, "/securityContext/capabilities"),
    ],
)
def test_weaker_security_context_is_rejected(render, override: dict, pointer: str) -> None:
    values = {**VALUE_SETS["default"], "securityContext": override}

    with pytest.raises(helm_python.HelmValuesError, match=pointer):
        render(values)
