"""The Bolt listeners: ``/otel``, mentions, incident-channel messages and the report buttons.

Each listener acknowledges at once and hands the work to a tracked task, so Slack gets its answer
within 3 seconds and shutdown can wait for the diagnoses still running. The task first claims the
request in the state store (``event:<event_id>``, ``command:<trigger_id>``, ``action:<trigger_id>``),
so a request that Slack retries, or delivers to two replicas sharing Redis, is handled once.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Protocol

from bot.app import Catalog
from bot.config import Settings
from bot.diagnosis import Candidate
from bot.errors import StateError
from bot.i18n import tr
from bot.logs import RUN_ID
from bot.metrics import ErrorKind, Metrics
from bot.playbooks.schema import Playbook
from bot.report.blocks import Message, escape, run_action_index
from bot.selection import Selection, extract_inputs, select_playbook
from bot.slack.access import AccessGuard
from bot.slack.channels import IncidentChannels
from bot.slack.client import SlackCallError, SlackClient
from bot.slack.commands import Request, Subcommand, parse_request, strip_mentions, unescape
from bot.slack.locale import LocaleResolver
from bot.slack.messages import did_you_mean, help_message, list_messages, notice, suggestion
from bot.slack.queries import NamedQueries
from bot.slack.runner import DiagnosisRunner, Origin, Outcome, input_problem
from bot.slack.tasks import TaskTracker
from bot.state import StateStore

__all__ = ["Handlers"]

logger = logging.getLogger(__name__)

# Slack's errors for a channel the bot cannot post in.
_CANNOT_POST = frozenset({"not_in_channel", "channel_not_found", "is_archived", "restricted_action"})
DID_YOU_MEAN_MAX = 3
EVENT_DEDUPE_S = 3600


class Reply(Protocol):
    """Where help, lists and notices go: the requester alone, or the thread."""

    async def send(self, messages: list[Message]) -> None: ...


class EphemeralReply:
    """Reply through the request's ``response_url``: only the requester sees it."""

    def __init__(self, respond: Callable[..., Awaitable[Any]] | None) -> None:
        self._respond = respond

    async def send(self, messages: list[Message]) -> None:
        if self._respond is None:
            logger.warning("cannot reply: the request carried no response_url")
            return
        for message in messages:
            try:
                await self._respond(text=message.text, blocks=message.blocks, response_type="ephemeral", replace_original=False)
            except Exception as exc:  # respond() raises aiohttp and ValueError alike; a lost notice must not end the task
                logger.warning("reply through response_url failed: %s: %s", type(exc).__name__, exc)


class ThreadReply:
    """Reply in a thread with ``chat.postMessage``."""

    def __init__(self, slack: SlackClient, channel: str, thread_ts: str) -> None:
        self._slack = slack
        self._channel = channel
        self._thread_ts = thread_ts

    async def send(self, messages: list[Message]) -> None:
        try:
            await self._slack.post_all(self._channel, messages, thread_ts=self._thread_ts)
        except SlackCallError as exc:
            logger.warning("reply in thread %s of channel %s failed: %s", self._thread_ts, self._channel, exc)


class Handlers:
    """Listener functions for the Bolt app, with the services they share."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        runner: DiagnosisRunner,
        store: StateStore,
        slack: SlackClient,
        locales: LocaleResolver,
        channels: IncidentChannels,
        queries: NamedQueries,
        tracker: TaskTracker,
        metrics: Metrics,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._runner = runner
        self._store = store
        self._slack = slack
        self._locales = locales
        self._channels = channels
        self._queries = queries
        self._tracker = tracker
        self._metrics = metrics
        # The Bolt global middleware that checks who may use the bot, where and how often.
        self.access = AccessGuard(settings, store=store, slack=slack, locales=locales, tracker=tracker)

    # Bolt listeners: acknowledge, then hand the work to a tracked task.

    async def on_command(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], respond: Any) -> None:
        missing = [name for name in ("user_id", "channel_id") if not body.get(name)]
        if missing:
            logger.warning("slash command without %s; replying with an error", ", ".join(missing))
            await ack(text=tr(self._settings.lang, "slack.invalid_request", fields=", ".join(missing)))
            return
        await ack()
        self._tracker.spawn(self._command(body, respond), name=f"command-{body['channel_id']}-{body['user_id']}")

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        self._tracker.spawn(self._mention(body, event), name=f"mention-{event.get('channel')}-{event.get('ts')}")

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], context: dict[str, Any]) -> None:
        if _is_human_message(event, bot_user_id=context.get("bot_user_id") or ""):
            self._tracker.spawn(self._incident(body, event), name=f"message-{event.get('channel')}-{event.get('ts')}")

    async def on_recheck(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        self._tracker.spawn(self._press(body, action, respond, self._recheck), name=f"recheck-{action.get('value')}")

    async def on_show_evidence(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        self._tracker.spawn(self._press(body, action, respond, self._show_evidence), name=f"evidence-{action.get('value')}")

    async def on_run_playbook(self, ack: Callable[..., Awaitable[None]], body: dict[str, Any], action: dict[str, Any], respond: Any) -> None:
        await ack()
        index = run_action_index(str(action.get("action_id") or ""))

        async def run_choice(run_id: str, user: str, lang: str) -> Outcome:
            return await self._runner.run_choice(run_id, index, user=user, lang=lang)

        self._tracker.spawn(self._press(body, action, respond, run_choice), name=f"run-{action.get('value')}")

    async def on_error(self, error: Exception, body: dict[str, Any]) -> None:
        """Log a listener error with the request's type; the body is not logged, as it contains a token."""
        kind = "unknown"
        if isinstance(body, dict):
            kind = body.get("type") or ("slash_command" if body.get("command") else "unknown")
        logger.error("unhandled error in a Slack listener (request type %s)", kind, exc_info=error)
        self._metrics.count_error(ErrorKind.LISTENER)

    # The work, after the acknowledgement.

    async def _command(self, body: dict[str, Any], respond: Any) -> None:
        user, channel = body["user_id"], body["channel_id"]
        trigger_id = body.get("trigger_id")
        if trigger_id and not await self._first_delivery(f"command:{trigger_id}"):
            return

        lang = await self._locales.lang_for(user)
        reply = EphemeralReply(respond)
        await self._guarded(self._serve(parse_request(body.get("text") or ""), Origin(channel, user), lang, reply), lang, reply)

    async def _mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        user, channel, ts = event.get("user"), event.get("channel"), event.get("ts")
        if not (user and channel and ts):
            logger.warning("app_mention event without user, channel or ts; ignoring it")
            return
        if not await self._first_event_delivery(body):
            return

        thread_ts = event.get("thread_ts") or ts
        lang = await self._locales.lang_for(user)
        reply = ThreadReply(self._slack, channel, thread_ts)
        await self._guarded(self._serve(parse_request(event.get("text") or ""), Origin(channel, user, thread_ts), lang, reply), lang, reply)

    async def _incident(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        channel, user, ts = event["channel"], event["user"], event["ts"]
        if not await self._channels.contains(channel) or not await self._first_event_delivery(body):
            return

        text = unescape(strip_mentions(event.get("text") or ""))
        selection = select_playbook(self._catalog, text, self._settings.matching)
        threshold = self._settings.slack.incident_threshold
        above = [candidate for candidate in selection.candidates if candidate.score >= threshold]
        if not above:
            logger.debug("message %s in incident channel %s matched no playbook above %.2f", ts, channel, threshold)
            return

        thread_ts = event.get("thread_ts") or ts
        offered = _close_candidates(selection, above, self._settings.matching.ambiguity_margin)
        fresh = [candidate for candidate in offered if await self._store.claim(f"suggest:{channel}:{thread_ts}:{candidate.playbook_id}", self._settings.state.retention_s)]
        if not fresh:
            logger.debug("playbooks %s were already suggested in thread %s", ",".join(item.playbook_id for item in offered), thread_ts)
            return

        lang = await self._locales.lang_for(user)
        origin = Origin(channel, user, thread_ts)
        reply = ThreadReply(self._slack, channel, thread_ts)
        logger.info("incident channel %s message %s matched %s (score %.2f)", channel, ts, fresh[0].playbook_id, fresh[0].score)
        if self._settings.slack.incident_mode == "auto" and len(fresh) == 1:
            playbook = self._catalog.playbooks.get(fresh[0].playbook_id)
            if playbook is not None:
                await self._guarded(self._start(origin, playbook, query=text, lang=lang, reply=reply, others=[]), lang, reply)
            return

        def render(choices: list) -> Message:
            return suggestion(lang, choices[0]) if len(choices) == 1 else did_you_mean(lang, text, choices)

        await self._guarded(self._runner.offer(origin, fresh, query=text, lang=lang, render=render), lang, reply)

    async def _press(self, body: dict[str, Any], action: dict[str, Any], respond: Any, work: Callable[[str, str, str], Awaitable[Outcome]]) -> None:
        user = (body.get("user") or {}).get("id") or ""
        run_id = str(action.get("value") or "")
        if not user:
            logger.warning("button press without a user id (action %s); ignoring it", action.get("action_id"))
            return
        press_id = body.get("trigger_id") or f"{user}:{action.get('action_ts') or ''}"
        if not await self._first_delivery(f"action:{press_id}"):
            return

        lang = await self._locales.lang_for(user)
        reply = EphemeralReply(respond)
        try:
            outcome = await work(run_id, user, lang)
        except StateError as exc:
            logger.warning("button %s for run %s failed: state store error: %s", action.get("action_id"), run_id, exc)
            await reply.send([notice(lang, "slack.state_unavailable")])
            return
        except SlackCallError as exc:
            logger.warning("button %s for run %s failed: %s", action.get("action_id"), run_id, exc)
            await reply.send([notice(lang, "slack.post_failed", error=escape(exc.error))])
            return
        if outcome is not Outcome.DONE:
            await reply.send([notice(lang, outcome.value)])

    async def _recheck(self, run_id: str, user: str, lang: str) -> Outcome:
        return await self._runner.recheck(run_id, user=user)

    async def _show_evidence(self, run_id: str, user: str, lang: str) -> Outcome:
        return await self._runner.show_evidence(run_id, user=user, lang=lang)

    # Requests in the /otel grammar.

    async def _serve(self, request: Request, origin: Origin, lang: str, reply: Reply) -> None:
        if request.subcommand is Subcommand.HELP:
            await reply.send([help_message(lang, problem=request.problem, blocked=self._catalog.blocked)])
        elif request.subcommand is Subcommand.LIST:
            await reply.send(list_messages(lang, self._catalog.playbooks))
        elif request.subcommand is Subcommand.QUERY:
            await reply.send(await self._queries.reply(request.query_name, request.service, lang))
        elif request.subcommand is Subcommand.CHECK:
            await self._check(request, origin, lang, reply)
        else:
            await self._why(request, origin, lang, reply)

    async def _check(self, request: Request, origin: Origin, lang: str, reply: Reply) -> None:
        playbook = self._catalog.playbooks.get(request.playbook_id)
        if playbook is None:
            await reply.send([notice(lang, "slack.unknown_playbook", id=escape(request.playbook_id))])
            return
        await self._start(origin, playbook, query=request.text, lang=lang, reply=reply, others=[])

    async def _why(self, request: Request, origin: Origin, lang: str, reply: Reply) -> None:
        selection = select_playbook(self._catalog, request.text, self._settings.matching)
        if selection.playbook is None:
            if request.implicit:
                await reply.send([help_message(lang, unknown=request.text)])
            else:
                await reply.send([notice(lang, "slack.no_match", query=escape(request.text))])
            return

        if selection.ambiguous:
            offered = _close_candidates(selection, selection.candidates, self._settings.matching.ambiguity_margin)
            await self._offer(origin, offered, query=request.text, lang=lang, reply=reply)
            return
        await self._start(origin, selection.playbook, query=request.text, lang=lang, reply=reply, others=selection.candidates[1:])

    async def _start(self, origin: Origin, playbook: Playbook, *, query: str, lang: str, reply: Reply, others: list[Candidate]) -> None:
        inputs = extract_inputs(query, playbook)
        problem = input_problem(playbook, inputs)
        if problem is not None:
            await reply.send([notice(lang, problem[0], **problem[1])])
            return
        await self._runner.start(origin, playbook, query=query, inputs=inputs, lang=lang, others=others)

    async def _offer(self, origin: Origin, candidates: list[Candidate], *, query: str, lang: str, reply: Reply) -> None:
        await self._runner.offer(origin, candidates, query=query, lang=lang, render=lambda choices: did_you_mean(lang, query, choices))

    async def _guarded(self, work: Awaitable[None], lang: str, reply: Reply) -> None:
        """Await ``work``; turn a Slack or state store failure into a log line and a notice to the requester."""
        try:
            await work
        except SlackCallError as exc:
            logger.warning("Slack request could not be answered (run %s): %s", RUN_ID.get(), exc)
            if exc.method == "chat.postMessage" and exc.error in _CANNOT_POST:
                await reply.send([notice(lang, "slack.not_in_channel")])
            else:
                await reply.send([notice(lang, "slack.post_failed", error=escape(exc.error))])
        except StateError as exc:
            logger.warning("Slack request could not be answered (run %s): state store error: %s", RUN_ID.get(), exc)
            await reply.send([notice(lang, "slack.state_unavailable")])

    async def _first_event_delivery(self, body: dict[str, Any]) -> bool:
        """Tell whether this event is new; Slack redelivers an event it thinks went unanswered."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        return await self._first_delivery(f"event:{event_id}")

    async def _first_delivery(self, name: str) -> bool:
        """Claim ``name`` in the state store; False when this or another replica already handled it."""
        try:
            first = await self._store.claim(name, EVENT_DEDUPE_S)
        except StateError as exc:
            logger.warning("could not record %s in the state store; handling it anyway: %s", name, exc)
            return True
        if not first:
            logger.info("%s was already handled (a Slack retry, or a delivery to another replica); ignoring it", name)
            self._metrics.duplicates.labels(kind=name.split(":", 1)[0]).inc()
        return first


def _is_human_message(event: dict[str, Any], *, bot_user_id: str) -> bool:
    """Tell a new message by a person from edits, bot posts, joins and the like, and from mentions of the bot."""
    if event.get("subtype") or event.get("bot_id") or event.get("edited"):
        return False
    user, text = event.get("user"), event.get("text") or ""
    if not user or not event.get("channel") or not event.get("ts") or not text.strip():
        return False
    if bot_user_id and (user == bot_user_id or f"<@{bot_user_id}>" in text):
        return False
    return True


def _close_candidates(selection: Selection, candidates: list[Candidate], margin: float) -> list[Candidate]:
    """Return the best candidate, or the top ones within ``margin`` of it when the match is ambiguous."""
    if not candidates:
        return []
    if not selection.ambiguous:
        return candidates[:1]
    best = candidates[0].score
    return [item for item in candidates if best - item.score <= margin][:DID_YOU_MEAN_MAX]
