"""The engine against the sandbox: concurrency, timeouts, dependencies and error isolation."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from bot.app import open_runtime
from bot.checks.base import CheckStatus
from bot.config import load_settings
from bot.diagnosis import Verdict
from bot.engine import run_playbook
from bot.errors import ConfigError
from bot.playbooks.schema import Playbook
from bot.sandbox import Route

TEXT = {"ko": "텍스트", "en": "text"}


def http_check(check_id: str, path: str, **extra) -> dict:
    return {"id": check_id, "kind": "http", "title": TEXT, "backend": "tempo", "path": path, "format": "text", **extra}


def playbook(checks: list[dict], *, inputs: list[dict] | None = None) -> Playbook:
    return Playbook.model_validate(
        {
            "id": "engine-test",
            "source": "test",
            "title": TEXT,
            "symptoms": {"ko": ["테스트"], "en": ["test"]},
            "inputs": inputs or [],
            "checks": checks,
            "causes": [
                {
                    "id": "first-failed",
                    "title": TEXT,
                    "explanation": TEXT,
                    "when": {"any": {checks[0]["id"]: "fail"}},
                    "patch": {"path": "x", "format": "text", "content": "y"},
                }
            ],
        }
    )


def diagnose(sandbox, book: Playbook, **kwargs):
    settings = load_settings(cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig"}, checks={"retries": 0})

    async def run():
        async with open_runtime(settings) as runtime:
            return await run_playbook(book, runtime.context(), **kwargs)

    return asyncio.run(run())


def test_checks_run_concurrently(sandbox) -> None:
    for number in range(5):
        sandbox.backends["tempo"].set_route(Route(path=f"/slow{number}", body=b"ok", content_type="text/plain", delay_s=0.4))
    book = playbook([http_check(f"slow-{n}", f"/slow{n}", expect=[{"path": "status", "equals": 200}]) for n in range(5)])

    started = time.perf_counter()
    result = diagnose(sandbox, book)
    elapsed = time.perf_counter() - started

    assert [finding.status for finding in result.findings] == [CheckStatus.PASS] * 5
    assert elapsed < 1.5, f"five 0.4 s checks took {elapsed:.2f} s; they should overlap"


def test_timeout_becomes_error_and_others_finish(sandbox) -> None:
    sandbox.backends["tempo"].set_route(Route(path="/hang", body=b"late", content_type="text/plain", delay_s=3))
    book = playbook(
        [
            http_check("hangs", "/hang", timeout_s=0.3),
            http_check("ready", "/ready", expect=[{"path": "body", "matches": "ready"}]),
        ]
    )

    result = diagnose(sandbox, book)

    hangs = result.finding("hangs")
    assert hangs.status is CheckStatus.ERROR
    assert hangs.reason.en == "timed out after 0.3s"
    assert hangs.reason.ko == "0.3초 안에 응답 없음 (타임아웃)"
    assert result.finding("ready").status is CheckStatus.PASS
    assert result.verdict is Verdict.INCONCLUSIVE


def test_dependent_check_is_skipped(sandbox) -> None:
    book = playbook(
        [
            http_check("missing", "/does-not-exist"),
            http_check("after", "/ready", needs=["missing"]),
        ]
    )

    result = diagnose(sandbox, book)

    assert result.finding("missing").status is CheckStatus.ERROR
    assert "HTTP 404" in result.finding("missing").reason.en
    skipped = result.finding("after")
    assert skipped.status is CheckStatus.SKIPPED
    assert skipped.reason.en == "skipped because missing did not pass"


def test_failed_check_implies_cause(sandbox) -> None:
    book = playbook([http_check("ready", "/ready", expect=[{"path": "body", "matches": "^not-ready"}])])

    result = diagnose(sandbox, book)

    assert result.verdict is Verdict.PROBLEM
    assert [cause.cause_id for cause in result.causes] == ["first-failed"]


def test_unreachable_backend_is_error(sandbox) -> None:
    sandbox.unroute_service("tempo", 3200)
    book = playbook([http_check("ready", "/ready")])

    result = diagnose(sandbox, book)

    finding = result.finding("ready")
    assert finding.status is CheckStatus.ERROR
    assert "no endpoints available" in finding.reason.en


def test_forbidden_read_names_permission(sandbox) -> None:
    sandbox.cluster.denied.add(("deployments", "get"))
    check = {"id": "deploy", "kind": "k8s_object", "title": TEXT, "resource": "deployment", "name": "prometheus"}

    result = diagnose(sandbox, playbook([check]))

    finding = result.finding("deploy")
    assert finding.status is CheckStatus.ERROR
    assert "needs 'get' on 'deployments'" in finding.reason.en
    assert "'deployments' 리소스의 'get' 권한이 필요함" in finding.reason.ko


def test_forbidden_list_names_verb(sandbox) -> None:
    sandbox.cluster.denied.add(("pods", "list"))
    check = {"id": "pods", "kind": "k8s_object", "title": TEXT, "resource": "pod", "selector": "app=tempo"}

    result = diagnose(sandbox, playbook([check]))

    assert "needs 'list' on 'pods'" in result.finding("pods").reason.en


def test_api_server_error_is_isolated(sandbox) -> None:
    sandbox.cluster.faults["/api/v1/namespaces/wealist-prod/configmaps"] = (500, "etcd timeout")
    checks = [
        {"id": "config", "kind": "config", "title": TEXT, "configmap": "tempo", "key": "tempo.yaml"},
        http_check("ready", "/ready"),
    ]

    result = diagnose(sandbox, playbook(checks))

    assert result.finding("config").status is CheckStatus.ERROR
    assert "HTTP 500: etcd timeout" in result.finding("config").reason.en
    assert result.finding("ready").status is CheckStatus.PASS


def test_missing_object_can_be_a_finding(sandbox) -> None:
    check = {"id": "svc", "kind": "k8s_object", "title": TEXT, "resource": "service", "name": "nope", "not_found": "fail"}

    result = diagnose(sandbox, playbook([check]))

    finding = result.finding("svc")
    assert finding.status is CheckStatus.FAIL
    assert finding.evidence[0].text.en == "service wealist-prod/nope not found"


def test_input_is_validated_as_kubernetes_name(sandbox) -> None:
    spec = [{"name": "workload", "description": TEXT}]
    check = {"id": "deploy", "kind": "k8s_object", "title": TEXT, "resource": "deployment", "name": "{workload}"}
    book = playbook([check], inputs=spec)

    with pytest.raises(ConfigError, match=r"invalid workload '\.\./etc'"):
        diagnose(sandbox, book, inputs={"workload": "../etc"})
    with pytest.raises(ConfigError, match="needs a workload"):
        diagnose(sandbox, book, inputs={})
    result = diagnose(sandbox, book, inputs={"workload": "user-service"})
    assert result.finding("deploy").status is CheckStatus.PASS


def test_progress_callback_sees_every_check(sandbox) -> None:
    seen: list[str] = []

    async def on_finding(finding):
        seen.append(finding.check_id)

    book = playbook([http_check("ready", "/ready"), http_check("echo", "/api/echo")])
    diagnose(sandbox, book, on_finding=on_finding)

    assert sorted(seen) == ["echo", "ready"]


def test_wrong_token_is_unauthorized(sandbox) -> None:
    sandbox.cluster.token = "rotated"
    check = {"id": "deploy", "kind": "k8s_object", "title": TEXT, "resource": "deployment", "name": "prometheus"}

    result = diagnose(sandbox, playbook([check]))

    assert "HTTP 401" in result.finding("deploy").reason.en


def test_unparsable_config_names_line_and_column(sandbox) -> None:
    document = sandbox.cluster.get("ConfigMap", "wealist-prod", "tempo")
    document["data"]["tempo.yaml"] = "server:\n  http_listen_port: [3200\n"
    check = {"id": "config", "kind": "config", "title": TEXT, "configmap": "tempo", "key": "tempo.yaml", "expect": [{"path": "server", "exists": True}]}

    result = diagnose(sandbox, playbook([check]))

    finding = result.finding("config")
    assert finding.status is CheckStatus.FAIL
    assert "configmap wealist-prod/tempo key tempo.yaml does not parse at line 3, column 1" in finding.evidence[0].text.en


def test_missing_config_key_is_error_with_name(sandbox) -> None:
    check = {"id": "config", "kind": "config", "title": TEXT, "configmap": "tempo", "key": "nope.yaml"}

    result = diagnose(sandbox, playbook([check]))

    finding = result.finding("config")
    assert finding.status is CheckStatus.ERROR
    assert "has no key nope.yaml" in finding.reason.en


def test_bad_expression_is_error_with_reason(sandbox) -> None:
    check = http_check("metrics", "/ready", expect=[{"path": "sum(body.missing[].value)", "gt": 0}])

    result = diagnose(sandbox, playbook([check]))

    finding = result.finding("metrics")
    assert finding.status is CheckStatus.ERROR
    assert finding.reason.en.startswith("an assertion could not be evaluated")
