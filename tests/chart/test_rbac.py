"""The chart's RBAC equals what `otelbot rbac` derives from the built-in playbooks, and is read-only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import helm_python
import pytest
import yaml
from typer.testing import CliRunner

from bot.cli import app
from tests.chart.conftest import CHART_DIR, NAMESPACE, RELEASE, VALUE_SETS, Rendered

RULES_FILE = CHART_DIR / "files" / "rbac-rules.yaml"
READ_VERBS = {"get", "list", "watch"}
OUT_OF_DATE = "the chart's RBAC rules differ from `otelbot rbac`: run helm/otelbot/update-rbac.sh and commit files/rbac-rules.yaml"


def cli_role(*args: str) -> dict:
    result = CliRunner().invoke(app, ["rbac", *args])
    assert result.exit_code == 0, result.output or repr(result.exception)
    return yaml.safe_load(result.stdout)


def roles(rendered: Rendered) -> list[dict]:
    return rendered.of_kind("Role") + rendered.of_kind("ClusterRole")


def test_rules_file_matches_otelbot_rbac() -> None:
    committed = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))["rules"]

    assert committed == cli_role()["rules"], OUT_OF_DATE


def test_role_rules_match_otelbot_rbac(render) -> None:
    role = render(VALUE_SETS["default"]).one("Role")

    assert role["rules"] == cli_role()["rules"], OUT_OF_DATE
    assert role["metadata"]["namespace"] == "wealist-prod"


def test_cluster_role_rules_match_otelbot_rbac(render) -> None:
    result = render(VALUE_SETS["cluster-wide-rbac"])

    assert result.of_kind("Role") == []
    assert result.one("ClusterRole")["rules"] == cli_role("--cluster-wide")["rules"], OUT_OF_DATE
    assert result.one("ClusterRoleBinding")["roleRef"]["kind"] == "ClusterRole"


def test_update_script_reproduces_rules_file(tmp_path: Path) -> None:
    output = tmp_path / "rbac-rules.yaml"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTELBOT_")}
    env["PYTHON"] = sys.executable

    subprocess.run(["bash", str(CHART_DIR / "update-rbac.sh"), str(output)], check=True, env=env, timeout=60)

    assert output.read_text(encoding="utf-8") == RULES_FILE.read_text(encoding="utf-8"), OUT_OF_DATE


def test_rules_are_read_only(rendered: Rendered) -> None:
    for role in roles(rendered):
        for rule in role["rules"]:
            assert set(rule["verbs"]) <= READ_VERBS, rule
            assert "*" not in rule["verbs"], rule
            assert "*" not in rule["resources"], rule
            assert "*" not in rule["apiGroups"], rule


def test_rules_never_name_secrets(rendered: Rendered) -> None:
    for role in roles(rendered):
        for rule in role["rules"]:
            assert not any(resource == "secrets" or resource.startswith("secrets/") for resource in rule["resources"]), rule


def test_role_lives_in_monitored_namespace(render) -> None:
    values = {**VALUE_SETS["default"], "config": {"cluster": {"namespace": "monitoring"}}}

    result = render(values)
    assert result.one("Role")["metadata"]["namespace"] == "monitoring"
    binding = result.one("RoleBinding")
    assert binding["metadata"]["namespace"] == "monitoring"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": RELEASE, "namespace": NAMESPACE}]


def test_extra_rules_follow_generated_ones(render) -> None:
    role = render(VALUE_SETS["extra-playbooks"]).one("Role")

    assert role["rules"][: len(cli_role()["rules"])] == cli_role()["rules"]
    assert role["rules"][-1] == {"apiGroups": ["apps"], "resources": ["statefulsets"], "verbs": ["get", "list"]}


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, 'names resource "secrets"'),
        ({"apiGroups": [""], "resources": ["secrets/status"], "verbs": ["get"]}, 'names resource "secrets/status"'),
        ({"apiGroups": ["*"], "resources": ["*"], "verbs": ["list"]}, 'names resource "\\*"'),
    ],
)
def test_extra_rules_reject_secrets_and_wildcards(render, rule: dict, message: str) -> None:
    values = {**VALUE_SETS["default"], "rbac": {"extraRules": [rule]}}

    with pytest.raises(helm_python.HelmRenderError, match=message):
        render(values)


@pytest.mark.parametrize("verb", ["create", "update", "patch", "delete", "deletecollection", "*"])
def test_extra_rules_reject_write_verbs(render, verb: str) -> None:
    values = {**VALUE_SETS["default"], "rbac": {"extraRules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", verb]}]}}

    with pytest.raises(helm_python.HelmValuesError, match="/rbac/extraRules/0/verbs/1"):
        render(values)


def test_rbac_can_be_left_to_the_operator(render) -> None:
    values = {**VALUE_SETS["default"], "rbac": {"create": False}, "serviceAccount": {"create": False, "name": "otelbot-reader"}}

    result = render(values)
    assert roles(result) == []
    assert result.of_kind("ServiceAccount") == []
    assert result.bot_deployment()["spec"]["template"]["spec"]["serviceAccountName"] == "otelbot-reader"
