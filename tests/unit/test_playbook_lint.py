"""`otelbot playbooks lint` and the loader: every problem named with its file and line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.config import REPO_PLAYBOOKS
from bot.errors import PlaybookError
from bot.playbooks.loader import load_file, load_playbooks

VALID = textwrap.dedent(
    """\
    id: sample-playbook
    source: test
    title:
      ko: 샘플
      en: Sample
    symptoms:
      ko: [샘플 증상]
      en: [sample symptom]
    checks:
      - id: prometheus-up
        kind: http
        title:
          ko: Prometheus 응답
          en: Prometheus answers
        backend: prometheus
        path: /-/ready
        format: text
    causes:
      - id: prometheus-down
        title:
          ko: Prometheus 중단
          en: Prometheus is down
        explanation:
          ko: 응답이 없습니다.
          en: It does not answer.
        when:
          any:
            prometheus-up: [fail, error]
        patch:
          path: "{chart.path}/values.yaml"
          format: yaml
          content: "replicas: 1"
    """
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def lint(*paths: Path):
    result = CliRunner().invoke(app, ["playbooks", "lint", *map(str, paths)])
    return result.exit_code, result.stdout + result.stderr


def test_valid_playbook_passes(tmp_path: Path) -> None:
    write(tmp_path, "ok.yaml", VALID)

    code, output = lint(tmp_path)
    result_en = CliRunner().invoke(app, ["playbooks", "lint", str(tmp_path), "--lang", "en"])

    assert code == 0, output
    assert "플레이북 1개 정상" in output, "Korean is the default language"
    assert result_en.exit_code == 0
    assert "1 playbook(s) valid" in result_en.stdout


def test_unknown_key_names_file_and_line(tmp_path: Path) -> None:
    text = VALID.replace("    backend: prometheus\n", "    backend: prometheus\n    verb: POST\n")
    path = write(tmp_path, "bad.yaml", text)

    code, output = lint(path)

    assert code == 1
    assert f"{path}:16: unknown key 'verb'" in output


def test_missing_korean_text_names_file_and_line(tmp_path: Path) -> None:
    text = VALID.replace("  ko: 샘플\n  en: Sample\n", "  en: Sample\n")
    path = write(tmp_path, "bad.yaml", text)

    code, output = lint(path)

    assert code == 1
    assert f"{path}:3: missing Korean text at title.ko" in output


def test_missing_english_text_in_cause(tmp_path: Path) -> None:
    text = VALID.replace("      en: It does not answer.\n", "")
    path = write(tmp_path, "bad.yaml", text)

    code, output = lint(path)

    assert code == 1
    assert "missing English text at causes.0.explanation.en" in output
    assert f"{path}:23:" in output


def test_duplicate_id_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID)
    second = write(tmp_path, "b.yaml", VALID)

    code, output = lint(tmp_path)

    assert code == 1
    assert f"{second}:1: duplicate playbook id 'sample-playbook'" in output


def test_unknown_check_kind(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", VALID.replace("kind: http", "kind: shell"))

    code, output = lint(path)

    assert code == 1
    assert f"{path}:11: unknown check kind 'shell'" in output
    assert "known kinds: k8s_object" in output


def test_duplicate_check_id_and_unknown_reference(tmp_path: Path) -> None:
    text = VALID.replace("prometheus-up: [fail, error]", "prometheus-gone: fail")
    path = write(tmp_path, "bad.yaml", text)

    code, output = lint(path)

    assert code == 1
    assert "cause prometheus-down refers to unknown checks: prometheus-gone" in output


def test_unknown_placeholder(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", VALID.replace("{chart.path}", "{chart.pathh}"))

    code, output = lint(path)

    line = next(number for number, text in enumerate(path.read_text().splitlines(), start=1) if "{chart.pathh}" in text)
    assert code == 1
    assert f"{path}:{line}: unknown placeholder {{chart.pathh}}" in output
    assert "did you mean {chart.path}?" in output


def test_unknown_placeholder_reported_once(tmp_path: Path) -> None:
    text = VALID.replace("{chart.path}", "{zz_unknown}") + "commands:\n  - kubectl get pods -n {zz_unknown}\n  - kubectl get svc -n {zz_unknown}\n"
    path = write(tmp_path, "bad.yaml", text)

    code, output = lint(path)

    lines = [number for number, line in enumerate(path.read_text().splitlines(), start=1) if "{zz_unknown}" in line]
    assert code == 1
    assert len(lines) >= 3
    assert output.count("unknown placeholder {zz_unknown}") == 1
    assert f"{path}:{lines[0]}: " in output
    assert f"also on lines {', '.join(map(str, lines[1:]))}" in output
    assert "known: chart.path" in output


@pytest.mark.parametrize(
    "path_value",
    ["http://evil.example/x", "//evil.example/x", "/api/../../admin", "relative/path", "/api?x=1"],
)
def test_backend_path_rejects_hosts_and_tricks(tmp_path: Path, path_value: str) -> None:
    path = write(tmp_path, "bad.yaml", VALID.replace("path: /-/ready", f"path: '{path_value}'"))

    with pytest.raises(PlaybookError, match="path must"):
        load_file(path)


def test_invalid_yaml_names_line(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.yaml", VALID.replace("  en: Sample\n", "  en: [Sample\n"))

    with pytest.raises(PlaybookError, match=r"bad\.yaml:\d+: invalid YAML"):
        load_file(path)


def test_loader_reports_every_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", VALID.replace("kind: http", "kind: nope"))
    write(tmp_path, "b.yaml", VALID.replace("id: sample-playbook", "id: Bad_Id"))

    with pytest.raises(PlaybookError) as raised:
        load_playbooks([tmp_path], known_variables={"namespace", "chart.path"})

    assert "a.yaml" in str(raised.value)
    assert "b.yaml" in str(raised.value)


def test_bundled_playbooks_lint_clean() -> None:
    code, output = lint(REPO_PLAYBOOKS)

    assert code == 0, output


def test_schema_command_prints_json_schema() -> None:
    result = CliRunner().invoke(app, ["playbooks", "schema"])

    schema = json.loads(result.stdout)
    assert schema["title"] == "Playbook"
    assert "checks" in schema["properties"]
