"""The Web API calls the bot makes, behind one small class, and the client built from settings.

Slack errors become ``SlackCallError`` with the method and Slack's error code (``not_in_channel``,
``invalid_blocks``, ...), so callers can decide per code and log something a person can act on.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackSettings
from bot.report.blocks import Message

__all__ = ["DEFAULT_API_URL", "SlackCallError", "SlackClient", "build_web_client"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"


class SlackCallError(Exception):
    """A Web API call that failed: Slack returned ``ok: false``, or the request did not complete."""

    def __init__(self, method: str, error: str) -> None:
        self.method = method
        self.error = error
        super().__init__(f"{method} failed: {error}")


def build_web_client(settings: SlackSettings) -> AsyncWebClient:
    """Build the Web API client: the bot token, ``api_url`` (a proxy or a mock) and the timeout."""
    base_url = settings.api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    return AsyncWebClient(token=token, base_url=base_url, timeout=int(max(settings.request_timeout_s, 1)))


class SlackClient:
    """Post, update and look up through the Web API; every failure is a ``SlackCallError``."""

    def __init__(self, web: AsyncWebClient) -> None:
        self.web = web

    async def post(self, channel: str, message: Message, *, thread_ts: str = "") -> str:
        """Post ``message`` (in the thread ``thread_ts`` when given) and return its ts."""
        response = await self._call(
            "chat.postMessage", channel=channel, text=message.text, blocks=message.blocks, thread_ts=thread_ts or None,
            unfurl_links=False, unfurl_media=False,
        )
        return str(response["ts"])

    async def update(self, channel: str, ts: str, message: Message) -> None:
        await self._call("chat.update", channel=channel, ts=ts, text=message.text, blocks=message.blocks)

    async def post_all(self, channel: str, messages: list[Message], *, thread_ts: str) -> None:
        """Post ``messages`` in order in one thread."""
        for message in messages:
            await self.post(channel, message, thread_ts=thread_ts)

    async def user_locale(self, user: str) -> str:
        """Return the user's Slack locale such as ``ko-KR``, or ``""`` when Slack has none."""
        response = await self._call("users.info", user=user, include_locale=True)
        return str((response.get("user") or {}).get("locale") or "")

    async def channel_name(self, channel: str) -> str:
        response = await self._call("conversations.info", channel=channel)
        return str((response.get("channel") or {}).get("name") or "")

    async def _call(self, method: str, **arguments: Any) -> dict[str, Any]:
        call = {
            "chat.postMessage": self.web.chat_postMessage,
            "chat.update": self.web.chat_update,
            "users.info": self.web.users_info,
            "conversations.info": self.web.conversations_info,
        }[method]
        arguments = {name: value for name, value in arguments.items() if value is not None}
        try:
            response = await call(**arguments)
        except SlackApiError as exc:
            raise SlackCallError(method, str(exc.response.get("error") or exc.response.status_code)) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise SlackCallError(method, f"request failed: {type(exc).__name__}: {exc}") from exc
        return dict(response.data) if isinstance(response.data, dict) else {}
