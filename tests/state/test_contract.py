"""The StateStore contract, run against both the in-process store and a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable

from bot.state import StateStore
from tests.state.conftest import StoreFactory, eventually, run_record


def run(make_store: StoreFactory, scenario: Callable[[StateStore], Awaitable[None]]) -> None:
    """Run ``scenario`` with a fresh store in its own event loop, and close the store after."""

    async def main() -> None:
        store = make_store()
        try:
            await scenario(store)
        finally:
            await store.close()

    asyncio.run(main())


def test_claim_succeeds_once(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.claim("event:Ev1", 60) is True
        assert await store.claim("event:Ev1", 60) is False
        assert await store.claim("event:Ev2", 60) is True

    run(make_store, scenario)


def test_claim_expires_after_ttl(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.claim("cooldown:C1", 1) is True
        assert await store.claim("cooldown:C1", 1) is False
        await eventually(lambda: store.claim("cooldown:C1", 1), timeout_s=5, what="the claim to expire")

    run(make_store, scenario)


def test_run_record_round_trip(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        record = run_record("run-rt", inputs={"service": "user-service", "route": "/api/users/{id}"}, rechecks=2)
        await store.save_run(record, 600)
        assert await store.load_run("run-rt") == record

    run(make_store, scenario)


def test_save_run_replaces_record(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        await store.save_run(run_record("run-up"), 600)
        updated = run_record("run-up", last_verdict="healthy", rechecks=1, updated_at=1700000100.0)
        await store.save_run(updated, 600)
        assert await store.load_run("run-up") == updated

    run(make_store, scenario)


def test_load_run_unknown_returns_none(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.load_run("never-saved") is None

    run(make_store, scenario)


def test_run_record_expires(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        await store.save_run(run_record("run-exp"), 1)
        assert await store.load_run("run-exp") is not None

        async def gone() -> bool:
            return await store.load_run("run-exp") is None

        await eventually(gone, timeout_s=5, what="the run record to expire")

    run(make_store, scenario)


def test_lock_is_exclusive(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        token = await store.acquire_lock("msg:C1:1.2", 30)
        assert token
        assert await store.acquire_lock("msg:C1:1.2", 30) is None
        assert await store.acquire_lock("msg:C1:9.9", 30) is not None

    run(make_store, scenario)


def test_release_with_wrong_token_keeps_lock(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        token = await store.acquire_lock("msg:wrong", 30)
        assert token is not None
        await store.release_lock("msg:wrong", "not-the-token")
        assert await store.acquire_lock("msg:wrong", 30) is None

    run(make_store, scenario)


def test_release_frees_lock(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        token = await store.acquire_lock("msg:free", 30)
        assert token is not None
        await store.release_lock("msg:free", token)
        second = await store.acquire_lock("msg:free", 30)
        assert second is not None
        assert second != token

    run(make_store, scenario)


def test_stale_token_cannot_release_new_holder(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        first = await store.acquire_lock("msg:stale", 1)
        assert first is not None

        async def acquired_again() -> bool:
            return await store.acquire_lock("msg:stale", 30) is not None

        await eventually(acquired_again, timeout_s=5, what="the first lock to expire")
        await store.release_lock("msg:stale", first)
        assert await store.acquire_lock("msg:stale", 30) is None

    run(make_store, scenario)


def test_concurrent_acquire_gives_one_token(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        tokens = await asyncio.gather(*(store.acquire_lock("msg:race", 30) for _ in range(20)))
        winners = [token for token in tokens if token is not None]
        assert len(winners) == 1

    run(make_store, scenario)


def test_rate_limit_counts_within_window(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        results = [await store.hit("user:U1", 3, 60) for _ in range(5)]
        assert results == [False, False, False, True, True]

    run(make_store, scenario)


def test_rate_limits_are_separate_per_name(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.hit("user:U1", 1, 60) is False
        assert await store.hit("user:U1", 1, 60) is True
        assert await store.hit("user:U2", 1, 60) is False
        assert await store.hit("channel:C1", 1, 60) is False

    run(make_store, scenario)


def test_rate_limit_resets_after_window(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.hit("user:U3", 1, 1) is False
        assert await store.hit("user:U3", 1, 1) is True

        # Each poll counts a hit, so it returns False only as the first hit of a new window.
        async def new_window() -> bool:
            return not await store.hit("user:U3", 1, 1)

        await eventually(new_window, timeout_s=5, what="the rate window to reset")

    run(make_store, scenario)


def test_history_keeps_newest_entries(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        for number in range(7):
            await store.append_history("C1:1.2", {"n": number, "text": f"entry {number}"}, max_entries=3, ttl_s=600)
        entries = await store.history("C1:1.2")
        assert [entry["n"] for entry in entries] == [4, 5, 6]
        assert entries[-1] == {"n": 6, "text": "entry 6"}

    run(make_store, scenario)


def test_history_of_unknown_thread_is_empty(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.history("C1:none") == []

    run(make_store, scenario)


def test_history_expires(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        await store.append_history("C1:exp", {"n": 1}, max_entries=5, ttl_s=1)
        assert await store.history("C1:exp") == [{"n": 1}]

        async def gone() -> bool:
            return await store.history("C1:exp") == []

        await eventually(gone, timeout_s=5, what="the history to expire")

    run(make_store, scenario)


def test_ping_answers(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert await store.ping() is True

    run(make_store, scenario)


def test_store_is_not_degraded(make_store: StoreFactory) -> None:
    async def scenario(store: StateStore) -> None:
        assert store.degraded is False

    run(make_store, scenario)
