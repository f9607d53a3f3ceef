"""Send signed ``/otel`` slash commands to a bot in rounds; print each response's HTTP status and time as JSON.

bench/slack_load.py runs this as a process of its own (``python -m bench.load_client ...``), so
the response times are not stretched by the mock Slack Web API and the sandbox cluster, which
share the benchmark's process and its GIL. Each command comes from a user and a channel of its
own (``bot_process.command_ids``). Requests go to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

import aiohttp

from bench.bot_process import SIGNING_SECRET, command_form, command_ids, signed_headers

REQUEST_TIMEOUT_S = 10.0


async def send(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, float]:
    """POST one signed command; return the HTTP status (0 when the request failed) and the response time in seconds.

    The signature is computed before the clock starts, so the time is the bot's: connection,
    request, and the wait for its acknowledgement.
    """
    headers = signed_headers(body, secret=SIGNING_SECRET)
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            return response.status, time.perf_counter() - started
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return 0, time.perf_counter() - started


async def send_rounds(args: argparse.Namespace) -> list[tuple[int, float]]:
    """Send ``rounds`` rounds of ``per_round`` commands at once, one round every ``interval`` seconds."""
    url = f"{args.url}/slack/events"
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=args.connections)
    results: list[tuple[int, float]] = []
    number = args.first
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        for _ in range(args.rounds):
            started = time.perf_counter()
            bodies = []
            for _ in range(args.per_round):
                user, channel = command_ids(args.prefix, number)
                tag = f"{args.prefix.lower()}-{number}"
                bodies.append(command_form(args.text, response_url=f"{args.respond_base}/{tag}", user=user, channel=channel, tag=tag))
                number += 1
            results.extend(await asyncio.gather(*(send(session, url, body) for body in bodies)))
            await asyncio.sleep(max(args.interval - (time.perf_counter() - started), 0))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load_client", description=__doc__)
    parser.add_argument("--url", required=True, help="base URL of the bot, such as http://127.0.0.1:3000")
    parser.add_argument("--respond-base", required=True, help="base of the commands' response_url (the mock Slack API's /respond)")
    parser.add_argument("--text", default="why no spanmetrics", help="text after /otel")
    parser.add_argument("--prefix", required=True, help="id prefix: command N comes from user UPREFIXN and channel CPREFIXN, N in seven digits")
    parser.add_argument("--first", type=int, default=0, help="number of the first command")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of commands")
    parser.add_argument("--per-round", type=int, required=True, help="commands sent at once in each round")
    parser.add_argument("--interval", type=float, default=0.0, help="seconds from the start of one round to the next")
    parser.add_argument("--connections", type=int, default=100, help="most connections open at once")
    args = parser.parse_args()

    results = asyncio.run(send_rounds(args))
    json.dump({"results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
