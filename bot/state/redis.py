"""The Redis store: state shared by every replica, through redis-py's asyncio client.

Each operation is one atomic Redis command, script or MULTI transaction, so two replicas never
see half of another's write. Every key written gets a TTL in the same command or transaction.
Redis errors become ``StateError`` with the password scrubbed from the message.
"""

from __future__ import annotations

import json
import logging
import secrets
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.config import StateSettings
from bot.errors import ConfigError, StateError
from bot.state.base import SCHEMA_VERSION, RunRecord, key
from bot.state.redis_url import RedisTarget, parse_redis_url

__all__ = ["RedisStore", "connect_redis"]

logger = logging.getLogger(__name__)

# Delete the lock only while it still holds the caller's token, so a holder whose lock expired
# cannot release a lock that another replica has taken since.
RELEASE_LOCK_SCRIPT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""

# Count one event in a fixed window that starts at the first event. The PTTL check also repairs a
# counter that somehow lost its TTL, so no rate key can live forever.
HIT_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
"""

LOCK_TOKEN_BYTES = 16


class RedisStore:
    """State in one Redis database, shared by every replica that uses the same URL.

    Raises ``StateError`` when Redis is unreachable, times out or rejects a command, and
    ``ValueError`` for a TTL, limit or window below 1, which Redis would reject as well.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        endpoint: str,
        secret_values: tuple[str, ...] = (),
        sentinel: Sentinel | None = None,
    ) -> None:
        self._client = client
        self._endpoint = endpoint
        self._secret_values = tuple(value for value in secret_values if value)
        self._sentinel = sentinel
        self._release_lock_script = client.register_script(RELEASE_LOCK_SCRIPT)
        self._hit_script = client.register_script(HIT_SCRIPT)

    @property
    def degraded(self) -> bool:
        """Always False: a failing Redis raises StateError instead of serving from elsewhere."""
        return False

    @property
    def endpoint(self) -> str:
        """The Redis URL without credentials, for logs."""
        return self._endpoint

    async def claim(self, name: str, ttl_s: int) -> bool:
        _require_positive(ttl_s=ttl_s)
        async with self._errors("claim"):
            created = await self._client.set(key("claim", name), "1", nx=True, ex=ttl_s)
        return bool(created)

    async def save_run(self, record: RunRecord, ttl_s: int) -> None:
        _require_positive(ttl_s=ttl_s)
        payload = json.dumps(record.to_json(), separators=(",", ":"))
        async with self._errors("save_run"):
            await self._client.set(key("run", record.run_id), payload, ex=ttl_s)

    async def load_run(self, run_id: str) -> RunRecord | None:
        async with self._errors("load_run"):
            payload = await self._client.get(key("run", run_id))
        if payload is None:
            return None

        try:
            return RunRecord.from_json(json.loads(payload))
        except (ValueError, TypeError) as exc:
            logger.warning("run record %s in Redis at %s is unreadable; treating it as expired: %s", run_id, self._endpoint, exc)
            return None

    async def acquire_lock(self, name: str, ttl_s: int) -> str | None:
        _require_positive(ttl_s=ttl_s)
        token = secrets.token_hex(LOCK_TOKEN_BYTES)
        async with self._errors("acquire_lock"):
            acquired = await self._client.set(key("lock", name), token, nx=True, px=ttl_s * 1000)
        return token if acquired else None

    async def release_lock(self, name: str, token: str) -> None:
        async with self._errors("release_lock"):
            await self._release_lock_script(keys=[key("lock", name)], args=[token])

    async def hit(self, name: str, limit: int, window_s: int) -> bool:
        _require_positive(window_s=window_s)
        async with self._errors("hit"):
            count = await self._hit_script(keys=[key("rate", name)], args=[window_s])
        return int(count) > limit

    async def append_history(self, thread: str, entry: dict[str, Any], *, max_entries: int, ttl_s: int) -> None:
        _require_positive(max_entries=max_entries, ttl_s=ttl_s)
        full = key("history", thread)
        payload = json.dumps({"schema": SCHEMA_VERSION, "entry": entry}, separators=(",", ":"))

        async with self._errors("append_history"):
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(full, payload)
                pipe.ltrim(full, -max_entries, -1)
                pipe.expire(full, ttl_s)
                await pipe.execute()

    async def history(self, thread: str) -> list[dict[str, Any]]:
        async with self._errors("history"):
            payloads = await self._client.lrange(key("history", thread), 0, -1)

        entries: list[dict[str, Any]] = []
        unreadable = 0
        for payload in payloads:
            try:
                data = json.loads(payload)
            except ValueError:
                unreadable += 1
                continue
            if not isinstance(data, dict) or data.get("schema") != SCHEMA_VERSION or not isinstance(data.get("entry"), dict):
                unreadable += 1
                continue
            entries.append(data["entry"])

        if unreadable:
            logger.warning("skipped %d unreadable history entries of thread %s in Redis at %s", unreadable, thread, self._endpoint)
        return entries

    async def ping(self) -> bool:
        try:
            async with self._errors("ping"):
                await self._client.ping()
        except StateError as exc:
            logger.debug("%s", exc)
            return False
        return True

    async def close(self) -> None:
        await self._client.aclose()
        if self._sentinel is not None:
            await self._sentinel.aclose()

    @asynccontextmanager
    async def _errors(self, operation: str) -> AsyncIterator[None]:
        """Convert redis-py and socket errors to StateError, without the password in the text."""
        try:
            yield
        except (RedisError, OSError) as exc:
            detail = self._scrub(str(exc)) or "no detail"
            message = f"Redis {operation} failed at {self._endpoint}: {type(exc).__name__}: {detail}"
            raise StateError(message, operation=operation, endpoint=self._endpoint) from exc

    def _scrub(self, text: str) -> str:
        for value in self._secret_values:
            text = text.replace(value, "***")
        return text


def connect_redis(settings: StateSettings) -> RedisStore:
    """Build a Redis store from settings; it connects on its first command, not here.

    Raises ConfigError when ``redis_url`` is unset or invalid.
    """
    if settings.redis_url is None or not settings.redis_url.get_secret_value().strip():
        raise ConfigError("state.redis_url is not set; set OTELBOT_STATE__REDIS_URL or use the in-process store")
    target = parse_redis_url(settings.redis_url.get_secret_value().strip())

    # One immediate retry replaces a pooled connection that Redis closed (after a restart, say)
    # without counting as an outage. redis-py's default of 3 retries with backoff would hold a
    # request for seconds before the failover store could fall back to memory.
    connection: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        "retry": Retry(NoBackoff(), 1),
        "decode_responses": True,
    }
    secret_values = target.secret_values()
    if settings.sentinel_password is not None:
        secret_values += (settings.sentinel_password.get_secret_value(),)

    if target.sentinel:
        sentinel, client = _sentinel_client(target, settings, connection)
        return RedisStore(client, endpoint=target.redacted(), secret_values=secret_values, sentinel=sentinel)

    client = aioredis.Redis.from_url(target.url.get_secret_value(), **connection)
    return RedisStore(client, endpoint=target.redacted(), secret_values=secret_values)


def _sentinel_client(target: RedisTarget, settings: StateSettings, connection: dict[str, Any]) -> tuple[Sentinel, aioredis.Redis]:
    """Build the Sentinel manager and a client that follows the master of ``target.service_name``."""
    sentinel_options: dict[str, Any] = {
        "socket_timeout": settings.socket_timeout_s,
        "socket_connect_timeout": settings.connect_timeout_s,
        "decode_responses": True,
    }
    if settings.sentinel_password is not None:
        sentinel_options["password"] = settings.sentinel_password.get_secret_value()

    master_options = dict(connection, db=target.db)
    if target.username is not None:
        master_options["username"] = target.username
    if target.password is not None:
        master_options["password"] = target.password.get_secret_value()

    sentinel = Sentinel(list(target.hosts), sentinel_kwargs=sentinel_options, **master_options)
    assert target.service_name is not None  # parse_redis_url requires it for redis+sentinel://
    return sentinel, sentinel.master_for(target.service_name)


def _require_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}: every Redis key needs a TTL and a bound")
