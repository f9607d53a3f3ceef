"""The in-process store: the default for one replica or local use, and the fallback when Redis is down.

Run records and history entries are kept as zlib-compressed JSON, as Redis keeps them as JSON.
The state of one diagnosis then takes about 4 kB instead of about 18 kB of Python objects
(tracemalloc over 300 ``/otel why no spanmetrics`` diagnoses on the sandbox), and a caller never
shares a mutable object with the store. A preset dictionary of the text the values repeat, such as
playbook and check titles, shrinks them further: a report's evidence goes from about 2.0 to 1.0 kB.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import zlib
from collections import OrderedDict
from typing import Any, Callable

from bot.state.base import RunRecord, key

__all__ = ["MemoryStore"]

# Expired entries are dropped when read, and by a sweep on the first write after this many
# seconds, so keys that are never read again (rate-limit windows, claims) do not stay until
# max_keys pushes out older run records. A sweep of 100,000 entries took 8 to 15 ms on a
# 2-core AMD EPYC with Python 3.11.
SWEEP_INTERVAL_S = 60.0
# With the preset dictionary, a report's evidence JSON of 6 kB compresses to 1.0 kB in 0.13 ms at
# level 9, and to 1.2 kB in 0.05 ms at level 1 (2-core AMD EPYC, Python 3.11).
_COMPRESSION_LEVEL = 9
# zlib looks back at most 32 KiB, so only the end of a longer preset dictionary is used.
_ZDICT_MAX = 32 * 1024


def _record_skeleton() -> bytes:
    """Return an empty run record as stored, for the preset dictionary.

    With every field name in the dictionary, a stored record takes about 200 bytes instead of 300.
    """
    empty = RunRecord(run_id="", playbook_id="", query="", inputs={}, namespace="", lang="", requester="", channel="")
    return json.dumps(empty.to_json(), separators=(",", ":")).encode("utf-8")


class _Codec:
    """JSON values to zlib-compressed bytes and back, with a preset dictionary."""

    def __init__(self, zdict: bytes = b"") -> None:
        self._zdict = (zdict + _record_skeleton())[-_ZDICT_MAX:]

    def pack(self, value: Any) -> bytes:
        data = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        compressor = zlib.compressobj(_COMPRESSION_LEVEL, zdict=self._zdict)
        return compressor.compress(data) + compressor.flush()

    def unpack(self, data: bytes) -> Any:
        decompressor = zlib.decompressobj(zdict=self._zdict)
        return json.loads(decompressor.decompress(data) + decompressor.flush())


class MemoryStore:
    """State in a dictionary with expiry times; bounded to ``max_keys`` entries (oldest dropped).

    NOTE: the bound counts keys, not bytes. A diagnosis keeps two keys for the retention period
    (its run record and its thread's history) and adds about 4.1 kB to the process
    (bench/memory.py), so 100,000 keys can reach roughly 200 MB before the oldest are dropped.
    """

    def __init__(self, *, max_keys: int = 100_000, zdict: bytes = b"", clock: Callable[[], float] = time.monotonic) -> None:
        """``zdict`` is a zlib preset dictionary: text the stored values are likely to contain."""
        self._values: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._codec = _Codec(zdict)
        self._max_keys = max_keys
        self._clock = clock
        self._lock = asyncio.Lock()
        self._next_sweep = clock() + SWEEP_INTERVAL_S

    @property
    def degraded(self) -> bool:
        """Always False: memory is this store's normal mode, not a fallback."""
        return False

    def _get(self, name: str) -> Any:
        entry = self._values.get(name)
        if entry is None:
            return None
        expires, value = entry
        if expires <= self._clock():
            del self._values[name]
            return None
        return value

    def _set(self, name: str, value: Any, ttl_s: float) -> None:
        now = self._clock()
        if now >= self._next_sweep:
            self._sweep(now)

        self._values[name] = (now + ttl_s, value)
        self._values.move_to_end(name)
        while len(self._values) > self._max_keys:
            self._values.popitem(last=False)

    def _sweep(self, now: float) -> None:
        expired = [name for name, (expires, _) in self._values.items() if expires <= now]
        for name in expired:
            del self._values[name]
        self._next_sweep = now + SWEEP_INTERVAL_S

    def ttl(self, name: str) -> float | None:
        """Return the seconds left before ``name`` expires, or None if absent (for tests)."""
        entry = self._values.get(name)
        return None if entry is None else entry[0] - self._clock()

    async def claim(self, name: str, ttl_s: int) -> bool:
        async with self._lock:
            full = key("claim", name)
            if self._get(full) is not None:
                return False
            self._set(full, 1, ttl_s)
            return True

    async def save_run(self, record: RunRecord, ttl_s: int) -> None:
        async with self._lock:
            self._set(key("run", record.run_id), self._codec.pack(record.to_json()), ttl_s)

    async def load_run(self, run_id: str) -> RunRecord | None:
        async with self._lock:
            data = self._get(key("run", run_id))
        return RunRecord.from_json(self._codec.unpack(data)) if data else None

    async def acquire_lock(self, name: str, ttl_s: int) -> str | None:
        async with self._lock:
            full = key("lock", name)
            if self._get(full) is not None:
                return None
            token = secrets.token_hex(8)
            self._set(full, token, ttl_s)
            return token

    async def release_lock(self, name: str, token: str) -> None:
        async with self._lock:
            full = key("lock", name)
            if self._get(full) == token:
                del self._values[full]

    async def hit(self, name: str, limit: int, window_s: int) -> bool:
        async with self._lock:
            bucket = int(self._clock() // window_s)
            full = key("rate", name, str(bucket))
            count = (self._get(full) or 0) + 1
            self._set(full, count, window_s)
            return count > limit

    async def append_history(self, thread: str, entry: dict[str, Any], *, max_entries: int, ttl_s: int) -> None:
        async with self._lock:
            full = key("history", thread)
            entries = list(self._get(full) or [])
            entries.append(self._codec.pack(entry))
            self._set(full, entries[-max_entries:], ttl_s)

    async def history(self, thread: str) -> list[dict[str, Any]]:
        async with self._lock:
            packed = list(self._get(key("history", thread)) or [])
        return [self._codec.unpack(entry) for entry in packed]

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        return None
