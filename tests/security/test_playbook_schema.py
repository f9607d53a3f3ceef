"""The playbook format cannot express a write, a shell command or a host to fetch.

Each case changes a valid playbook in one place. ``otelbot playbooks lint`` must report the
problem and exit 1, and loading the directory (as ``otelbot serve`` does) must raise.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any, Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.errors import PlaybookError
from bot.playbooks.loader import load_playbooks
from bot.playbooks.schema import Playbook

HEAD = textwrap.dedent(
    """\
    id: probe
    source: test
    title: {ko: 점검, en: Probe}
    symptoms: {ko: [점검], en: [probe]}
    """
)
CAUSES = textwrap.dedent(
    """\
    causes:
      - id: broken
        title: {ko: 고장, en: Broken}
        explanation: {ko: 고장입니다., en: It is broken.}
        when: {any: {probe-check: [fail, error]}}
        patch: {path: values.yaml, format: yaml, content: "replicas: 1"}
    """
)
HTTP_CHECK = """\
checks:
  - id: probe-check
    kind: http
    title: {ko: 응답, en: Answers}
    backend: prometheus
    path: /-/ready
    format: text
"""
SERVICE_REF_CHECK = """\
checks:
  - id: probe-check
    kind: service_ref
    title: {ko: 엔드포인트, en: Endpoint}
    configmap: otel-collector-config
    key: config.yaml
    select: exporters.otlp.endpoint
"""
COMBINED_CHECK = """\
checks:
  - id: probe-check
    kind: combined
    title: {ko: 함께, en: Together}
    sources:
      buildinfo:
        backend: prometheus
        path: /api/v1/status/buildinfo
    expect:
      - {path: buildinfo.status, equals: 200}
"""
PROMQL_CHECK = """\
checks:
  - id: probe-check
    kind: promql
    title: {ko: 쿼리, en: Query}
    query: up
"""
OBJECT_CHECK = """\
checks:
  - id: probe-check
    kind: k8s_object
    title: {ko: 객체, en: Object}
    resource: configmap
    name: otel-collector-config
"""
WORKLOAD_INPUT = """\
inputs:
  - name: workload
    description: {ko: 워크로드, en: Workload}
"""
KNOWN_VARIABLES = {"namespace"}


def playbook(checks: str, *, inputs: str = "", extra: str = "") -> str:
    return HEAD + inputs + checks + CAUSES + extra


# (case id, playbook text, text the problem must contain)
CASES = [
    ("method-key", playbook(HTTP_CHECK.replace("    format: text\n", "    format: text\n    method: POST\n")), "unknown key 'method'"),
    ("verb-key", playbook(HTTP_CHECK.replace("    format: text\n", "    format: text\n    verb: DELETE\n")), "unknown key 'verb'"),
    ("verb-on-object", playbook(OBJECT_CHECK + "    verb: delete\n"), "unknown key 'verb'"),
    ("command-key", playbook(HTTP_CHECK + "    command: kubectl delete pod --all\n"), "unknown key 'command'"),
    ("exec-key", playbook(HTTP_CHECK + "    exec: [sh, -c, 'curl -X POST http://prometheus:9090/api/v1/admin/tsdb/delete_series']\n"), "unknown key 'exec'"),
    ("top-level-exec", playbook(HTTP_CHECK, extra="exec: [sh, -c, reboot]\n"), "unknown key 'exec'"),
    ("top-level-command", playbook(HTTP_CHECK, extra="command: reboot\n"), "unknown key 'command'"),
    ("url-key", playbook(HTTP_CHECK + "    url: http://evil.example/api\n"), "unknown key 'url'"),
    ("host-key", playbook(HTTP_CHECK + "    host: evil.example\n"), "unknown key 'host'"),
    ("full-url-path", playbook(HTTP_CHECK.replace("path: /-/ready", "path: 'http://evil.example/api'")), "path must"),
    ("scheme-relative-path", playbook(HTTP_CHECK.replace("path: /-/ready", "path: '//evil.example/api'")), "path must"),
    ("parent-path", playbook(HTTP_CHECK.replace("path: /-/ready", "path: '/api/../../admin'")), "path must"),
    ("backend-as-url", playbook(HTTP_CHECK.replace("backend: prometheus", "backend: 'http://evil.example:9090'")), "backend"),
    ("backend-as-host", playbook(HTTP_CHECK.replace("backend: prometheus", "backend: evil.example")), "backend"),
    ("promql-backend-as-host", playbook(PROMQL_CHECK + "    backend: 'evil.example:9090'\n"), "backend"),
    ("service-ref-url", playbook(SERVICE_REF_CHECK + "    url: http://evil.example/\n"), "unknown key 'url'"),
    ("service-ref-host", playbook(SERVICE_REF_CHECK + "    host: evil.example\n"), "unknown key 'host'"),
    ("combined-source-url", playbook(COMBINED_CHECK.replace("        path: /api/v1/status/buildinfo\n", "        path: /api/v1/status/buildinfo\n        url: http://evil.example/\n")), "unknown key 'url'"),
    ("combined-source-full-url", playbook(COMBINED_CHECK.replace("path: /api/v1/status/buildinfo", "path: 'https://evil.example/api'")), "path must"),
    ("combined-source-host", playbook(COMBINED_CHECK.replace("backend: prometheus", "backend: 'evil.example'")), "backend"),
    ("secret-resource", playbook(OBJECT_CHECK.replace("resource: configmap", "resource: secret")), "resource"),
    ("loose-workload-pattern", playbook(HTTP_CHECK, inputs=WORKLOAD_INPUT + "    pattern: '.*'\n"), "must be a Kubernetes name"),
]


@pytest.fixture
def directory(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "playbooks"
    folder.mkdir()
    yield folder


def test_baseline_playbooks_are_valid(directory: Path) -> None:
    # Each case below differs from one of these in one place only.
    for number, checks in enumerate([HTTP_CHECK, SERVICE_REF_CHECK, COMBINED_CHECK, PROMQL_CHECK, OBJECT_CHECK]):
        (directory / f"ok-{number}.yaml").write_text(playbook(checks).replace("id: probe\n", f"id: probe-{number}\n"), encoding="utf-8")
    (directory / "ok-input.yaml").write_text(playbook(HTTP_CHECK, inputs=WORKLOAD_INPUT).replace("id: probe\n", "id: probe-input\n"), encoding="utf-8")

    result = CliRunner().invoke(app, ["playbooks", "lint", str(directory)])

    assert result.exit_code == 0, result.stdout + result.stderr
    assert len(load_playbooks([directory], known_variables=KNOWN_VARIABLES)) == 6


@pytest.mark.parametrize("text,problem", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_lint_rejects(directory: Path, text: str, problem: str) -> None:
    path = directory / "bad.yaml"
    path.write_text(text, encoding="utf-8")

    result = CliRunner().invoke(app, ["playbooks", "lint", str(path)])

    assert result.exit_code == 1
    assert str(path) in result.stderr
    assert problem in result.stderr


@pytest.mark.parametrize("text,problem", [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_load_rejects(directory: Path, text: str, problem: str) -> None:
    (directory / "bad.yaml").write_text(text, encoding="utf-8")

    with pytest.raises(PlaybookError, match="bad.yaml") as raised:
        load_playbooks([directory], known_variables=KNOWN_VARIABLES)

    assert problem in str(raised.value)


def walk_schema(node: Any, trail: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (where, schema) for every object schema with properties in a JSON Schema document."""
    if isinstance(node, dict):
        if "properties" in node:
            yield trail, node
        for key, value in node.items():
            yield from walk_schema(value, f"{trail}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk_schema(value, f"{trail}/{index}")


def test_schema_has_no_write_or_host_fields() -> None:
    objects = list(walk_schema(Playbook.model_json_schema()))
    names = {name for _, schema in objects for name in schema["properties"]}

    assert len(objects) > 10
    assert names & {"method", "verb", "verbs", "command", "exec", "shell", "script", "url", "host", "hostname", "body", "data"} == set()


def test_schema_forbids_unknown_keys() -> None:
    open_objects = [where for where, schema in walk_schema(Playbook.model_json_schema()) if schema.get("additionalProperties") is not False]

    assert open_objects == []
