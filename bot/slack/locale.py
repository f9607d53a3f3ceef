"""The language of a reply: the requesting user's Slack locale when it is Korean or English."""

from __future__ import annotations

import logging
import time
from typing import Callable

from bot.slack.cache import TTLCache
from bot.slack.client import SlackCallError, SlackClient

__all__ = ["LocaleResolver", "lang_from_locale"]

logger = logging.getLogger(__name__)


def lang_from_locale(locale: str, default: str) -> str:
    """Map a Slack locale such as ``ko-KR`` or ``en-US`` to ``ko`` or ``en``; ``default`` for others."""
    prefix = locale.strip().lower()[:2]
    return prefix if prefix in ("ko", "en") else default


class LocaleResolver:
    """Find a user's reply language with ``users.info``. Results are cached for ``ttl_s`` seconds."""

    def __init__(self, slack: SlackClient, *, default: str, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._slack = slack
        self._default = default
        self._cache: TTLCache[str] = TTLCache(ttl_s=ttl_s, max_entries=10_000, clock=clock)

    async def lang_for(self, user: str) -> str:
        """Return ``ko`` or ``en`` for ``user``, or the default when Slack returns no Korean or English locale."""
        cached = self._cache.get(user)
        if cached is not None:
            return cached

        try:
            locale = await self._slack.user_locale(user)
        except SlackCallError as exc:
            logger.warning("could not read the locale of user %s; replying in %s: %s", user, self._default, exc)
            return self._default

        lang = lang_from_locale(locale, self._default)
        self._cache.put(user, lang)
        return lang
