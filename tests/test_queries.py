"""Named PromQL queries: definitions, filling, rendering, and `otelbot query` against real Prometheus.

Two Prometheus processes serve the CLI tests. The shared one has constant span metrics, so every
rate is 0. The other scrapes a local exporter whose counters grow at fixed rates, so the values
people read (req/s, %, ms) are known in advance.
"""

from __future__ import annotations

import math
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from bot.config import REPO_QUERIES
from bot.errors import ConfigError
from bot.queries import QueryDefinition, load_queries, parse_window, prepare_query
from bot.report.query import format_value
from tests.support.prometheus import PrometheusProcess, wait_until

RUNBOOK_QUERIES = [
    "request-rate",
    "error-rate",
    "latency-p95",
    "endpoint-rate",
    "graph-request-rate",
    "graph-error-rate",
    "graph-latency-avg",
    "slo-availability",
    "slo-latency-p99",
]


def definition(promql: str, **fields) -> QueryDefinition:
    return QueryDefinition(name="test-query", title={"ko": "테스트", "en": "test"}, unit="ratio", promql=promql, **fields)


# Definitions and filling


def test_repository_file_defines_runbook_queries() -> None:
    definitions = load_queries(REPO_QUERIES)

    assert list(definitions) == RUNBOOK_QUERIES
    assert {item.unit for item in definitions.values()} == {"ratio", "seconds", "requests-per-second", "percent"}
    assert all(not item.service_required for item in definitions.values())
    assert definitions["slo-availability"].objective.op == ">="
    assert definitions["slo-latency-p99"].objective.value == 0.5


def test_service_fills_label_matchers() -> None:
    prepared = prepare_query(load_queries(REPO_QUERIES), "graph-request-rate", service="user-service", window=None, max_window="31d")

    assert prepared.window == "5m"
    assert 'client=~"user-service"' in prepared.promql
    assert 'server=~"user-service"' in prepared.promql
    assert "[5m]" in prepared.promql
    assert "{service}" not in prepared.promql
    assert "{window}" not in prepared.promql


def test_no_service_matches_every_service() -> None:
    prepared = prepare_query(load_queries(REPO_QUERIES), "request-rate", service=None, window="15m", max_window="31d")

    assert prepared.promql == 'sum by (service_name) (rate(traces_spanmetrics_calls_total{service_name=~".+"}[15m]))'


def test_equality_matcher_requires_service() -> None:
    definitions = {"test-query": definition('sum(rate(x_total{service_name="{service}"}[{window}]))')}

    with pytest.raises(ConfigError, match="query test-query needs a service: pass --service NAME"):
        prepare_query(definitions, "test-query", service=None, window=None, max_window="31d")
    prepared = prepare_query(definitions, "test-query", service="board-service", window=None, max_window="31d")
    assert prepared.promql == 'sum(rate(x_total{service_name="board-service"}[5m]))'


@pytest.mark.parametrize("service", ['x"}) or vector(1) #', "a;b", "../x", "User-Service", "user.service", "-x", ""])
def test_invalid_service_is_rejected(service: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"invalid service {service!r}: it must be a Kubernetes name")):
        prepare_query(load_queries(REPO_QUERIES), "request-rate", service=service, window=None, max_window="31d")


@pytest.mark.parametrize("window", ["5 minutes", "5", "m5", "0m", "-5m", "5m]) or vector(1"])
def test_invalid_window_is_rejected(window: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(f"invalid window {window!r}")):
        prepare_query(load_queries(REPO_QUERIES), "request-rate", service=None, window=window, max_window="31d")


def test_window_longer_than_max_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"longer than queries.max_window \(7d\)"):
        prepare_query(load_queries(REPO_QUERIES), "slo-availability", service=None, window="2w", max_window="7d")


def test_window_parses_compound_durations() -> None:
    assert parse_window("1h30m") == 5400
    assert parse_window("500ms") == 0.5
    assert parse_window("2w") == 14 * 86400


def test_unknown_query_is_rejected() -> None:
    with pytest.raises(ConfigError, match="unknown query 'p95'; run `otelbot query list`"):
        prepare_query(load_queries(REPO_QUERIES), "p95", service=None, window=None, max_window="31d")


@pytest.mark.parametrize(
    ("promql", "message"),
    [
        ("sum by ({service}) (rate(x_total[{window}]))", "may only be a label matcher value"),
        ('rate(x_total{service_name!="{service}"}[{window}])', "may only be a label matcher value"),
        ('rate(x_total{service_name=~"{service}"}[5m]) > {window}', "may only be a range"),
        ('rate(x_total{job="{job}"}[{window}])', "unknown placeholder {job}"),
    ],
)
def test_misplaced_placeholder_is_rejected(promql: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        definition(promql)


def test_subquery_window_is_filled() -> None:
    definitions = {"test-query": definition('max_over_time(rate(x_total{service_name=~"{service}"}[1m])[{window}:30s])')}

    prepared = prepare_query(definitions, "test-query", service=None, window="1h", max_window="31d")

    assert prepared.promql == 'max_over_time(rate(x_total{service_name=~".+"}[1m])[1h:30s])'


def test_query_file_errors_name_the_file(tmp_path: Path) -> None:
    duplicate = tmp_path / "queries.yaml"
    entry = "  - {name: a, title: {ko: 가, en: a}, unit: ratio, promql: 'vector(1)'}\n"
    duplicate.write_text("queries:\n" + entry + entry, encoding="utf-8")

    with pytest.raises(ConfigError, match=re.escape(f"query file {duplicate}: duplicate query name 'a'")):
        load_queries(duplicate)
    with pytest.raises(ConfigError, match="query file not found: .*missing.yaml. Set queries.file"):
        load_queries(tmp_path / "missing.yaml")


# Rendering


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (12.34, "requests-per-second", "12.3 req/s"),
        (1523.4, "requests-per-second", "1523 req/s"),
        (0.517, "requests-per-second", "0.52 req/s"),
        (0.0, "requests-per-second", "0 req/s"),
        (0.0052, "ratio", "0.52 %"),
        (0.05, "ratio", "5 %"),
        (0.00000031, "ratio", "0.000031 %"),
        (0.183, "seconds", "183 ms"),
        (0.0042, "seconds", "4.2 ms"),
        (1.234, "seconds", "1.23 s"),
        (99.953, "percent", "99.953 %"),
        (100.0, "percent", "100 %"),
        (42.5, "percent", "42.5 %"),
        (math.nan, "ratio", "no requests in the window"),
        (math.inf, "seconds", "above the largest histogram bucket"),
        (None, "seconds", "-"),
    ],
)
def test_values_render_for_people(value, unit: str, expected: str) -> None:
    assert format_value(value, unit, "en") == expected


def test_korean_words_for_missing_values() -> None:
    assert format_value(math.nan, "ratio", "ko") == "구간 내 요청 없음"
    assert format_value(math.inf, "seconds", "ko") == "히스토그램 최대 버킷 초과"


# `otelbot query` against the shared Prometheus: constant counters, so every rate is 0


@pytest.fixture
def constant_prometheus(sandbox, prometheus_with_receiver: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, prometheus_with_receiver.url)
    return sandbox


def query_cli(run_cli, sandbox, *args: str):
    return run_cli("query", *args, "--kubeconfig", str(sandbox.kubeconfig))


def test_list_names_every_query(run_cli) -> None:
    result = run_cli("query", "list", "--lang", "en")

    assert result.exit_code == 0
    assert result.stdout.startswith("Named queries: otelbot query NAME")
    for name in RUNBOOK_QUERIES:
        assert name in result.stdout


def test_no_name_lists_in_korean(run_cli) -> None:
    result = run_cli("query")

    assert result.exit_code == 0
    assert "이름으로 실행하는 쿼리" in result.stdout
    assert "가용성 SLO (목표 99.9%)" in result.stdout


@pytest.mark.parametrize("name", RUNBOOK_QUERIES)
def test_every_query_runs_on_prometheus(constant_prometheus, run_cli, name: str) -> None:
    result = query_cli(run_cli, constant_prometheus, name, "--json")

    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.json["name"] == name
    assert result.json["error"] is None
    assert result.json["service"] is None


def test_request_rate_of_constant_counters(constant_prometheus, run_cli) -> None:
    result = query_cli(run_cli, constant_prometheus, "request-rate", "--json", "--lang", "en")

    series = result.json["series"]
    assert result.json["unit"] == "requests-per-second"
    assert result.json["window"] == "5m"
    assert sorted(item["labels"]["service_name"] for item in series) == ["board-service", "user-service"]
    assert all(item["labels"] == {"service_name": item["labels"]["service_name"]} for item in series)
    assert [item["value"] for item in series] == [0.0, 0.0]
    assert [item["display"] for item in series] == ["0 req/s", "0 req/s"]


def test_ratio_without_traffic_reads_as_no_requests(constant_prometheus, run_cli) -> None:
    result = query_cli(run_cli, constant_prometheus, "error-rate", "--service", "board-service", "--json", "--lang", "en")

    assert result.json["promql"].count('service_name=~"board-service"') == 3
    assert result.json["series"] == [
        {"labels": {"service_name": "board-service"}, "value": None, "display": "no requests in the window", "objective_met": None}
    ]


def test_service_graph_edges_keep_labels(constant_prometheus, run_cli) -> None:
    result = query_cli(run_cli, constant_prometheus, "graph-request-rate", "--service", "user-service", "--json")

    assert [item["labels"] for item in result.json["series"]] == [{"client": "board-service", "server": "user-service"}]


def test_empty_result_is_said_plainly(constant_prometheus, run_cli) -> None:
    result = query_cli(run_cli, constant_prometheus, "graph-latency-avg", "--lang", "en")

    assert result.exit_code == 0
    assert "No series: Prometheus returned an empty result." in result.stdout
    assert "traces_service_graph_request_server_seconds_sum" in result.stdout


def test_unreachable_prometheus_exits_3(sandbox, run_cli) -> None:
    sandbox.unroute_service("prometheus", 9090)

    result = query_cli(run_cli, sandbox, "request-rate", "--lang", "en")

    assert result.exit_code == 3, result.stdout
    assert "Query request-rate failed:" in result.stderr


def test_rejected_promql_exits_3(constant_prometheus, run_cli, tmp_path: Path) -> None:
    queries = tmp_path / "queries.yaml"
    queries.write_text(
        "queries:\n  - {name: broken, title: {ko: 깨짐, en: broken}, unit: ratio, promql: 'sum(rate(x_total[{window}])'}\n",
        encoding="utf-8",
    )
    settings = tmp_path / "otelbot.yaml"
    settings.write_text(f"queries:\n  file: {queries}\n", encoding="utf-8")

    result = query_cli(run_cli, constant_prometheus, "broken", "--config", str(settings), "--json")

    assert result.exit_code == 3, result.stdout
    assert result.json["error"]
    assert "parse error" in result.json["error"]


@pytest.mark.parametrize(("args", "message"), [(("nope",), "unknown query 'nope'"), (("request-rate", "--service", "a;b"), "invalid service 'a;b'"), (("request-rate", "--window", "5 m"), "invalid window '5 m'")])
def test_usage_errors_exit_2(sandbox, run_cli, args: tuple[str, ...], message: str) -> None:
    result = query_cli(run_cli, sandbox, *args, "--lang", "en")

    assert result.exit_code == 2
    assert message in result.stderr
    assert not [request for request in sandbox.cluster.requests if "/proxy/" in request.path]


# `otelbot query` against a Prometheus whose counters grow at known rates


REQUESTS_PER_SECOND = 12.0
ERROR_SHARE = 0.005
# Cumulative share of requests at or under each bucket: p95 falls in (0.1, 0.25], p99 in (0.25, 0.5].
BUCKETS = [("0.1", 0.90), ("0.25", 0.97), ("0.5", 0.995), ("1", 1.0), ("+Inf", 1.0)]
GRAPH_REQUESTS_PER_SECOND = 4.0
GRAPH_FAILED_SHARE = 0.05
GRAPH_LATENCY_S = 0.12
# Prometheus scrapes every second, so a 5 s window contains five samples.
WINDOW_SECONDS = 5


class GrowingExporter:
    """A /metrics endpoint whose counters grow linearly with time since start, as live traffic would."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = exporter.metrics().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "GrowingExporter":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def metrics(self) -> str:
        elapsed = 1000.0 + time.monotonic() - self.started
        calls = REQUESTS_PER_SECOND * elapsed
        graph = GRAPH_REQUESTS_PER_SECOND * elapsed
        service = 'service_name="checkout-service"'
        lines = [
            "# TYPE traces_spanmetrics_calls_total counter",
            f'traces_spanmetrics_calls_total{{{service},status_code="STATUS_CODE_UNSET"}} {calls * (1 - ERROR_SHARE)}',
            f'traces_spanmetrics_calls_total{{{service},status_code="STATUS_CODE_ERROR"}} {calls * ERROR_SHARE}',
            "# TYPE traces_spanmetrics_duration_seconds histogram",
        ]
        lines += [f'traces_spanmetrics_duration_seconds_bucket{{{service},le="{le}"}} {calls * share}' for le, share in BUCKETS]
        lines += [
            f"traces_spanmetrics_duration_seconds_sum{{{service}}} {calls * 0.15}",
            f"traces_spanmetrics_duration_seconds_count{{{service}}} {calls}",
            "# TYPE traces_service_graph_request_total counter",
            f'traces_service_graph_request_total{{client="frontend",server="checkout-service"}} {graph}',
            "# TYPE traces_service_graph_request_failed_total counter",
            f'traces_service_graph_request_failed_total{{client="frontend",server="checkout-service"}} {graph * GRAPH_FAILED_SHARE}',
            "# TYPE traces_service_graph_request_server_seconds histogram",
            f'traces_service_graph_request_server_seconds_bucket{{client="frontend",server="checkout-service",le="+Inf"}} {graph}',
            f'traces_service_graph_request_server_seconds_sum{{client="frontend",server="checkout-service"}} {graph * GRAPH_LATENCY_S}',
            f'traces_service_graph_request_server_seconds_count{{client="frontend",server="checkout-service"}} {graph}',
        ]
        return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def growing_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusProcess]:
    exporter = GrowingExporter().start()
    process = PrometheusProcess(tmp_path_factory.mktemp("prom-growing"), remote_write_receiver=True, scrape_url=exporter.url).start()

    # rate() divides by the whole window, so it reads the true slope only once samples span WINDOW.
    def window_covered() -> bool:
        params = {"query": f'count_over_time(traces_spanmetrics_calls_total{{status_code="STATUS_CODE_UNSET"}}[10s]) >= {WINDOW_SECONDS + 2}'}
        return bool(httpx.get(f"{process.url}/api/v1/query", params=params, timeout=1).json()["data"]["result"])

    try:
        wait_until(window_covered, timeout_s=30, what=f"{WINDOW_SECONDS + 2} scrapes of the growing exporter")
        yield process
    finally:
        process.stop()
        exporter.stop()


@pytest.fixture
def live(sandbox, growing_prometheus: PrometheusProcess):
    sandbox.route_service("prometheus", 9090, growing_prometheus.url)
    return sandbox


def live_query(run_cli, sandbox, name: str, *args: str):
    return query_cli(run_cli, sandbox, name, "--service", "checkout-service", "--window", f"{WINDOW_SECONDS}s", "--json", "--lang", "en", *args)


def test_live_request_rate(live, run_cli) -> None:
    series = live_query(run_cli, live, "request-rate").json["series"]

    assert len(series) == 1
    assert series[0]["value"] == pytest.approx(REQUESTS_PER_SECOND, rel=0.05)
    assert re.fullmatch(r"1[12]\.\d req/s|12 req/s", series[0]["display"]), series[0]["display"]


def test_live_error_rate(live, run_cli) -> None:
    series = live_query(run_cli, live, "error-rate").json["series"]

    assert series[0]["value"] == pytest.approx(ERROR_SHARE, rel=1e-6)
    assert series[0]["display"] == "0.5 %"


def test_live_p95_latency(live, run_cli) -> None:
    series = live_query(run_cli, live, "latency-p95").json["series"]

    assert series[0]["value"] == pytest.approx(0.1 + (0.95 - 0.90) / (0.97 - 0.90) * 0.15, rel=1e-6)
    assert series[0]["display"] == "p95 207 ms"


def test_live_endpoint_rate_groups_by_route(live, run_cli) -> None:
    series = live_query(run_cli, live, "endpoint-rate").json["series"]

    assert [item["labels"] for item in series] == [{"service_name": "checkout-service"}]
    assert series[0]["value"] == pytest.approx(REQUESTS_PER_SECOND, rel=0.05)


def test_live_service_graph(live, run_cli) -> None:
    rate = live_query(run_cli, live, "graph-request-rate").json["series"]
    errors = live_query(run_cli, live, "graph-error-rate").json["series"]
    latency = live_query(run_cli, live, "graph-latency-avg").json["series"]

    assert rate[0]["labels"] == {"client": "frontend", "server": "checkout-service"}
    assert rate[0]["value"] == pytest.approx(GRAPH_REQUESTS_PER_SECOND, rel=0.05)
    assert errors[0]["display"] == "5 %"
    assert latency[0]["display"] == "avg 120 ms"


def test_live_availability_slo_missed(live, run_cli) -> None:
    report = live_query(run_cli, live, "slo-availability").json

    assert report["objective"] == {"op": ">=", "value": 99.9, "display": "≥ 99.9 %"}
    assert report["series"][0]["value"] == pytest.approx(99.5, rel=1e-6)
    assert report["series"][0]["display"] == "99.5 %"
    assert report["series"][0]["objective_met"] is False


def test_live_latency_slo_met(live, run_cli) -> None:
    report = live_query(run_cli, live, "slo-latency-p99").json

    assert report["objective"]["display"] == "< 500 ms"
    assert report["series"][0]["display"] == "p99 450 ms"
    assert report["series"][0]["objective_met"] is True


def test_live_text_report_in_korean(live, run_cli) -> None:
    result = query_cli(run_cli, live, "slo-availability", "--service", "checkout-service", "--window", f"{WINDOW_SECONDS}s")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"가용성 SLO (목표 99.9%) · 서비스 checkout-service · 구간 {WINDOW_SECONDS}s"
    assert lines[1].split() == ["서비스", "checkout-service", "99.5", "%", "(목표", "≥", "99.9", "%:", "미달)"]
    assert "PromQL:" in lines
    assert any('service_name=~"checkout-service"' in line for line in lines)
