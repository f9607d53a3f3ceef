"""Choose the state store from settings: memory for one replica, Redis with failover for several."""

from __future__ import annotations

import logging
from typing import Callable

from bot.config import StateSettings
from bot.state.base import StateStore
from bot.state.failover import FailoverStore
from bot.state.memory import MemoryStore
from bot.state.redis import connect_redis

__all__ = ["open_store"]

logger = logging.getLogger(__name__)


def open_store(settings: StateSettings, *, on_failure: Callable[[], None] | None = None, zdict: bytes = b"") -> StateStore:
    """Build the state store; the caller closes it.

    Without ``redis_url`` the store is in-process memory, right for one replica or local use.
    With it, the store is Redis, falling back to memory while Redis is unreachable, and
    ``on_failure`` is called for every failed Redis operation or ping. Nothing connects here; call
    ``ping()`` to check Redis at startup. ``zdict`` is the in-process store's compression
    dictionary. Raises ConfigError for an invalid URL.
    """
    if settings.redis_url is None or not settings.redis_url.get_secret_value().strip():
        logger.info("state store: in-process memory, because state.redis_url is unset; run one replica only")
        return MemoryStore(zdict=zdict)

    redis_store = connect_redis(settings)
    logger.info("state store: Redis at %s, with in-process memory while Redis is unreachable", redis_store.endpoint)
    return FailoverStore(
        redis_store,
        MemoryStore(zdict=zdict),
        primary_name=f"Redis at {redis_store.endpoint}",
        probe_interval_s=settings.probe_interval_s,
        on_failure=on_failure,
    )
