"""Shared fixtures: sandbox clusters, real Prometheus processes and a CLI runner.

Everything runs on loopback: a local Kubernetes API server that the real ``kubernetes`` client
talks to over HTTP, local stand-ins for Tempo, Grafana and the collector metrics, and Debian's
``prometheus`` binary. No test reaches any other host. Every sandbox fails its test at teardown
if it received any request other than GET.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from typer.testing import CliRunner

from bot.cli import app
from bot.sandbox import DATA_DIR, Sandbox
from tests.support.prometheus import PrometheusProcess, span_metrics_exporter
from tests.support.readonly import assert_read_only

STACK = DATA_DIR / "stack"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the developer's kubeconfig, settings and Slack tokens out of the tests."""
    for name in list(os.environ):
        if name.startswith(("OTELBOT_", "SLACK_")) or name in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def span_exporter():
    exporter = span_metrics_exporter()
    yield exporter
    exporter.stop()
    assert_read_only(exporter)


@pytest.fixture(scope="session")
def prometheus_with_receiver(tmp_path_factory: pytest.TempPathFactory, span_exporter) -> Iterator[PrometheusProcess]:
    """A real Prometheus started with --web.enable-remote-write-receiver, holding span metrics."""
    process = PrometheusProcess(tmp_path_factory.mktemp("prom-rw"), remote_write_receiver=True, scrape_url=span_exporter.url).start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def prometheus_without_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    """A real Prometheus started without the remote-write receiver, with no span metrics."""
    process = PrometheusProcess(tmp_path_factory.mktemp("prom-norw"), remote_write_receiver=False).start()
    yield process
    process.stop()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """The healthy stack, served by a local API server; the test fails if anything but GET arrives."""
    with Sandbox(STACK) as running:
        yield running
    assert_read_only(running)


@pytest.fixture
def run_cli(sandbox: Sandbox) -> Callable[..., "CliResult"]:
    """Run the otelbot CLI in-process against the sandbox's kubeconfig."""
    runner = CliRunner()

    def run(*args: str) -> CliResult:
        full = list(args)
        if full and full[0] == "diagnose" and "--kubeconfig" not in full:
            full += ["--kubeconfig", str(sandbox.kubeconfig)]
        result = runner.invoke(app, full, catch_exceptions=False)
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


class CliResult:
    """Exit code and output of one CLI run; ``json`` parses stdout."""

    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.stdout)

    def check(self, check_id: str) -> dict[str, Any]:
        return next(item for item in self.json["checks"] if item["id"] == check_id)

    def cause_ids(self) -> list[str]:
        return [item["id"] for item in self.json["causes"]]
