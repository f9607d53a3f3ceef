"""The Redis store against a real redis-server: TTLs, several replicas, restarts, timeouts, Sentinel."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import pytest
import redis

from bot.errors import StateError
from bot.state import KEY_PREFIX, RedisStore, connect_redis, open_store
from tests.state.conftest import run_record, state_settings
from tests.support.prometheus import free_port
from tests.support.redis import RedisProcess


def scan_keys(url: str) -> dict[str, int]:
    """Return every key in the database with its TTL in seconds (-1: none, -2: gone)."""
    with redis.Redis.from_url(url, decode_responses=True, socket_timeout=2) as client:
        return {name: client.ttl(name) for name in client.scan_iter(count=1000)}


async def workload(store: RedisStore) -> None:
    """Touch every kind of key the store writes, and leave one lock held."""
    await store.claim("event:Ev1", 300)
    await store.save_run(run_record("run-ttl"), 3600)
    await store.acquire_lock("msg:held", 120)
    released = await store.acquire_lock("msg:released", 120)
    assert released is not None
    await store.release_lock("msg:released", released)
    await store.hit("user:U1", 5, 60)
    await store.hit("channel:C1", 5, 60)
    await store.append_history("C1:1.2", {"text": "first"}, max_entries=5, ttl_s=900)


def test_every_key_has_ttl(redis_url: str) -> None:
    async def main() -> None:
        store = connect_redis(state_settings(redis_url))
        try:
            await workload(store)
        finally:
            await store.close()

    asyncio.run(main())
    keys = scan_keys(redis_url)

    assert len(keys) == 6, sorted(keys)
    for name, ttl in keys.items():
        assert ttl > 0, f"{name} has TTL {ttl}"


def test_keys_are_namespaced_and_versioned(redis_url: str) -> None:
    async def main() -> None:
        store = connect_redis(state_settings(redis_url))
        try:
            await workload(store)
        finally:
            await store.close()

    asyncio.run(main())
    keys = scan_keys(redis_url)

    assert all(name.startswith(f"{KEY_PREFIX}:") for name in keys), sorted(keys)
    assert f"{KEY_PREFIX}:run:run-ttl" in keys
    assert f"{KEY_PREFIX}:claim:event:Ev1" in keys
    assert f"{KEY_PREFIX}:lock:msg:held" in keys
    assert f"{KEY_PREFIX}:lock:msg:released" not in keys


def test_values_are_json_with_schema(redis_url: str) -> None:
    async def main() -> None:
        store = connect_redis(state_settings(redis_url))
        try:
            await workload(store)
        finally:
            await store.close()

    asyncio.run(main())
    with redis.Redis.from_url(redis_url, decode_responses=True, socket_timeout=2) as client:
        record = json.loads(client.get(f"{KEY_PREFIX}:run:run-ttl"))
        history = [json.loads(item) for item in client.lrange(f"{KEY_PREFIX}:history:C1:1.2", 0, -1)]

    assert record["schema"] == 1
    assert record["run_id"] == "run-ttl"
    assert history == [{"schema": 1, "entry": {"text": "first"}}]


def test_unreadable_run_record_reads_as_expired(redis_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        client.set(f"{KEY_PREFIX}:run:garbled", "{not json", ex=60)
        client.set(f"{KEY_PREFIX}:run:future", json.dumps({"schema": 2, "run_id": "future"}), ex=60)

    async def main() -> None:
        store = connect_redis(state_settings(redis_url))
        try:
            assert await store.load_run("garbled") is None
            assert await store.load_run("future") is None
        finally:
            await store.close()

    asyncio.run(main())
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert len(warnings) == 2
    assert "run record garbled" in warnings[0]


def test_history_skips_entries_of_other_schema(redis_url: str) -> None:
    with redis.Redis.from_url(redis_url, socket_timeout=2) as client:
        name = f"{KEY_PREFIX}:history:C9:1.0"
        client.rpush(name, json.dumps({"schema": 2, "entry": {"n": 0}}), "oops", json.dumps({"schema": 1, "entry": {"n": 1}}))
        client.expire(name, 60)

    async def main() -> list[dict]:
        store = connect_redis(state_settings(redis_url))
        try:
            return await store.history("C9:1.0")
        finally:
            await store.close()

    assert asyncio.run(main()) == [{"n": 1}]


def test_two_replicas_claim_once(redis_url: str) -> None:
    async def main() -> list[bool]:
        first = connect_redis(state_settings(redis_url))
        second = connect_redis(state_settings(redis_url))
        try:
            # The same Slack event delivered to both replicas at once, and again as a retry.
            results = await asyncio.gather(first.claim("event:Ev42", 300), second.claim("event:Ev42", 300))
            results.append(await second.claim("event:Ev42", 300))
            return list(results)
        finally:
            await first.close()
            await second.close()

    results = asyncio.run(main())
    assert sorted(results[:2]) == [False, True]
    assert results[2] is False


def test_two_replicas_lock_blocks_other(redis_url: str) -> None:
    async def main() -> None:
        first = connect_redis(state_settings(redis_url))
        second = connect_redis(state_settings(redis_url))
        try:
            token = await first.acquire_lock("msg:C1:1.2", 60)
            assert token is not None
            assert await second.acquire_lock("msg:C1:1.2", 60) is None

            await second.release_lock("msg:C1:1.2", "guessed-token")
            assert await second.acquire_lock("msg:C1:1.2", 60) is None

            await first.release_lock("msg:C1:1.2", token)
            assert await second.acquire_lock("msg:C1:1.2", 60) is not None
        finally:
            await first.close()
            await second.close()

    asyncio.run(main())


def test_concurrent_acquire_across_replicas(redis_url: str) -> None:
    async def main() -> list[str | None]:
        replicas = [connect_redis(state_settings(redis_url)) for _ in range(2)]
        try:
            return await asyncio.gather(*(replicas[number % 2].acquire_lock("msg:race", 30) for number in range(20)))
        finally:
            for replica in replicas:
                await replica.close()

    tokens = asyncio.run(main())
    assert len([token for token in tokens if token is not None]) == 1


def test_recheck_context_survives_bot_restart(redis_url: str) -> None:
    record = run_record("run-restart", last_statuses={"receiver-flag": "fail", "remote-write": "ok"})

    async def save() -> None:
        store = open_store(state_settings(redis_url))
        try:
            await store.save_run(record, 3600)
        finally:
            await store.close()

    async def load() -> object:
        store = open_store(state_settings(redis_url))
        try:
            return await store.load_run("run-restart")
        finally:
            await store.close()

    asyncio.run(save())
    assert asyncio.run(load()) == record


def test_rejects_ttl_below_one_second(redis_url: str) -> None:
    async def main() -> None:
        store = connect_redis(state_settings(redis_url))
        try:
            with pytest.raises(ValueError, match="ttl_s must be at least 1"):
                await store.claim("event:zero", 0)
            with pytest.raises(ValueError, match="window_s must be at least 1"):
                await store.hit("user:U1", 1, 0)
        finally:
            await store.close()

    asyncio.run(main())
    assert scan_keys(redis_url) == {}


def test_unreachable_redis_raises_state_error() -> None:
    port = free_port()  # nothing listens here

    async def main() -> None:
        store = connect_redis(state_settings(f"redis://127.0.0.1:{port}/0"))
        try:
            with pytest.raises(StateError, match=f"Redis claim failed at redis://127.0.0.1:{port}/0: ConnectionError") as caught:
                await store.claim("event:Ev1", 60)
            assert caught.value.operation == "claim"
            assert caught.value.endpoint == f"redis://127.0.0.1:{port}/0"
            assert await store.ping() is False
        finally:
            await store.close()

    asyncio.run(main())


def test_silent_server_times_out() -> None:
    # A socket that accepts connections and never replies, like a Redis host stuck in a network partition.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]

        async def main() -> float:
            store = connect_redis(state_settings(f"redis://127.0.0.1:{port}/0", socket_timeout_s=0.3, connect_timeout_s=0.3))
            started = time.monotonic()
            try:
                with pytest.raises(StateError, match="TimeoutError"):
                    await store.save_run(run_record(), 60)
            finally:
                await store.close()
            return time.monotonic() - started

        elapsed = asyncio.run(main())

    # Two attempts (one retry) of 0.3 s each, with room for a slow machine.
    assert elapsed < 3.0


def test_password_protected_redis(tmp_path: Path) -> None:
    server = RedisProcess(tmp_path / "redis", password="s3cret-Pw").start()
    try:

        async def main() -> None:
            store = connect_redis(state_settings(server.url))
            try:
                assert await store.claim("event:auth", 60) is True
            finally:
                await store.close()

        asyncio.run(main())
    finally:
        server.stop()


def test_sentinel_url_reaches_master(tmp_path: Path, redis_url: str, redis_server: RedisProcess) -> None:
    sentinel = RedisProcess(tmp_path / "sentinel", sentinel_of=("127.0.0.1", redis_server.port)).start()
    try:
        url = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{sentinel.port}/mymaster/0"

        async def main() -> None:
            # The first Sentinel in the list is down; discovery moves on to the second.
            store = connect_redis(state_settings(url))
            try:
                assert store.endpoint == url
                assert await store.claim("event:via-sentinel", 60) is True
            finally:
                await store.close()

        asyncio.run(main())
    finally:
        sentinel.stop()

    assert f"{KEY_PREFIX}:claim:event:via-sentinel" in scan_keys(redis_url)
