"""Fixtures for the state store tests: a real redis-server on loopback and store factories.

The shared server lives for the session and is emptied before each test that uses it. Tests that
stop Redis or need a password start a server of their own. No test reaches any other host.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator

import pytest

from bot.config import StateSettings
from bot.state import MemoryStore, RunRecord, StateStore, connect_redis
from tests.support.redis import RedisProcess, send_command

StoreFactory = Callable[[], StateStore]


def state_settings(url: str | None, **overrides: Any) -> StateSettings:
    """Settings with short timeouts, so a failing Redis fails a test in about a second, not a minute."""
    values: dict[str, Any] = {"socket_timeout_s": 0.5, "connect_timeout_s": 0.5, "probe_interval_s": 0.1}
    values.update(overrides)
    return StateSettings(redis_url=url, **values)


def run_record(run_id: str = "run-1", **overrides: Any) -> RunRecord:
    values: dict[str, Any] = {
        "run_id": run_id,
        "playbook_id": "spanmetrics-missing",
        "query": "why no spanmetrics",
        "inputs": {"service": "user-service"},
        "namespace": "wealist-prod",
        "lang": "en",
        "requester": "U123",
        "channel": "C456",
        "message_ts": "1700000000.000100",
        "thread_ts": "1700000000.000100",
        "last_statuses": {"receiver-flag": "fail"},
        "last_verdict": "cause_found",
        "created_at": 1700000000.0,
        "updated_at": 1700000000.0,
    }
    values.update(overrides)
    return RunRecord(**values)


async def eventually(condition: Callable[[], Awaitable[bool]], *, timeout_s: float, what: str) -> None:
    """Await ``condition`` every 50 ms until it returns True; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    for _ in range(int(timeout_s / 0.05) + 1):
        if await condition():
            return
        if time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    """One redis-server for the session's tests that leave it running."""
    process = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield process
    process.stop()


@pytest.fixture
def redis_url(redis_server: RedisProcess) -> str:
    """URL of the shared redis-server, emptied for this test."""
    assert send_command(redis_server.port, "FLUSHALL").startswith(b"+OK")
    return redis_server.url


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A redis-server that only this test uses, so the test may stop and start it."""
    process = RedisProcess(tmp_path / "redis").start()
    yield process
    process.stop()


@pytest.fixture(params=["memory", "redis"])
def make_store(request: pytest.FixtureRequest) -> StoreFactory:
    """Build stores of one kind; the contract tests run once per kind."""
    if request.param == "memory":
        return MemoryStore
    url = request.getfixturevalue("redis_url")
    return lambda: connect_redis(state_settings(url))
