"""Background work started after Slack's request is acknowledged, tracked so shutdown can wait for it."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Coroutine

from bot.metrics import ErrorKind, Metrics

__all__ = ["TaskTracker"]

logger = logging.getLogger(__name__)

CANCEL_WAIT_S = 5.0


class TaskTracker:
    """Run coroutines as tasks, log any exception they end with, and wait for them on shutdown."""

    def __init__(self, *, metrics: Metrics | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._metrics = metrics

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            logger.error("background task %s failed", task.get_name(), exc_info=error)
            if self._metrics is not None:
                self._metrics.count_error(ErrorKind.TASK)

    async def drain(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the running tasks, then cancel those still running.

        Tasks spawned while draining (by a request that was already being handled) are waited
        for too. Returns True when every task finished on its own.
        """
        if not self._tasks:
            return True

        logger.info("waiting up to %.0fs for %d running task(s)", timeout_s, len(self._tasks))
        deadline = time.monotonic() + timeout_s
        while self._tasks:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=left_s)

        still_running = set(self._tasks)
        for task in still_running:
            logger.warning("cancelling task %s: still running after %.0fs of shutdown", task.get_name(), timeout_s)
            task.cancel()
        if still_running:
            await asyncio.wait(still_running, timeout=CANCEL_WAIT_S)
        return not still_running
