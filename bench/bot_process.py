"""``otelbot serve`` as a subprocess in HTTP mode, for the benchmarks that load the real bot process.

``running_bot()`` starts a sandbox cluster and a mock Slack Web API (tests/support/slack_api.py)
in this process, spawns ``python -m bot serve`` against both, waits until ``/readyz`` returns
200 and stops everything on exit. ``send_command`` sends a signed ``/otel`` request as Slack
does. Everything listens on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode

import aiohttp
import httpx
from slack_sdk.signature import SignatureVerifier

from bot.sandbox import DATA_DIR, Sandbox
from tests.support.prometheus import free_port
from tests.support.slack_api import TEAM_ID, MockSlackAPI

__all__ = [
    "BOT_TOKEN", "REPO", "SIGNING_SECRET", "BotProcess", "Replies", "bench_stack", "bot_process", "command_form", "command_ids",
    "command_users", "compile_bot", "machine_load", "running_bot", "send_command", "signed_headers", "wait_for",
]

REPO = Path(__file__).resolve().parent.parent
SIGNING_SECRET = "bench-signing-secret"
BOT_TOKEN = "xoxb-bench-bot-token"
READY_TIMEOUT_S = 30.0
READY_POLL_S = 0.005
STOP_TIMEOUT_S = 30.0
RECHECK_ACTION = "otelbot_recheck"


@dataclass
class BotProcess:
    """A running ``otelbot serve``: its process, base URL and log file, how long it took to be ready, and its playbooks."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    ready_s: float
    playbooks: int

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_mib(self) -> float:
        """Return the resident set size (VmRSS in /proc/PID/status) of the bot process, in MiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS line in /proc/{self.pid}/status; is the process still running?")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def machine_load() -> str:
    """Return the 1-minute load average, printed with each result: other work on the machine shifts the numbers."""
    return f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"


def bot_environment(api: MockSlackAPI, sandbox: Sandbox, *, port: int) -> dict[str, str]:
    """Return the environment of ``otelbot serve``: HTTP mode on ``port``, the mock Slack API and the sandbox's kubeconfig."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith(("OTELBOT_", "SLACK_"))}
    return {
        **inherited,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "OTELBOT_SLACK_API_URL": api.url,
        "OTELBOT_SLACK__MODE": "http",
        "OTELBOT_SLACK__HOST": "127.0.0.1",
        "OTELBOT_SLACK__PORT": str(port),
        "OTELBOT_CLUSTER__MODE": "kubeconfig",
        "OTELBOT_CLUSTER__KUBECONFIG": str(sandbox.kubeconfig),
        "OTELBOT_CLUSTER__NAMESPACE": sandbox.namespace,
        "OTELBOT_LANG": "en",
    }


def compile_bot() -> None:
    """Byte-compile the bot package, as ``pip install`` does for the container image.

    Without it, an environment with PYTHONDONTWRITEBYTECODE=1 compiles bot/ from source at every
    start (about 0.1 s), which no installed bot does.
    """
    compileall.compile_dir(REPO / "bot", quiet=1)


@contextmanager
def bench_stack(*, users: dict[str, str] | None = None) -> Iterator[tuple[MockSlackAPI, Sandbox]]:
    """Start the mock Slack Web API and the sandbox cluster; ``users`` maps user ids to locales for ``users.info``."""
    api = MockSlackAPI(users=users or {}).start()
    try:
        with Sandbox(DATA_DIR / "stack") as sandbox:
            yield api, sandbox
    finally:
        api.stop()


@contextmanager
def bot_process(api: MockSlackAPI, sandbox: Sandbox) -> Iterator[BotProcess]:
    """Spawn ``otelbot serve``, wait until it is ready, and stop it on exit.

    The bot's log (stderr and stdout) goes to a temporary file, whose end is in the error when
    the bot fails to become ready.
    """
    compile_bot()
    with tempfile.TemporaryDirectory(prefix="otelbot-bench-") as tmp:
        port = free_port()
        log_path = Path(tmp) / "otelbot.log"
        with log_path.open("wb") as log:
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"], cwd=REPO, env=bot_environment(api, sandbox, port=port),
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            ready_s, playbooks = _wait_ready(process, base_url, started=started, log_path=log_path)
            yield BotProcess(process, base_url, log_path, ready_s, playbooks)
        finally:
            _stop(process)


@contextmanager
def running_bot(*, users: dict[str, str] | None = None) -> Iterator[tuple[BotProcess, MockSlackAPI, Sandbox]]:
    """Start the mock Slack Web API, the sandbox cluster and ``otelbot serve``; stop all three on exit."""
    with bench_stack(users=users) as (api, sandbox), bot_process(api, sandbox) as bot:
        yield bot, api, sandbox


def _wait_ready(process: subprocess.Popen[bytes], base_url: str, *, started: float, log_path: Path) -> tuple[float, int]:
    """Poll ``/readyz`` until it returns 200; return the seconds since ``started`` (the spawn) and the playbooks loaded."""
    deadline = started + READY_TIMEOUT_S
    with httpx.Client(timeout=1.0) as client:
        while time.perf_counter() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"otelbot serve exited with {process.returncode} before it was ready:\n{log_path.read_text(errors='replace')[-3000:]}")
            try:
                response = client.get(f"{base_url}/readyz")
                if response.status_code == 200:
                    return time.perf_counter() - started, int(response.json().get("playbooks") or 0)
            except httpx.TransportError:
                pass
            time.sleep(READY_POLL_S)
    raise TimeoutError(f"otelbot serve was not ready within {READY_TIMEOUT_S:g}s:\n{log_path.read_text(errors='replace')[-3000:]}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Send SIGTERM and wait for the graceful shutdown; SIGKILL when it takes longer than STOP_TIMEOUT_S."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT_S)


def command_ids(prefix: str, number: int) -> tuple[str, str]:
    """Return the user and channel ids of command ``number``: each command has a user and a channel of its own.

    So the bot's per-user and per-channel rate limits, sized for people rather than load tests,
    let every command through, and each reply can be matched to its command by channel.
    """
    return f"U{prefix}{number:07d}", f"C{prefix}{number:07d}"


def command_users(prefix: str, count: int) -> dict[str, str]:
    """Return the ``users.info`` locales of the users of commands 0 to ``count`` - 1, for the mock Slack API."""
    return {command_ids(prefix, number)[0]: "en-US" for number in range(count)}


def command_form(text: str, *, response_url: str, user: str, channel: str, tag: str) -> bytes:
    """Return the form body of an ``/otel`` slash command as Slack sends it."""
    form = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "channel_id": channel,
        "channel_name": "bench",
        "user_id": user,
        "user_name": user.lower(),
        "command": "/otel",
        "text": text,
        "api_app_id": "A0APP",
        "response_url": response_url,
        "trigger_id": f"trigger-{tag}",
    }
    return urlencode(form).encode()


def signed_headers(body: bytes, *, secret: str = SIGNING_SECRET) -> dict[str, str]:
    """Return the headers of a form request signed with ``secret``, as Slack signs requests."""
    stamp = str(int(time.time()))
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body.decode())
    return {"Content-Type": "application/x-www-form-urlencoded", "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


async def send_command(session: aiohttp.ClientSession, bot: BotProcess, body: bytes) -> int:
    """POST a signed slash command to ``bot``; return the HTTP status."""
    async with session.post(f"{bot.base_url}/slack/events", data=body, headers=signed_headers(body)) as response:
        await response.read()
        return response.status


class Replies:
    """The bot's replies that the mock Slack API recorded, read incrementally.

    Each call is read once, because decoding the blocks of every call at every poll would take a
    core from the bot being measured.
    """

    def __init__(self, api: MockSlackAPI) -> None:
        self._api = api
        self._read = 0
        self.posted: set[str] = set()
        self.finished: set[str] = set()
        self.failed_calls = 0

    def update(self) -> "Replies":
        """Read the calls recorded since the last update; return self."""
        calls = self._api.calls()
        for call in calls[self._read:]:
            channel = str(call.args.get("channel"))
            if not call.method.startswith("chat."):
                continue
            if not call.answer.get("ok"):
                self.failed_calls += 1
            elif call.method == "chat.postMessage":
                self.posted.add(channel)
            elif call.method == "chat.update" and RECHECK_ACTION in call.action_ids():
                self.finished.add(channel)
        self._read = len(calls)
        return self


async def wait_for(condition, *, timeout_s: float, poll_s: float = 0.1) -> bool:
    """Poll ``condition`` until it returns true or ``timeout_s`` passes; return its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(poll_s)
    return bool(condition())
