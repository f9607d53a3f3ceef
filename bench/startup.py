"""Time from spawning ``otelbot serve`` until ``/readyz`` returns 200, with the bundled playbooks loaded.

Target: under 1.5 s (median of RUNS starts). The bot runs in HTTP mode against the mock Slack Web
API and the sandbox cluster, so Slack's own latency is not counted. The bot package is
byte-compiled first (bench/bot_process.py), as it is in the container image. The import time of
the modules ``otelbot serve`` loads is measured on its own, to show where the start goes.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench.bot_process import REPO, bench_stack, bot_process, compile_bot, machine_load

RUNS = 5
IMPORT_RUNS = 3
TARGET_S = 1.5
IMPORT_TIMEOUT_S = 30.0
_IMPORT_SCRIPT = "import time; started = time.perf_counter(); import bot.cli, bot.slack; print(time.perf_counter() - started)"


def import_time_s() -> float:
    """Return the median seconds a fresh interpreter takes to import what ``otelbot serve`` imports."""
    compile_bot()
    timings = []
    for _ in range(IMPORT_RUNS):
        output = subprocess.run([sys.executable, "-c", _IMPORT_SCRIPT], cwd=REPO, capture_output=True, text=True, check=True, timeout=IMPORT_TIMEOUT_S)
        timings.append(float(output.stdout.strip()))
    return statistics.median(timings)


def run() -> bool:
    ready_s: list[float] = []
    rss_mib: list[float] = []
    playbooks = 0
    print(f"before: {machine_load()}")
    with bench_stack() as (api, sandbox):
        for _ in range(RUNS):
            with bot_process(api, sandbox) as bot:
                ready_s.append(bot.ready_s)
                rss_mib.append(bot.rss_mib())
                playbooks = bot.playbooks

    median_s = statistics.median(ready_s)
    imports_s = import_time_s()
    print(f"start to ready with {playbooks} playbooks, {RUNS} starts: median {median_s:.2f} s, min {min(ready_s):.2f} s, max {max(ready_s):.2f} s (target < {TARGET_S} s)")
    print(f"  of which importing bot.cli and bot.slack: {imports_s:.2f} s (median of {IMPORT_RUNS} fresh interpreters)")
    print(f"  RSS at ready: median {statistics.median(rss_mib):.0f} MiB")
    return median_s < TARGET_S and playbooks > 0
