"""Slack acknowledgement latency and lost replies of the real bot process under incident load.

``otelbot serve`` runs as a subprocess in HTTP mode against a mock Slack Web API and the sandbox
cluster (bench/bot_process.py). Every request is a signed ``/otel why no spanmetrics`` from a
user and a channel of its own, so each one starts a diagnosis whose report the mock records. The requests come
from a third process (bench/load_client.py), which measures each one's HTTP response time.

- Acknowledgement: ROUNDS rounds of CONCURRENT commands sent at once, one round every
  ROUND_INTERVAL_S, so later rounds arrive while the diagnoses of earlier ones run. Target: p99
  under 300 ms (Slack gives up at 3 s).
- Burst: BURST commands sent at once over up to BURST_CONNECTIONS connections. Target: every
  command gets its reply, a ``chat.postMessage`` and then a ``chat.update`` carrying the
  Recheck button, within REPLY_DEADLINE_S.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

from bench.bot_process import REPO, BotProcess, Replies, command_users, machine_load, running_bot
from tests.support.slack_api import MockSlackAPI

CONCURRENT = 50
ROUNDS = 6
ROUND_INTERVAL_S = 1.0
BURST = 500
BURST_CONNECTIONS = 100
# The client's own limit is REQUEST_TIMEOUT_S per request; this bounds its start and all rounds.
CLIENT_TIMEOUT_S = 120.0
REPLY_DEADLINE_S = 120.0
REPLY_POLL_S = 0.2
TARGET_ACK_P99_MS = 300.0
ID_PREFIX = "LOAD"


def percentile(values: list[float], share: float) -> float:
    """Return the nearest-rank percentile: the smallest value with ``share`` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


def describe(latencies_s: list[float]) -> str:
    ms = [latency * 1000 for latency in latencies_s]
    return f"p50 {percentile(ms, 0.5):.0f} ms, p95 {percentile(ms, 0.95):.0f} ms, p99 {percentile(ms, 0.99):.0f} ms, max {max(ms):.0f} ms"


class Load:
    """Commands sent to one bot by the load client, each from a user and a channel of its own."""

    def __init__(self, bot: BotProcess, api: MockSlackAPI) -> None:
        self.bot = bot
        self.api = api
        self.replies = Replies(api)
        self.sent = 0

    def send(self, *, rounds: int, per_round: int, interval_s: float, connections: int) -> list[tuple[int, float]]:
        """Run the load client; return (HTTP status, response time in seconds) of every command."""
        arguments = [
            "--url", self.bot.base_url, "--respond-base", self.api.response_url("").rstrip("/"),
            "--prefix", ID_PREFIX, "--first", str(self.sent), "--rounds", str(rounds), "--per-round", str(per_round),
            "--interval", str(interval_s), "--connections", str(connections),
        ]
        output = subprocess.run(
            [sys.executable, "-m", "bench.load_client", *arguments], cwd=REPO, capture_output=True, text=True, check=True, timeout=CLIENT_TIMEOUT_S,
        )
        self.sent += rounds * per_round
        return [(int(status), float(latency)) for status, latency in json.loads(output.stdout)["results"]]

    def wait_for_reports(self) -> float:
        """Wait until every command sent has its finished report, up to REPLY_DEADLINE_S; return the seconds waited."""
        started = time.monotonic()
        while len(self.replies.update().finished) < self.sent and time.monotonic() - started < REPLY_DEADLINE_S:
            time.sleep(REPLY_POLL_S)
        return time.monotonic() - started


def measure_ack(load: Load) -> bool:
    results = load.send(rounds=ROUNDS, per_round=CONCURRENT, interval_s=ROUND_INTERVAL_S, connections=CONCURRENT)
    drained_s = load.wait_for_reports()

    latencies = [latency for _, latency in results]
    statuses = sorted({status for status, _ in results})
    finished = len(load.replies.update().finished)
    p99_ms = percentile(latencies, 0.99) * 1000
    print(f"ack, {ROUNDS} rounds of {CONCURRENT} concurrent commands, one round every {ROUND_INTERVAL_S:g} s: {describe(latencies)} (target p99 < {TARGET_ACK_P99_MS:.0f} ms)")
    print(f"  HTTP statuses {statuses}; {finished}/{load.sent} reports finished, the last {drained_s:.1f} s after the last round")
    return p99_ms < TARGET_ACK_P99_MS and statuses == [200] and finished == load.sent


def measure_burst(load: Load) -> bool:
    before_posted, before_finished, before_failed = len(load.replies.posted), len(load.replies.finished), load.replies.failed_calls
    started = time.monotonic()
    results = load.send(rounds=1, per_round=BURST, interval_s=0, connections=BURST_CONNECTIONS)
    acknowledged_s = time.monotonic() - started
    load.wait_for_reports()
    all_done_s = time.monotonic() - started

    posted = len(load.replies.update().posted) - before_posted
    finished = len(load.replies.finished) - before_finished
    failed_calls = load.replies.failed_calls - before_failed
    statuses = sorted({status for status, _ in results})
    print(f"burst of {BURST} commands over {BURST_CONNECTIONS} connections, sent and acknowledged in {acknowledged_s:.1f} s: {describe([latency for _, latency in results])}; HTTP statuses {statuses}")
    print(
        f"  replies: {posted}/{BURST} posted, {finished}/{BURST} reports finished, the last {all_done_s:.1f} s after the burst started "
        f"({finished / all_done_s:.0f} diagnoses/s); failed chat calls: {failed_calls} (target {BURST}/{BURST}, none lost)"
    )
    return statuses == [200] and posted == BURST and finished == BURST and not failed_calls


def run() -> bool:
    print(f"before: {machine_load()}")
    with running_bot(users=command_users(ID_PREFIX, ROUNDS * CONCURRENT + BURST)) as (bot, api, _sandbox):
        load = Load(bot, api)
        ack_met = measure_ack(load)
        burst_met = measure_burst(load)
        print(f"bot RSS after {load.sent} diagnoses: {bot.rss_mib():.0f} MiB")
    return ack_met and burst_met
