"""State the bot keeps between requests. The only package that imports ``redis``."""

from bot.state.base import KEY_PREFIX, SCHEMA_VERSION, RunRecord, StateStore, key
from bot.state.memory import MemoryStore

__all__ = ["KEY_PREFIX", "SCHEMA_VERSION", "MemoryStore", "RunRecord", "StateStore", "key"]
