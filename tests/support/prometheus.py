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
from tests.support.readonly import assert_read_only

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
    ready_query: str = "traces_spanmetrics_calls_total"
    extra_args: list[str] = field(default_factory=list)
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
        args += self.extra_args
        log = (self.data_dir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        wait_until(self._ready, timeout_s=30, what=f"prometheus on {self.url}")
        if self.scrape_url:
            wait_until(self._has_span_metrics, timeout_s=30, what=f"{self.ready_query} scraped into prometheus")
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
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": self.ready_query}, timeout=1)
        return bool(response.json()["data"]["result"])


def span_metrics_exporter(text: str = SPAN_METRICS) -> FixtureBackend:
    """Start a local exporter serving ``text`` (span metrics by default) in Prometheus text format."""
    return FixtureBackend([Route(path="/metrics", body=text.encode(), content_type="text/plain; version=0.0.4")], name="spanmetrics-exporter").start()


class SeriesVariants:
    """A Prometheus scraping a local exporter whose series a test swaps, for series the defaults lack.

    Prometheus 2.42 applies new scrape targets at most every 5 s, so its first scrape lands seconds
    after start. A test module therefore starts one and swaps the exposition text with ``serve``.
    Every text served carries a generation gauge, and ``serve`` returns once Prometheus has stored a
    scrape of the new generation, which also marks the series that the new text dropped as stale.
    """

    GENERATION = "otelbot_test_generation"

    def __init__(self, data_dir: Path, text: str = SPAN_METRICS, *, remote_write_receiver: bool = True, extra_args: list[str] | None = None) -> None:
        self._generation = 1
        self._exporter = span_metrics_exporter(self._marked(text))
        self.process = PrometheusProcess(
            data_dir,
            remote_write_receiver,
            scrape_url=self._exporter.url,
            ready_query=self.GENERATION,
            extra_args=list(extra_args or []),
        )

    @property
    def url(self) -> str:
        return self.process.url

    def __enter__(self) -> "SeriesVariants":
        try:
            self.process.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self.process.stop()
        self._exporter.stop()
        assert_read_only(self._exporter)

    def serve(self, text: str, *, timeout_s: float = 15) -> None:
        """Serve ``text`` and wait until Prometheus has stored a scrape of it."""
        self._generation += 1
        self._exporter.set_route(Route(path="/metrics", body=self._marked(text).encode(), content_type="text/plain; version=0.0.4"))
        wait_until(self._scraped, timeout_s=timeout_s, what=f"generation {self._generation} of the series scraped into prometheus")

    def _marked(self, text: str) -> str:
        return text.rstrip("\n") + f"\n# TYPE {self.GENERATION} gauge\n{self.GENERATION} {self._generation}\n"

    def _scraped(self) -> bool:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": self.GENERATION}, timeout=1)
        result = response.json()["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) == self._generation
