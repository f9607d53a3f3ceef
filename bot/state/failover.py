"""Keep the bot working when Redis is down: serve state from an in-process store until Redis is back.

While degraded, every operation goes to the fallback store, so idempotency and locks cover this
replica only and run records last only as long as the process. A background ping checks the
primary at most every ``probe_interval_s`` seconds and switches back when the ping succeeds. One
WARNING is logged per ``warning_interval_s`` while degraded, however many operations fail, and
``on_failure`` is called for every failed operation or ping, so a metric can count them all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Awaitable, Callable, TypeVar

from bot.errors import StateError
from bot.state.base import RunRecord, StateStore

__all__ = ["FailoverStore", "is_degraded"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class FailoverStore:
    """A primary store (Redis) that falls back to a secondary store (memory) while it fails.

    The primary signals failure by raising ``StateError``; other exceptions are bugs and propagate.
    """

    def __init__(
        self,
        primary: StateStore,
        fallback: StateStore,
        *,
        primary_name: str = "Redis",
        probe_interval_s: float = 5.0,
        warning_interval_s: float = 60.0,
        on_failure: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._primary_name = primary_name
        self._probe_interval_s = probe_interval_s
        self._warning_interval_s = warning_interval_s
        self._on_failure = on_failure
        self._clock = clock

        self._degraded_since: float | None = None
        self._last_error = ""
        self._last_warning_at: float | None = None
        self._failures_since_warning = 0
        self._failed_probes = 0
        self._next_probe_at = 0.0
        self._probe_task: asyncio.Task[None] | None = None

    @property
    def degraded(self) -> bool:
        """True while operations go to the fallback store because the primary failed."""
        return self._degraded_since is not None

    @property
    def failed_probes(self) -> int:
        """Pings of the primary that failed during the current outage."""
        return self._failed_probes

    async def claim(self, name: str, ttl_s: int) -> bool:
        return await self._call(lambda store: store.claim(name, ttl_s))

    async def save_run(self, record: RunRecord, ttl_s: int) -> None:
        await self._call(lambda store: store.save_run(record, ttl_s))

    async def load_run(self, run_id: str) -> RunRecord | None:
        record = await self._call(lambda store: store.load_run(run_id))
        if record is not None or self.degraded:
            return record

        # A run that started during an outage was saved in memory only; keep its Recheck working.
        return await self._fallback.load_run(run_id)

    async def acquire_lock(self, name: str, ttl_s: int) -> str | None:
        return await self._call(lambda store: store.acquire_lock(name, ttl_s))

    async def release_lock(self, name: str, token: str) -> None:
        await self._call(lambda store: store.release_lock(name, token))
        if not self.degraded:
            # The lock may have been taken in memory before Redis came back; release is token-checked.
            await self._fallback.release_lock(name, token)

    async def hit(self, name: str, limit: int, window_s: int) -> bool:
        return await self._call(lambda store: store.hit(name, limit, window_s))

    async def append_history(self, thread: str, entry: dict[str, Any], *, max_entries: int, ttl_s: int) -> None:
        await self._call(
            lambda store: store.append_history(thread, entry, max_entries=max_entries, ttl_s=ttl_s)
        )

    async def history(self, thread: str) -> list[dict[str, Any]]:
        entries = await self._call(lambda store: store.history(thread))
        if entries or self.degraded:
            return entries
        return await self._fallback.history(thread)

    async def ping(self) -> bool:
        """Ping the primary when healthy and fail over if the ping fails; return True, because the fallback is always up."""
        if self.degraded:
            self._schedule_probe()
            return True

        if not await self._primary.ping():
            self._enter_degraded(f"{self._primary_name} did not respond to ping")
        return True

    async def close(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe_task
        await self._primary.close()
        await self._fallback.close()

    async def _call(self, run: Callable[[StateStore], Awaitable[T]]) -> T:
        """Run one operation on the primary, or on the fallback while the primary fails."""
        if self.degraded:
            self._schedule_probe()
            return await run(self._fallback)

        try:
            return await run(self._primary)
        except StateError as exc:
            self._enter_degraded(str(exc))

        return await run(self._fallback)

    def _enter_degraded(self, reason: str) -> None:
        self._count_failure()
        now = self._clock()
        self._last_error = reason
        if self._degraded_since is None:
            self._degraded_since = now
            self._failed_probes = 0
            self._next_probe_at = now + self._probe_interval_s
        self._warn(now, reason)

    def _schedule_probe(self) -> None:
        """Start one background ping when the last one is done and the interval has passed."""
        now = self._clock()
        if now < self._next_probe_at:
            return
        if self._probe_task is not None and not self._probe_task.done():
            return

        self._next_probe_at = now + self._probe_interval_s
        self._probe_task = asyncio.get_running_loop().create_task(self._probe(), name="otelbot-state-probe")

    async def _probe(self) -> None:
        try:
            answered = await self._primary.ping()
        except Exception:  # the task's top level: nothing awaits it to see the exception
            logger.exception("ping of %s raised instead of returning False; still using in-process memory", self._primary_name)
            answered = False

        if answered:
            self._recover()
            return

        self._failed_probes += 1
        self._count_failure()
        self._warn(self._clock(), f"{self._primary_name} still does not respond to ping; the outage began with: {self._last_error}")

    def _count_failure(self) -> None:
        if self._on_failure is None:
            return
        try:
            self._on_failure()
        except Exception:  # a failing metric must not turn a Redis outage into a failed request
            logger.exception("the on_failure callback of the state store raised; ignoring it")

    def _recover(self) -> None:
        if self._degraded_since is None:
            return
        outage_s = self._clock() - self._degraded_since
        self._degraded_since = None
        logger.info(
            "state store recovered: %s responds to ping again after %.0fs; switching back to it. "
            "Run records saved in memory during the outage stay on this replica only",
            self._primary_name,
            outage_s,
        )

    def _warn(self, now: float, reason: str) -> None:
        """Log the degraded state at most once per warning interval, and count the failures it leaves out."""
        self._failures_since_warning += 1
        if self._last_warning_at is not None and now - self._last_warning_at < self._warning_interval_s:
            return

        logger.warning(
            "state store degraded: %s. Serving state from in-process memory: rechecks may not survive a restart, "
            "and duplicate Slack events and locks are detected on this replica only. "
            "Check that Redis is up; it is pinged every %.0fs (failures since the previous warning: %d)",
            reason.rstrip("."),
            self._probe_interval_s,
            self._failures_since_warning,
        )
        self._last_warning_at = now
        self._failures_since_warning = 0


def is_degraded(store: StateStore) -> bool:
    """Return ``store.degraded``; kept for callers written before ``degraded`` joined ``StateStore``."""
    return store.degraded
