"""Wall time of one diagnosis with 10 checks against backends that each take 200 ms.

Target: under 350 ms, so checks run concurrently and the engine adds under 150 ms over the
slowest check. The checks go the whole way a real run goes: the kubernetes client, the sandbox
API server's service proxy, and a stand-in backend that sleeps 200 ms per request.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bot.app import open_runtime
from bot.config import load_settings
from bot.engine import run_playbook
from bot.playbooks.schema import Playbook
from bot.sandbox import DATA_DIR, Route, Sandbox

CHECKS = 10
BACKEND_DELAY_S = 0.2
RUNS = 20
TARGET_MS = 350
TEXT = {"ko": "벤치마크", "en": "benchmark"}


def _playbook() -> Playbook:
    checks = [
        {"id": f"slow-{number}", "kind": "http", "title": TEXT, "backend": "tempo", "path": f"/slow/{number}", "format": "text", "expect": [{"path": "status", "equals": 200}]}
        for number in range(CHECKS)
    ]
    cause = {"id": "slow", "title": TEXT, "explanation": TEXT, "when": {"any": {"slow-0": "fail"}}, "patch": {"path": "-", "format": "text", "content": "-"}}
    return Playbook.model_validate({"id": "bench", "source": "bench", "title": TEXT, "symptoms": {"ko": ["벤치"], "en": ["bench"]}, "checks": checks, "causes": [cause]})


async def _measure(settings, playbook: Playbook) -> list[float]:
    timings = []
    async with open_runtime(settings) as runtime:
        context = runtime.context()
        await run_playbook(playbook, context)  # warm up connections
        for _ in range(RUNS):
            started = time.perf_counter()
            diagnosis = await run_playbook(playbook, context)
            timings.append((time.perf_counter() - started) * 1000)
            assert all(finding.status.value == "pass" for finding in diagnosis.findings), diagnosis.findings
    return timings


def run() -> bool:
    logging_quiet()
    with Sandbox(DATA_DIR / "stack") as sandbox:
        for number in range(CHECKS):
            sandbox.backends["tempo"].set_route(Route(path=f"/slow/{number}", body=b"ok", content_type="text/plain", delay_s=BACKEND_DELAY_S))
        settings = load_settings(cluster={"kubeconfig": sandbox.kubeconfig, "mode": "kubeconfig", "namespace": sandbox.namespace})
        timings = asyncio.run(_measure(settings, _playbook()))
    p50 = statistics.median(timings)
    p95 = statistics.quantiles(timings, n=20)[-1]
    print(f"{CHECKS} checks x {BACKEND_DELAY_S * 1000:.0f} ms backends, {RUNS} runs: p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(timings):.0f} ms (target < {TARGET_MS} ms)")
    print(f"overhead over the slowest check: p50 {p50 - BACKEND_DELAY_S * 1000:.0f} ms (target < 150 ms)")
    return p95 < TARGET_MS


def logging_quiet() -> None:
    import logging

    logging.getLogger().setLevel(logging.WARNING)
