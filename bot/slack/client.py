"""The Web API calls the bot makes, behind one small class, and the client built from settings.

Slack errors become ``SlackCallError`` with the method, the channel and Slack's error code
(``not_in_channel``, ``invalid_blocks``, ``ratelimited``, ...), so callers can decide per code and
log something a person can act on. The client retries a call that Slack rate-limited (HTTP 429)
after the Retry-After that Slack sent, a bounded number of times, and logs each retry.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import AsyncConnectionErrorRetryHandler, AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackSettings
from bot.metrics import ErrorKind, Metrics
from bot.report.blocks import Message

__all__ = ["DEFAULT_API_URL", "RateLimitRetryHandler", "SlackCallError", "SlackClient", "build_web_client"]

logger = logging.getLogger(__name__)

DEFAULT_API_URL = "https://slack.com/api/"
# Slack sends Retry-After on every 429; this is the wait when a proxy drops the header.
DEFAULT_RETRY_AFTER_S = 1.0


class SlackCallError(Exception):
    """A Web API call that failed: Slack returned ``ok: false``, or the request did not complete."""

    def __init__(self, method: str, error: str, *, channel: str = "") -> None:
        self.method = method
        self.error = error
        self.channel = channel
        where = f" in channel {channel}" if channel else ""
        super().__init__(f"{method}{where} failed: {error}")


class RateLimitRetryHandler(AsyncRateLimitErrorRetryHandler):
    """Retry a rate-limited call (HTTP 429) after the Retry-After that Slack sent.

    Unlike slack_sdk's handler it gives up at once when Retry-After exceeds ``max_wait_s``, so
    one call cannot hold a diagnosis for minutes, and it logs every retry.
    """

    def __init__(self, *, max_retry_count: int, max_wait_s: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait_s = max_wait_s

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: Optional[HttpResponse] = None,
        error: Optional[Exception] = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False

        wait_s = _retry_after_s(response)
        if wait_s > self.max_wait_s:
            logger.warning(
                "Slack rate-limited %s with Retry-After %.0fs, above slack.api_rate_limit_max_wait_s=%.0fs; not retrying",
                _method(request), wait_s, self.max_wait_s,
            )
            return False
        return True

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: Optional[HttpResponse] = None,
        error: Optional[Exception] = None,
    ) -> None:
        wait_s = _retry_after_s(response) if response is not None else DEFAULT_RETRY_AFTER_S
        logger.warning(
            "attempt %d/%d failed; will retry after %.1fs (Retry-After): %s: HTTP 429 ratelimited",
            state.current_attempt + 1, self.max_retry_count + 1, wait_s, _method(request),
        )

        state.next_attempt_requested = True
        await asyncio.sleep(wait_s)
        state.increment_current_attempt()


def _retry_after_s(response: HttpResponse) -> float:
    for name, values in response.headers.items():
        if name.lower() != "retry-after":
            continue
        try:
            return max(float(values[0]), 0.0)
        except (IndexError, ValueError):
            break
    return DEFAULT_RETRY_AFTER_S


def _method(request: HttpRequest) -> str:
    """Return the Web API method of a request, such as ``chat.postMessage`` (the URL contains no token)."""
    return request.url.rstrip("/").rsplit("/", 1)[-1]


def build_web_client(settings: SlackSettings) -> AsyncWebClient:
    """Build the Web API client: the bot token, ``api_url`` (a proxy or a mock), the timeout, the retries and the connection pool.

    Call it on the running event loop, and close ``client.session`` when done. Without a session of
    its own, slack_sdk opens a new connection, and a TLS handshake with Slack, for every call.
    """
    base_url = settings.api_url or DEFAULT_API_URL
    if not base_url.endswith("/"):
        base_url += "/"
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    retry_handlers: list[AsyncRetryHandler] = [
        RateLimitRetryHandler(max_retry_count=settings.api_rate_limit_retries, max_wait_s=settings.api_rate_limit_max_wait_s),
        # One retry, as slack_sdk does by default: Slack may have posted before the connection broke,
        # so more retries risk duplicate messages.
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
    ]
    timeout_s = int(max(settings.request_timeout_s, 1))
    # A bounded pool: a burst of reports queues for a connection instead of opening one per call,
    # and the idle connections it keeps, each with its buffers, stay few (bench/memory.py).
    connector = aiohttp.TCPConnector(limit=settings.api_max_connections)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s), connector=connector)
    return AsyncWebClient(token=token, base_url=base_url, timeout=timeout_s, retry_handlers=retry_handlers, session=session)


class SlackClient:
    """Post, update and look up through the Web API; every failure is a ``SlackCallError``."""

    def __init__(self, web: AsyncWebClient, *, metrics: Metrics | None = None) -> None:
        self.web = web
        self._metrics = metrics

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
        channel = str(arguments.get("channel") or "")
        try:
            response = await call(**arguments)
        except SlackApiError as exc:
            self._count_error()
            raise SlackCallError(method, str(exc.response.get("error") or exc.response.status_code), channel=channel) from exc
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            self._count_error()
            raise SlackCallError(method, f"request failed: {type(exc).__name__}: {exc}", channel=channel) from exc
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _count_error(self) -> None:
        if self._metrics is not None:
            self._metrics.count_error(ErrorKind.SLACK_API)
