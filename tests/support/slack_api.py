"""A local Slack Web API for tests: it records every call and responds the way Slack does.

It listens on 127.0.0.1 only and serves, in its own thread and event loop:

- ``/api/<method>``: ``auth.test``, ``chat.postMessage``, ``chat.update``, ``chat.postEphemeral``,
  ``users.info`` (with ``user.locale``), ``conversations.info`` (with the channel name, and
  ``is_im`` for ``D`` ids), ``usergroups.users.list`` and ``apps.connections.open``.
  Messages whose blocks break a Block Kit limit get ``invalid_blocks``, as from Slack, judged by
  slack_sdk's block models. ``rate_limit`` makes the next calls of a method get HTTP 429 with
  ``Retry-After``, as Slack responds to a client over its rate limit.
- ``/respond/<tag>``: a ``response_url`` target, recorded as method ``response_url``.
- ``/socket``: a Socket Mode WebSocket that greets with ``hello``, sends the envelopes a test
  queues with ``send_envelope`` and records each acknowledgement as method ``socket_ack``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web
from slack_sdk.models.blocks import Block

from tests.support.prometheus import free_port

__all__ = ["Call", "MockSlackAPI"]

T = TypeVar("T")

BOT_USER_ID = "U0BOT"
TEAM_ID = "T0TEST"
MAX_BLOCKS = 50


@dataclass(frozen=True)
class Call:
    """One recorded request: the API method (or ``response_url``, ``socket_ack``) and its arguments."""

    method: str
    args: dict[str, Any]
    authorized: bool = True
    answer: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    at: float = field(default_factory=time.monotonic)
    """``time.monotonic()`` when the mock received the call."""

    @property
    def blocks(self) -> list[dict[str, Any]]:
        blocks = self.args.get("blocks") or []
        return json.loads(blocks) if isinstance(blocks, str) else list(blocks)

    @property
    def text(self) -> str:
        """The fallback text and every text in the blocks, joined, for assertions on wording."""
        parts = [str(self.args.get("text") or "")]
        parts.extend(_texts(self.blocks))
        return "\n".join(parts)

    def action_ids(self) -> list[str]:
        return [element["action_id"] for block in self.blocks if block.get("type") == "actions" for element in block["elements"]]

    def button_value(self, action_id: str) -> str:
        return next(element["value"] for block in self.blocks if block.get("type") == "actions" for element in block["elements"] if element["action_id"] == action_id)


class MockSlackAPI:
    """The mock server; ``start()`` it, point ``slack.api_url`` at ``url``, and read ``calls()``."""

    def __init__(
        self,
        *,
        users: dict[str, str] | None = None,
        channels: dict[str, str] | None = None,
        not_in: set[str] | None = None,
        usergroups: dict[str, list[str]] | None = None,
    ) -> None:
        self.users = dict(users or {})
        self.channels = dict(channels or {})
        self.not_in = set(not_in or ())
        self.usergroups = {group: list(members) for group, members in (usergroups or {}).items()}
        self.port = free_port()
        self._calls: list[Call] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._envelopes = itertools.count(1)
        self._rate_limits: dict[str, tuple[int, int]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    def response_url(self, tag: str) -> str:
        return f"http://127.0.0.1:{self.port}/respond/{tag}"

    def start(self) -> "MockSlackAPI":
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="mock-slack-api", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=10):
            raise RuntimeError("mock Slack API did not start within 10s")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=10)

    def rate_limit(self, method: str, *, times: int, retry_after_s: int = 1) -> None:
        """Respond to the next ``times`` calls of ``method`` with HTTP 429, ``Retry-After: retry_after_s`` and ``ratelimited``."""
        with self._lock:
            self._rate_limits[method] = (times, retry_after_s)

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if method is None or call.method == method]

    def wait_for(self, find: Callable[[list[Call]], T | None], *, what: str, timeout_s: float = 30.0) -> T:
        """Poll the recorded calls until ``find`` returns something; fail naming ``what`` after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = find(self.calls())
            if found:
                return found
            time.sleep(0.05)
        methods = [call.method for call in self.calls()]
        raise AssertionError(f"timed out after {timeout_s}s waiting for {what}; calls so far: {methods}")

    def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Send a Socket Mode envelope (``slash_commands``, ``events_api``, ``interactive``) to every client."""
        envelope_id = f"env-{next(self._envelopes)}"
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload, "accepts_response_payload": kind != "events_api"}
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._broadcast(message), self._loop).result(timeout=10)
        return envelope_id

    def socket_clients(self) -> int:
        return len(self._sockets)

    # Server side, on the mock's own event loop.

    def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/respond/{tag}", self._respond)
        app.router.add_get("/socket", self._socket)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _broadcast(self, message: dict[str, Any]) -> None:
        for socket in list(self._sockets):
            await socket.send_json(message)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = dict(request.query)
        if request.can_read_body:
            raw = await request.read()
            if request.content_type == "application/json":
                args.update(json.loads(raw or b"{}"))
            else:
                args.update(dict(parse_qsl(raw.decode())))
        authorized = request.headers.get("Authorization", "").startswith("Bearer x")

        with self._lock:
            left, retry_after_s = self._rate_limits.get(method, (0, 0))
            if left > 0:
                self._rate_limits[method] = (left - 1, retry_after_s)
                answer = {"ok": False, "error": "ratelimited"}
                self._calls.append(Call(method, args, authorized, answer, status=429))
        if left > 0:
            return web.json_response(answer, status=429, headers={"Retry-After": str(retry_after_s)})

        answer = self._answer(method, args) if authorized else {"ok": False, "error": "not_authed"}
        with self._lock:
            self._calls.append(Call(method, args, authorized, answer))
        return web.json_response(answer)

    async def _respond(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self._calls.append(Call("response_url", {**body, "tag": request.match_info["tag"]}))
        return web.Response(text="ok")

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        self._sockets.append(socket)
        await socket.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A0APP"}})
        try:
            async for message in socket:
                if message.type is WSMsgType.TEXT:
                    with self._lock:
                        self._calls.append(Call("socket_ack", json.loads(message.data)))
        finally:
            self._sockets.remove(socket)
        return socket

    def _answer(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "url": "https://test.slack.com/", "team": "test", "user": "otelbot", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": "B0BOT"}
        if method == "apps.connections.open":
            return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
        if method in ("chat.postMessage", "chat.update"):
            return self._message(method, args)
        if method == "chat.postEphemeral":
            if str(args.get("channel") or "") in self.not_in:
                return {"ok": False, "error": "not_in_channel"}
            return {"ok": True, "message_ts": f"1700000000.{next(self._ts):06d}"}
        if method == "usergroups.users.list":
            members = self.usergroups.get(str(args.get("usergroup")))
            if members is None:
                return {"ok": False, "error": "no_such_subteam"}
            return {"ok": True, "users": members}
        if method == "users.info":
            locale = self.users.get(str(args.get("user")))
            if locale is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": {"id": args["user"], "name": args["user"].lower(), "locale": locale}}
        if method == "conversations.info":
            name = self.channels.get(str(args.get("channel")))
            if name is None:
                return {"ok": False, "error": "channel_not_found"}
            direct = str(args["channel"]).startswith("D")
            is_mpim = name.startswith("mpdm-")
            found = {"id": args["channel"], "name": name, "is_channel": not (direct or is_mpim), "is_im": direct, "is_mpim": is_mpim}
            return {"ok": True, "channel": found}
        return {"ok": False, "error": "unknown_method"}

    def _message(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel") or "")
        if channel in self.not_in:
            return {"ok": False, "error": "not_in_channel"}
        if not args.get("text") and not args.get("blocks"):
            return {"ok": False, "error": "no_text"}
        problems = _block_problems(Call(method, args).blocks)
        if problems:
            return {"ok": False, "error": "invalid_blocks", "errors": problems}
        ts = str(args["ts"]) if method == "chat.update" else f"1700000000.{next(self._ts):06d}"
        return {"ok": True, "channel": channel, "ts": ts, "message": {"ts": ts, "text": args.get("text")}}


def _block_problems(blocks: list[dict[str, Any]]) -> list[str]:
    """Return what Slack would reject: too many blocks, a block that fails its schema, a repeated id.

    slack_sdk's validators check one block at a time, so the uniqueness Slack requires (block ids
    within a message, action ids within a block) is checked here.
    """
    problems = [f"{len(blocks)} blocks exceed {MAX_BLOCKS}"] if len(blocks) > MAX_BLOCKS else []
    for number, block in enumerate(blocks):
        try:
            Block.parse(block).validate_json()
        except Exception as exc:  # slack_sdk raises SlackObjectFormationError and friends
            problems.append(f"block {number}: {exc}")
        action_ids = [element["action_id"] for element in block.get("elements") or [] if isinstance(element, dict) and "action_id" in element]
        problems.extend(f"block {number}: action_id {repeated!r} is not unique in the block" for repeated in _repeated(action_ids))
    block_ids = [block["block_id"] for block in blocks if "block_id" in block]
    problems.extend(f"block_id {repeated!r} is not unique in the message" for repeated in _repeated(block_ids))
    return problems


def _repeated(values: list[str]) -> list[str]:
    return sorted({value for value in values if values.count(value) > 1})


def _texts(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["text"]] if isinstance(node.get("text"), str) else []
        for value in node.values():
            if isinstance(value, (dict, list)):
                found.extend(_texts(value))
        return found
    if isinstance(node, list):
        return [text for item in node for text in _texts(item)]
    return []
