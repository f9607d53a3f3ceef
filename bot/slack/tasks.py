"""Background work started after Slack's request is acknowledged, tracked so shutdown can wait for it."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Coroutine

__all__ = ["TaskTracker"]

logger = logging.getLogger(__name__)


class TaskTracker:
    """Run coroutines as tasks, log any exception they end with, and wait for them on shutdown."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

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

    async def drain(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for the running tasks, then cancel those still running."""
        pending = set(self._tasks)
        if not pending:
            return
        logger.info("waiting up to %.0fs for %d running task(s)", timeout_s, len(pending))
        _, still_running = await asyncio.wait(pending, timeout=timeout_s)
        for task in still_running:
            logger.warning("cancelling task %s: still running after %.0fs of shutdown", task.get_name(), timeout_s)
            task.cancel()
        if still_running:
            await asyncio.wait(still_running, timeout=5)
