"""State the bot keeps between requests. The only package that imports ``redis``."""

from bot.state.base import KEY_PREFIX, SCHEMA_VERSION, RunRecord, StateStore, key
from bot.state.factory import open_store
from bot.state.failover import FailoverStore, is_degraded
from bot.state.memory import MemoryStore
from bot.state.redis import RedisStore, connect_redis

__all__ = [
    "KEY_PREFIX",
    "SCHEMA_VERSION",
    "FailoverStore",
    "MemoryStore",
    "RedisStore",
    "RunRecord",
    "StateStore",
    "connect_redis",
    "is_degraded",
    "key",
    "open_store",
]
