"""Resident memory of the real bot process: after start with the bundled playbooks, and after 1,000 diagnoses.

Targets: under 150 MiB at ready, and under 10 MiB of growth after DIAGNOSES diagnoses. The
growth is counted from the RSS at ready, so it includes the warm-up of the first requests
(connection pools, caches, lazily built objects). The growth after the first wave is printed
too. The diagnoses are ``/otel why no spanmetrics`` slash commands sent in waves of WAVE,
each from a user and a channel of its own, to ``otelbot serve`` in HTTP mode with its default in-process state
store (bench/bot_process.py). Each wave waits for its reports, at most WAVE_DEADLINE_S. RSS is
VmRSS from /proc/PID/status.
"""

from __future__ import annotations

import asyncio

import aiohttp

from bench.bot_process import BotProcess, Replies, command_form, command_ids, command_users, machine_load, running_bot, send_command, wait_for
from tests.support.slack_api import MockSlackAPI

DIAGNOSES = 1000
WAVE = 100
WAVE_DEADLINE_S = 60.0
REQUEST_TIMEOUT_S = 10.0
TARGET_RSS_MIB = 150.0
TARGET_GROWTH_MIB = 10.0
ID_PREFIX = "MEM"
TEXT = "why no spanmetrics"


async def diagnose_in_waves(bot: BotProcess, api: MockSlackAPI) -> list[float]:
    """Run DIAGNOSES diagnoses in waves; return the bot's RSS in MiB after each wave."""
    samples = []
    replies = Replies(api)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=WAVE)) as session:
        for first in range(0, DIAGNOSES, WAVE):
            bodies = []
            for number in range(first, first + WAVE):
                user, channel = command_ids(ID_PREFIX, number)
                bodies.append(command_form(TEXT, response_url=api.response_url(f"memory-{number}"), user=user, channel=channel, tag=f"memory-{number}"))
            statuses = set(await asyncio.gather(*(send_command(session, bot, body) for body in bodies)))
            if statuses != {200}:
                raise RuntimeError(f"slash commands {first}..{first + WAVE - 1} got HTTP statuses {sorted(statuses)}, expected 200")

            expected = first + WAVE
            if not await wait_for(lambda: len(replies.update().finished) >= expected, timeout_s=WAVE_DEADLINE_S, poll_s=0.2):
                raise RuntimeError(f"only {len(replies.finished)} of {expected} reports finished within {WAVE_DEADLINE_S:g}s:\n{bot.log_tail()}")
            samples.append(bot.rss_mib())
    return samples


def run() -> bool:
    print(f"before: {machine_load()}")
    with running_bot(users=command_users(ID_PREFIX, DIAGNOSES)) as (bot, api, _sandbox):
        at_ready = bot.rss_mib()
        samples = asyncio.run(diagnose_in_waves(bot, api))

    growth = samples[-1] - at_ready
    print(f"RSS at ready with {bot.playbooks} playbooks: {at_ready:.1f} MiB (target < {TARGET_RSS_MIB:.0f} MiB)")
    print(f"RSS after {DIAGNOSES} diagnoses: {samples[-1]:.1f} MiB, growth {growth:.1f} MiB since ready (target < {TARGET_GROWTH_MIB:.0f} MiB)")
    print(f"  growth after the first {WAVE}: {samples[-1] - samples[0]:.1f} MiB; RSS per wave of {WAVE}: " + ", ".join(f"{sample:.1f}" for sample in samples))
    return at_ready < TARGET_RSS_MIB and growth < TARGET_GROWTH_MIB
