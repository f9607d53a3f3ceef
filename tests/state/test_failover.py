"""FailoverStore: serving state from memory while Redis is down, and going back when it returns."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from bot.errors import StateError
from bot.state import FailoverStore, MemoryStore, RunRecord, connect_redis, is_degraded, open_store
from tests.state.conftest import eventually, run_record, state_settings
from tests.support.redis import RedisProcess

FAILOVER_LOGGER = "bot.state.failover"


def failover_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == FAILOVER_LOGGER and record.levelno == logging.WARNING]


async def load_from_redis(url: str, run_id: str) -> RunRecord | None:
    """Read a run record through a separate Redis store, as a second replica would."""
    replica = connect_redis(state_settings(url))
    try:
        return await replica.load_run(run_id)
    finally:
        await replica.close()


def test_failover_survives_redis_outage(own_redis: RedisProcess, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=FAILOVER_LOGGER)
    url = own_redis.url

    async def main() -> None:
        store = open_store(state_settings(url))
        assert isinstance(store, FailoverStore)
        try:
            # Healthy: writes land in Redis, visible to another replica.
            await store.save_run(run_record("before"), 600)
            assert store.degraded is False
            assert await load_from_redis(url, "before") == run_record("before")

            # Redis goes away: the store keeps serving state from memory.
            own_redis.stop()
            assert await store.claim("event:during", 60) is True
            assert store.degraded is True
            assert is_degraded(store) is True
            assert await store.claim("event:during", 60) is False
            await store.save_run(run_record("during"), 600)
            assert await store.load_run("during") == run_record("during")
            token = await store.acquire_lock("msg:during", 30)
            assert token is not None
            assert await store.acquire_lock("msg:during", 30) is None
            assert await store.hit("user:U1", 1, 60) is False
            await store.append_history("C1:1.2", {"n": 1}, max_entries=5, ttl_s=600)
            assert await store.history("C1:1.2") == [{"n": 1}]
            assert await store.ping() is True

            # Keep calling until several background pings have failed; still one warning.
            async def probes_failed() -> bool:
                await store.claim("event:poll", 60)
                return store.failed_probes >= 3

            await eventually(probes_failed, timeout_s=10, what="three failed pings of Redis")
            assert store.degraded is True
            assert len(failover_warnings(caplog)) == 1

            # Redis returns on the same port, empty: the store goes back to it.
            own_redis.start()

            async def recovered() -> bool:
                await store.ping()
                return not store.degraded

            await eventually(recovered, timeout_s=10, what="the store to use Redis again")
            await store.save_run(run_record("after"), 600)
            assert await load_from_redis(url, "after") == run_record("after")
            assert await load_from_redis(url, "during") is None

            # The run saved in memory during the outage still loads on this replica,
            # and the lock taken in memory is released with its token.
            assert await store.load_run("during") == run_record("during")
            await store.release_lock("msg:during", token)
        finally:
            await store.close()

    asyncio.run(main())

    warnings = failover_warnings(caplog)
    assert len(warnings) == 1
    assert "state store degraded" in warnings[0]
    assert "rechecks may not survive a restart" in warnings[0]
    assert "ConnectionError" in warnings[0]
    recoveries = [record.getMessage() for record in caplog.records if record.name == FAILOVER_LOGGER and "recovered" in record.getMessage()]
    assert len(recoveries) == 1


class BrokenStore(MemoryStore):
    """A primary whose every operation fails as an unreachable Redis does, until ``healthy`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.healthy = False
        self.calls: list[str] = []

    def _fail(self, operation: str) -> None:
        self.calls.append(operation)
        if not self.healthy:
            raise StateError(f"Redis {operation} failed at redis://127.0.0.1:1/0: ConnectionError: refused", operation=operation, endpoint="redis://127.0.0.1:1/0")

    async def claim(self, name: str, ttl_s: int) -> bool:
        self._fail("claim")
        return await super().claim(name, ttl_s)

    async def ping(self) -> bool:
        self.calls.append("ping")
        return self.healthy


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_warning_repeats_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    primary = BrokenStore()
    store = FailoverStore(primary, MemoryStore(), probe_interval_s=5, warning_interval_s=60, clock=clock)

    async def main() -> None:
        for second in range(0, 150, 5):
            clock.now = 1000.0 + second
            await store.claim(f"event:{second}", 600)
            if store._probe_task is not None:
                await store._probe_task
        await store.close()

    asyncio.run(main())

    # Warnings at 0 s, 60 s and 120 s of the outage; pings every 5 s in between are counted, not logged.
    warnings = failover_warnings(caplog)
    assert len(warnings) == 3
    assert "(failures since the previous warning: 1)" in warnings[0]
    assert "(failures since the previous warning: 12)" in warnings[1]
    assert "still does not respond to ping" in warnings[1]


def test_pings_at_most_once_per_interval() -> None:
    clock = FakeClock()
    primary = BrokenStore()
    store = FailoverStore(primary, MemoryStore(), probe_interval_s=5, clock=clock)

    async def main() -> None:
        await store.claim("event:first", 600)
        for tick in range(100):
            clock.now = 1000.0 + tick * 0.1
            await store.claim(f"event:{tick}", 600)
            if store._probe_task is not None:
                await store._probe_task
        await store.close()

    asyncio.run(main())

    # 10 s of calls at 5 s intervals, the first due 5 s after the outage began.
    assert primary.calls.count("ping") == 1
    assert primary.calls.count("claim") == 1


def test_goes_back_to_primary_after_ping(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=FAILOVER_LOGGER)
    clock = FakeClock()
    primary = BrokenStore()
    store = FailoverStore(primary, MemoryStore(), probe_interval_s=5, clock=clock)

    async def main() -> list[Any]:
        assert await store.claim("event:a", 600) is True
        assert store.degraded is True

        primary.healthy = True
        clock.now += 5
        await store.claim("event:b", 600)
        assert store._probe_task is not None
        await store._probe_task
        assert store.degraded is False

        # The primary never saw event:a, which memory claimed during the outage.
        result = [await store.claim("event:a", 600), await store.claim("event:a", 600)]
        await store.close()
        return result

    assert asyncio.run(main()) == [True, False]
    assert any("recovered" in record.getMessage() for record in caplog.records)


def test_other_errors_propagate() -> None:
    class Buggy(MemoryStore):
        async def claim(self, name: str, ttl_s: int) -> bool:
            raise KeyError(name)

    async def main() -> None:
        store = FailoverStore(Buggy(), MemoryStore())
        with pytest.raises(KeyError):
            await store.claim("event:bug", 60)
        assert store.degraded is False

    asyncio.run(main())


def test_is_degraded_false_for_plain_stores() -> None:
    assert is_degraded(MemoryStore()) is False


def test_ping_failure_marks_degraded(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        store = FailoverStore(BrokenStore(), MemoryStore())
        assert await store.ping() is True
        assert store.degraded is True
        await store.close()

    asyncio.run(main())
    warnings = failover_warnings(caplog)
    assert len(warnings) == 1
    assert "did not respond to ping" in warnings[0]


def test_on_failure_counts_every_failure() -> None:
    clock = FakeClock()
    primary = BrokenStore()
    failures: list[None] = []
    store = FailoverStore(primary, MemoryStore(), probe_interval_s=5, on_failure=lambda: failures.append(None), clock=clock)

    async def main() -> None:
        await store.claim("event:first", 600)
        clock.now += 5
        await store.claim("event:second", 600)
        assert store._probe_task is not None
        await store._probe_task
        await store.close()

    asyncio.run(main())

    # The failed claim, then the failed ping; the second claim went to memory and did not fail.
    assert len(failures) == 2
    assert is_degraded(store) is True
