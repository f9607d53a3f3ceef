"""Update a report message in place as checks finish, at most once per interval."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Callable

from bot.diagnosis import Finding
from bot.report.blocks import Message
from bot.slack.client import SlackCallError, SlackClient

__all__ = ["ProgressMessage"]

logger = logging.getLogger(__name__)


class ProgressMessage:
    """The running view of one report message.

    ``note`` never waits for Slack, so a slow ``chat.update`` cannot hold back the checks. Findings
    that arrive within ``interval_s`` of the last update are sent together in the next one.
    ``close`` drops a pending update, or waits for one already sent so that it cannot land after
    the final report.
    """

    def __init__(
        self,
        slack: SlackClient,
        *,
        channel: str,
        ts: str,
        render: Callable[[dict[str, Finding]], Message],
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._channel = channel
        self._ts = ts
        self._render = render
        self._interval_s = interval_s
        self._clock = clock
        self._done: dict[str, Finding] = {}
        self._last_update = clock()
        self._task: asyncio.Task[None] | None = None
        self._sending = False

    async def show(self) -> None:
        """Replace the message with the running view now (the start of a Recheck)."""
        await self._send()

    async def note(self, finding: Finding) -> None:
        """Record a finished check and schedule an update unless one is pending."""
        self._done[finding.check_id] = finding
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._update_later(), name=f"progress-{self._ts}")

    async def close(self) -> None:
        task = self._task
        if task is None or task.done():
            return
        if self._sending:
            await asyncio.wait({task}, timeout=30)
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _update_later(self) -> None:
        delay = self._last_update + self._interval_s - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._send()

    async def _send(self) -> None:
        self._sending = True
        try:
            await self._slack.update(self._channel, self._ts, self._render(dict(self._done)))
        except SlackCallError as exc:
            logger.warning("progress update of message %s in %s failed; the final report will still be sent: %s", self._ts, self._channel, exc)
        finally:
            self._last_update = self._clock()
            self._sending = False
