"""Who may use the bot, where and how often: a Bolt global middleware in front of every listener.

``AccessGuard.middleware`` runs before any listener, on every request, and

1. cleans the text a person typed (``/otel`` text, mention and message text) in the request
   body with ``clean_request_text``, so no listener, log line, report or stored record sees
   control characters, more than ``matching.max_text_chars`` characters or a pasted credential;
2. checks a slash command, a mention or a button press, in this order: direct messages
   (``access.serve_dms``), the channel (``access.allowed_channels``), the user
   (``access.allowed_users`` and ``access.allowed_usergroups``), the per-user and per-channel
   rate limits, and for a report button that its run belongs to this channel. The first check
   that fails gets a polite ephemeral reply in the user's language, and no listener runs;
3. drops a channel message (the incident-channel listener's input) from a channel or user that
   is not allowed, without a reply, because nobody asked the bot anything.

Empty allow-lists allow every channel and every user. Direct messages (and group DMs) are
refused unless ``access.serve_dms`` is true, and then ``allowed_channels`` does not apply to them.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import re
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Awaitable, Callable

import aiohttp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot.config import Settings
from bot.errors import StateError
from bot.i18n import tr
from bot.report.blocks import ACTION_RECHECK, ACTION_SHOW_EVIDENCE, RUN_ACTION_PATTERN
from bot.selection import clean_request_text
from bot.slack.cache import TTLCache
from bot.slack.client import SlackClient
from bot.slack.locale import LocaleResolver
from bot.slack.runner import RUN_ID_PATTERN
from bot.slack.tasks import TaskTracker
from bot.state import StateStore

__all__ = ["AccessGuard", "Refusal", "RequestKind", "SlackRequest", "describe_request"]

logger = logging.getLogger(__name__)

RATE_WINDOW_S = 60
# Public (C) and private (G) channel ids. Any other entry of allowed_channels is a name pattern.
_CHANNEL_ID = re.compile(r"^[CG][A-Z0-9]{6,}$")
_RUN_ACTIONS = frozenset({ACTION_RECHECK, ACTION_SHOW_EVIDENCE})


def _names_run(action_id: str) -> bool:
    """Return True for the buttons whose value is a run id: Recheck, Show evidence and every Run button."""
    return action_id in _RUN_ACTIONS or RUN_ACTION_PATTERN.match(action_id) is not None


class RequestKind(StrEnum):
    """The kind of a Slack request, as far as access is concerned."""

    COMMAND = "slash command"
    MENTION = "mention"
    MESSAGE = "channel message"
    ACTION = "button press"
    OTHER = "other request"


class Refusal(StrEnum):
    """The reason a request was refused. Each value is the catalog key of the reply."""

    DIRECT_MESSAGE = "security.refused.direct_message"
    CHANNEL = "security.refused.channel"
    USER = "security.refused.user"
    USER_RATE = "security.rate_limited.user"
    CHANNEL_RATE = "security.rate_limited.channel"
    FOREIGN_RUN = "security.foreign_button"


@dataclass(frozen=True)
class SlackRequest:
    """The sender and channel of a request, and the run ids its report buttons carry."""

    kind: RequestKind
    user: str = ""
    channel: str = ""
    direct: bool = False
    thread_ts: str = ""
    run_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class _ChannelInfo:
    name: str
    direct: bool


def describe_request(body: dict[str, Any]) -> SlackRequest:
    """Read the kind, user, channel and button run ids of a request body (HTTP or Socket Mode).

    ``direct`` is what the payload itself shows: a ``D`` channel id, the channel name
    ``directmessage`` or ``mpdm-...``, or an event's ``channel_type`` ``im`` or ``mpim``.
    """
    if body.get("command"):
        channel = str(body.get("channel_id") or "")
        direct = _is_direct(channel, name=str(body.get("channel_name") or ""))
        return SlackRequest(RequestKind.COMMAND, str(body.get("user_id") or ""), channel, direct)

    if body.get("type") == "block_actions":
        channel_block = body.get("channel") or {}
        channel = str(channel_block.get("id") or (body.get("container") or {}).get("channel_id") or "")
        run_ids = tuple(
            str(action.get("value"))
            for action in body.get("actions") or []
            if _names_run(str(action.get("action_id") or "")) and RUN_ID_PATTERN.match(str(action.get("value") or ""))
        )
        user = str((body.get("user") or {}).get("id") or "")
        direct = _is_direct(channel, name=str(channel_block.get("name") or ""))
        return SlackRequest(RequestKind.ACTION, user, channel, direct, run_ids=run_ids)

    event = body.get("event") if body.get("type") == "event_callback" else None
    if isinstance(event, dict) and event.get("type") in ("app_mention", "message"):
        kind = RequestKind.MENTION if event["type"] == "app_mention" else RequestKind.MESSAGE
        channel = str(event.get("channel") or "")
        direct = _is_direct(channel, channel_type=str(event.get("channel_type") or ""))
        return SlackRequest(kind, str(event.get("user") or ""), channel, direct, thread_ts=str(event.get("thread_ts") or ""))

    return SlackRequest(RequestKind.OTHER)


def _is_direct(channel: str, *, name: str = "", channel_type: str = "") -> bool:
    return channel.startswith("D") or name == "directmessage" or name.startswith("mpdm-") or channel_type in ("im", "mpim")


class AccessGuard:
    """The access middleware and the look-ups it needs: channel names and user group members, cached."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: StateStore,
        slack: SlackClient,
        locales: LocaleResolver,
        tracker: TaskTracker,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        access = settings.access
        self._access = access
        self._max_text_chars = settings.matching.max_text_chars
        self._store = store
        self._web = slack.web
        self._locales = locales
        self._tracker = tracker
        self._channel_ids = {entry for entry in access.allowed_channels if _CHANNEL_ID.match(entry)}
        self._channel_patterns = [entry.lstrip("#").lower() for entry in access.allowed_channels if not _CHANNEL_ID.match(entry)]
        self._users = set(access.allowed_users)
        self._usergroups = list(access.allowed_usergroups)
        self._channels: TTLCache[_ChannelInfo] = TTLCache(ttl_s=settings.slack.channel_cache_s, max_entries=10_000, clock=clock)
        self._members: TTLCache[frozenset[str]] = TTLCache(ttl_s=access.usergroup_cache_s, max_entries=1_000, clock=clock)
        logger.info("access: %s", self.describe())

    def describe(self) -> str:
        """Return the access settings in one line for the startup log."""
        access = self._access
        channels = ", ".join(access.allowed_channels) or "all"
        users = ", ".join(access.allowed_users + access.allowed_usergroups) or "all"
        return (
            f"channels={channels} users={users} serve_dms={access.serve_dms} "
            f"rate_limit_user_per_minute={access.rate_limit_user_per_minute} "
            f"rate_limit_channel_per_minute={access.rate_limit_channel_per_minute}"
        )

    async def middleware(self, body: dict[str, Any], respond: Any, next_: Callable[[], Awaitable[None]]) -> BoltResponse | None:
        """Clean the request's text, then pass the request on to the listeners or refuse it."""
        self._clean_text(body)
        request = describe_request(body)
        if request.kind is RequestKind.OTHER or not request.user or not request.channel:
            await next_()
            return None

        refusal = await self.check(request)
        if refusal is None:
            await next_()
            return None

        logger.info("rejected a %s from user %s in channel %s: %s", request.kind, request.user, request.channel, refusal.name.lower())
        if request.kind is RequestKind.MESSAGE:
            return BoltResponse(status=200, body="")
        lang = await self._locales.lang_for(request.user)
        text = tr(lang, refusal.value, limit=self._limit_of(refusal))
        return self._reply(request, text, respond)

    async def check(self, request: SlackRequest) -> Refusal | None:
        """Return the reason ``request`` is refused, or None when it may go on to the listeners.

        A channel message is only checked for its channel and user, because rate limits and run
        ids apply to requests a person makes of the bot.
        """
        refusal = await self._channel_refusal(request)
        if refusal is None and not await self._user_allowed(request.user):
            refusal = Refusal.USER
        if refusal is not None or request.kind is RequestKind.MESSAGE:
            return refusal

        refusal = await self._rate_refusal(request)
        if refusal is None and await self._names_foreign_run(request):
            refusal = Refusal.FOREIGN_RUN
        return refusal

    # The checks.

    async def _channel_refusal(self, request: SlackRequest) -> Refusal | None:
        restricted = bool(self._channel_ids or self._channel_patterns)
        info: _ChannelInfo | None = None
        direct = request.direct
        if not direct and restricted and request.channel not in self._channel_ids and self._channel_patterns:
            info = await self._channel_info(request.channel)
            direct = info.direct

        if direct:
            return None if self._access.serve_dms else Refusal.DIRECT_MESSAGE
        if not restricted or request.channel in self._channel_ids:
            return None
        if info is not None and info.name and any(fnmatch.fnmatchcase(info.name, pattern) for pattern in self._channel_patterns):
            return None
        return Refusal.CHANNEL

    async def _user_allowed(self, user: str) -> bool:
        if not self._users and not self._usergroups:
            return True
        if user in self._users:
            return True
        for usergroup in self._usergroups:
            if user in await self._members_of(usergroup):
                return True
        return False

    async def _rate_refusal(self, request: SlackRequest) -> Refusal | None:
        limits = (
            (Refusal.USER_RATE, f"user:{request.user}", self._access.rate_limit_user_per_minute),
            (Refusal.CHANNEL_RATE, f"channel:{request.channel}", self._access.rate_limit_channel_per_minute),
        )
        for refusal, name, limit in limits:
            if limit <= 0:
                continue
            try:
                over = await self._store.hit(name, limit, RATE_WINDOW_S)
            except StateError as exc:
                # NOTE: a store error lets the request through. Rate limits guard the cluster's
                # load, and the bot cannot run diagnoses without its store anyway.
                logger.warning("could not count a request against rate limit %s; letting it through: %s", name, exc)
                continue
            if over:
                return refusal
        return None

    async def _names_foreign_run(self, request: SlackRequest) -> bool:
        """Tell whether a button carries the run id of a report in another channel.

        An unknown or expired run id passes here; the runner then replies that the button expired.
        """
        for run_id in request.run_ids:
            try:
                record = await self._store.load_run(run_id)
            except StateError as exc:
                logger.warning("could not load run %s to check the channel of its button; the runner will retry: %s", run_id, exc)
                continue
            if record is not None and record.channel != request.channel:
                logger.warning("button for run %s of channel %s was pressed in channel %s", run_id, record.channel, request.channel)
                return True
        return False

    # Look-ups through the Web API, cached.

    async def _channel_info(self, channel: str) -> _ChannelInfo:
        cached = self._channels.get(channel)
        if cached is not None:
            return cached

        try:
            response = await self._web.conversations_info(channel=channel)
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("could not read channel %s with conversations.info to match access.allowed_channels; refusing: %s", channel, _reason(exc))
            return _ChannelInfo(name="", direct=False)

        found = response.get("channel") or {}
        info = _ChannelInfo(name=str(found.get("name") or "").lower(), direct=bool(found.get("is_im") or found.get("is_mpim")))
        self._channels.put(channel, info)
        return info

    async def _members_of(self, usergroup: str) -> frozenset[str]:
        cached = self._members.get(usergroup)
        if cached is not None:
            return cached

        try:
            response = await self._web.usergroups_users_list(usergroup=usergroup)
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("could not read the members of user group %s with usergroups.users.list; treating it as empty: %s", usergroup, _reason(exc))
            return frozenset()

        members = frozenset(str(user) for user in response.get("users") or [])
        self._members.put(usergroup, members)
        return members

    # Text and replies.

    def _clean_text(self, body: dict[str, Any]) -> None:
        """Clean every text a person typed, in place, so the listeners only ever see the cleaned text."""
        if body.get("command") and isinstance(body.get("text"), str):
            body["text"] = clean_request_text(body["text"], max_chars=self._max_text_chars)
        event = body.get("event")
        if not isinstance(event, dict):
            return
        for holder in (event, event.get("message")):
            if isinstance(holder, dict) and isinstance(holder.get("text"), str):
                holder["text"] = clean_request_text(holder["text"], max_chars=self._max_text_chars)

    def _limit_of(self, refusal: Refusal) -> int:
        if refusal is Refusal.CHANNEL_RATE:
            return self._access.rate_limit_channel_per_minute
        return self._access.rate_limit_user_per_minute

    def _reply(self, request: SlackRequest, text: str, respond: Any) -> BoltResponse:
        """Send the refusal so that only the request's sender sees it.

        A slash command gets it as its acknowledgement, a button press through its
        ``response_url``, and a mention with ``chat.postEphemeral`` in the mention's thread.
        """
        if request.kind is RequestKind.COMMAND:
            return BoltResponse(status=200, body={"response_type": "ephemeral", "text": text})
        if request.kind is RequestKind.ACTION and respond is not None:
            self._tracker.spawn(self._respond(respond, text), name=f"refusal-{request.channel}-{request.user}")
        elif request.kind is RequestKind.MENTION:
            self._tracker.spawn(self._post_ephemeral(request, text), name=f"refusal-{request.channel}-{request.user}")
        return BoltResponse(status=200, body="")

    async def _respond(self, respond: Any, text: str) -> None:
        try:
            await respond(text=text, response_type="ephemeral", replace_original=False)
        except Exception as exc:  # respond() raises aiohttp and ValueError alike; a lost refusal must not end the task
            logger.warning("refusal through response_url failed: %s: %s", type(exc).__name__, exc)

    async def _post_ephemeral(self, request: SlackRequest, text: str) -> None:
        arguments: dict[str, Any] = {"channel": request.channel, "user": request.user, "text": text}
        if request.thread_ts:
            arguments["thread_ts"] = request.thread_ts
        try:
            await self._web.chat_postEphemeral(**arguments)
        except (SlackApiError, aiohttp.ClientError, asyncio.TimeoutError) as exc:
            logger.warning("refusal with chat.postEphemeral in channel %s failed: %s", request.channel, _reason(exc))


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    return f"{type(exc).__name__}: {exc}"
