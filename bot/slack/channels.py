"""Incident channels: configured channel ids, or name patterns such as ``inc-*``."""

from __future__ import annotations

import fnmatch
import logging
import re
import time
from typing import Callable

from bot.slack.cache import TTLCache
from bot.slack.client import SlackCallError, SlackClient

__all__ = ["IncidentChannels"]

logger = logging.getLogger(__name__)

# Public (C), private (G) and shared (C) channel ids; anything else in the list is a name pattern.
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")


class IncidentChannels:
    """Decide whether a channel is an incident channel; names come from ``conversations.info``, cached."""

    def __init__(self, entries: list[str], slack: SlackClient, *, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ids = {entry for entry in entries if _CHANNEL_ID.match(entry)}
        self._patterns = [entry.lstrip("#").lower() for entry in entries if not _CHANNEL_ID.match(entry)]
        self._slack = slack
        self._names: TTLCache[str] = TTLCache(ttl_s=ttl_s, max_entries=10_000, clock=clock)

    def describe(self) -> str:
        """Return the configured ids and patterns for the startup log."""
        shown = sorted(self._ids) + self._patterns
        return ", ".join(shown) if shown else "none"

    async def contains(self, channel: str) -> bool:
        """Tell whether ``channel`` (an id) is an incident channel."""
        if channel in self._ids:
            return True
        if not self._patterns:
            return False

        name = self._names.get(channel)
        if name is None:
            try:
                name = (await self._slack.channel_name(channel)).lower()
            except SlackCallError as exc:
                logger.warning("could not read the name of channel %s to match incident_channels; skipping it: %s", channel, exc)
                return False
            self._names.put(channel, name)
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self._patterns)
