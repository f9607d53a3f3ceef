"""Run Debian's ``prometheus`` binary on loopback for tests.

The process scrapes a local exporter that serves span metrics and service graph series, so a
healthy stack has ``traces_spanmetrics_calls_total`` to query, exactly as remote write would have
stored it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.sandbox import FixtureBackend, Route

SPAN_METRICS = """\
# TYPE traces_spanmetrics_calls_total counter
traces_spanmetrics_calls_total{service_name="user-service",span_name="GET /api/users/{id}",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET",http_method="GET",http_status_code="200",http_route="/api/users/{id}"} 1523
traces_spanmetrics_calls_total{service_name="board-service",span_name="GET /api/boards",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR",http_method="GET",http_status_code="500",http_route="/api/boards"} 17
# TYPE traces_spanmetrics_duration_seconds histogram
traces_spanmetrics_duration_seconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="0.1"} 1400
traces_spanmetrics_duration_seconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="0.5"} 1510
traces_spanmetrics_duration_seconds_bucket{service_name="user-service",http_route="/api/users/{id}",le="+Inf"} 1523
traces_spanmetrics_duration_seconds_sum{service_name="user-service",http_route="/api/users/{id}"} 61.2
traces_spanmetrics_duration_seconds_count{service_name="user-service",http_route="/api/users/{id}"} 1523
# TYPE traces_service_graph_request_total counter
traces_service_graph_request_total{client="board-service",server="user-service"} 311
# TYPE traces_service_graph_request_failed_total counter
traces_service_graph_request_failed_total{client="board-service",server="user-service"} 2
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout_s: float, what: str) -> None:
    """Poll ``condition`` until it returns true; fail with ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except Exception as exc:  # the condition probes a process that may not be up yet
            last_error = exc
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout_s}s waiting for {what} (last error: {last_error})")


@dataclass
class PrometheusProcess:
    """A running prometheus binary."""

    data_dir: Path
    remote_write_receiver: bool
    scrape_url: str | None = None
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "PrometheusProcess":
        binary = shutil.which("prometheus")
        if binary is None:
            raise RuntimeError("prometheus not found on PATH: install Debian's package (apt-get install -y prometheus) or run .ci/run")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "prometheus.yml"
        config.write_text(self._config(), encoding="utf-8")
        args = [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={self.data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        if self.remote_write_receiver:
            args.append("--web.enable-remote-write-receiver")
        log = (self.data_dir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout_s=30, what=f"prometheus on {self.url}")
        if self.scrape_url:
            wait_until(self._has_span_metrics, timeout_s=30, what="span metrics scraped into prometheus")
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def _config(self) -> str:
        lines = ["global:", "  scrape_interval: 1s", "  evaluation_interval: 1s", "scrape_configs:"]
        if self.scrape_url:
            host = self.scrape_url.removeprefix("http://")
            lines += ["  - job_name: otel-collector-spanmetrics", "    honor_labels: true", "    static_configs:", f"      - targets: ['{host}']"]
        else:
            lines += ["  - job_name: self", "    static_configs:", f"      - targets: ['127.0.0.1:{self.port}']"]
        return "\n".join(lines) + "\n"

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}; see {self.data_dir / 'prometheus.log'}")
        return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200

    def _has_span_metrics(self) -> bool:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": "traces_spanmetrics_calls_total"}, timeout=1)
        return bool(response.json()["data"]["result"])


def span_metrics_exporter() -> FixtureBackend:
    """Start a local exporter serving span metrics in Prometheus text format."""
    return FixtureBackend([Route(path="/metrics", body=SPAN_METRICS.encode(), content_type="text/plain; version=0.0.4")], name="spanmetrics-exporter").start()
