"""The state a bot replica keeps, and the interface every store implements.

Values are JSON with a schema version, keys are namespaced and versioned (``otelbot:v1:...``),
and every key has a TTL, so nothing the bot stores lives forever.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

__all__ = ["KEY_PREFIX", "SCHEMA_VERSION", "RunRecord", "StateStore", "key"]

SCHEMA_VERSION = 1
KEY_PREFIX = "otelbot:v1"


def key(*parts: str) -> str:
    """Build a namespaced key, e.g. ``otelbot:v1:run:abc123``."""
    return ":".join((KEY_PREFIX, *parts))


@dataclass
class RunRecord:
    """Everything a Recheck needs: what ran, where its message is, and the last results.

    ``choices`` are the playbooks the message offers with Run buttons, in button order. An
    ``offer`` is a message that only offers them (Did you mean, an incident suggestion): the
    report of the chosen one replaces it. A report's other choices post a report of their own.
    """

    run_id: str
    playbook_id: str
    query: str
    inputs: dict[str, str]
    namespace: str
    lang: str
    requester: str
    channel: str
    message_ts: str = ""
    thread_ts: str = ""
    last_statuses: dict[str, str] = field(default_factory=dict)
    last_verdict: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    rechecks: int = 0
    choices: list[str] = field(default_factory=list)
    offer: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "RunRecord":
        """Rebuild a record; raises ValueError for another schema version."""
        if data.get("schema") != SCHEMA_VERSION:
            raise ValueError(f"run record schema {data.get('schema')!r} is not {SCHEMA_VERSION}")
        fields = {name: value for name, value in data.items() if name != "schema"}
        return cls(**fields)


class StateStore(Protocol):
    """State operations the Slack app uses, whichever store keeps the data."""

    @property
    def degraded(self) -> bool:
        """True while the store serves a fallback because its primary failed: what is written now is seen by
        this replica only and lost when it restarts."""

    async def claim(self, name: str, ttl_s: int) -> bool:
        """Return True the first time ``name`` is claimed within ``ttl_s`` (idempotency, dedupe)."""

    async def save_run(self, record: RunRecord, ttl_s: int) -> None:
        """Store or replace a run record."""

    async def load_run(self, run_id: str) -> RunRecord | None:
        """Return the run record, or None when it is unknown or expired."""

    async def acquire_lock(self, name: str, ttl_s: int) -> str | None:
        """Take a lock; return its token, or None when someone else holds it."""

    async def release_lock(self, name: str, token: str) -> None:
        """Release a lock if ``token`` still owns it."""

    async def hit(self, name: str, limit: int, window_s: int) -> bool:
        """Count one event; return True when ``name`` is over ``limit`` events in the window."""

    async def append_history(self, thread: str, entry: dict[str, Any], *, max_entries: int, ttl_s: int) -> None:
        """Add an entry to a thread's history, keeping the newest ``max_entries``."""

    async def history(self, thread: str) -> list[dict[str, Any]]:
        """Return a thread's history, oldest first."""

    async def ping(self) -> bool:
        """Tell whether the store responds."""

    async def close(self) -> None:
        """Release connections."""
