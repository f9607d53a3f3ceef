"""Run the Slack app: the HTTP server (health, metrics, and Slack requests in HTTP mode) and Socket Mode.

``serve`` is the composition root of ``otelbot serve``. It builds every service and the metrics
registry from settings, starts them and waits for SIGTERM or SIGINT (or ``stop`` in tests). Then
it stops taking Slack requests (HTTP mode returns 503 to them, Socket Mode disconnects), waits
up to ``slack.shutdown_timeout_s`` for running diagnoses, and closes the connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp

from bot.app import Catalog, Runtime, load_catalog, open_runtime, review_access
from bot.config import Settings
from bot.errors import ConfigError, StateError
from bot.metrics import ErrorKind, Metrics
from bot.report.blocks import evidence_dictionary
from bot.slack.app import COMMAND, build_app
from bot.slack.channels import IncidentChannels
from bot.slack.client import SlackClient, build_web_client
from bot.slack.handlers import Handlers
from bot.slack.locale import LocaleResolver
from bot.slack.queries import NamedQueries
from bot.slack.runner import DiagnosisRunner
from bot.slack.tasks import TaskTracker
from bot.state import StateStore, open_store

__all__ = ["EVENTS_PATH", "SlackService", "check_credentials", "serve"]

logger = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
READY_PROBE_TIMEOUT_S = 2.0
# How long aiohttp waits for HTTP handlers still running once the diagnoses have drained.
HTTP_SHUTDOWN_TIMEOUT_S = 5.0
# Slack's library loggers print request payloads at DEBUG; payloads hold a verification token.
_QUIET_LOGGERS = ("slack_bolt", "slack_sdk")


def check_credentials(settings: Settings) -> None:
    """Raise ConfigError naming each credential the chosen mode needs but lacks."""
    slack = settings.slack
    missing = []
    if slack.bot_token is None:
        missing.append("SLACK_BOT_TOKEN (bot token, xoxb-)")
    if slack.mode == "socket" and slack.app_token is None:
        missing.append("SLACK_APP_TOKEN (app-level token with connections:write, xapp-)")
    if slack.mode == "http" and slack.signing_secret is None:
        missing.append("SLACK_SIGNING_SECRET (signing secret from Basic Information)")
    if missing:
        raise ConfigError(f"slack.mode={slack.mode} needs " + ", ".join(missing) + "; see docs/slack-app.md")


class TimedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, recording how long each request took to acknowledge."""

    def __init__(self, app: AsyncApp, app_token: str, *, web_client: Any, metrics: Metrics) -> None:
        super().__init__(app, app_token, web_client=web_client)
        self._metrics = metrics

    async def handle(self, client: Any, req: Any) -> None:
        started = time.perf_counter()
        await super().handle(client, req)
        self._metrics.slack_ack.observe(time.perf_counter() - started)


class SlackService:
    """The running Slack app of one replica."""

    def __init__(self, settings: Settings, *, catalog: Catalog, runtime: Runtime, store: StateStore, metrics: Metrics) -> None:
        self._settings = settings
        self._catalog = catalog
        self._store = store
        self._metrics = metrics
        self._tracker = TaskTracker(metrics=metrics)
        self._web_client = build_web_client(settings.slack)
        slack = SlackClient(self._web_client, metrics=metrics)
        runner = DiagnosisRunner(settings=settings, catalog=catalog, runtime=runtime, store=store, slack=slack, metrics=metrics)
        self._channels = IncidentChannels(settings.slack.incident_channels, slack, ttl_s=settings.slack.channel_cache_s)
        handlers = Handlers(
            settings=settings,
            catalog=catalog,
            runner=runner,
            store=store,
            slack=slack,
            locales=LocaleResolver(slack, default=settings.lang, ttl_s=settings.slack.locale_cache_s),
            channels=self._channels,
            queries=NamedQueries(settings, runtime),
            tracker=self._tracker,
            metrics=metrics,
        )
        self._app = build_app(settings.slack, client=self._web_client, handlers=handlers)
        self._http_runner: web.AppRunner | None = None
        self._socket: TimedSocketModeHandler | None = None
        self._stopping = False

    async def start(self) -> None:
        """Start the HTTP server, then connect Socket Mode when that is the mode."""
        slack = self._settings.slack
        self._http_runner = web.AppRunner(self._web_app(), access_log=None, shutdown_timeout=HTTP_SHUTDOWN_TIMEOUT_S)
        await self._http_runner.setup()
        await web.TCPSite(self._http_runner, slack.host, slack.port).start()

        if slack.mode == "socket":
            token = slack.app_token.get_secret_value() if slack.app_token else ""
            self._socket = TimedSocketModeHandler(self._app, token, web_client=self._web_client, metrics=self._metrics)
            try:
                await asyncio.wait_for(self._socket.connect_async(), timeout=slack.connect_timeout_s)
            except asyncio.TimeoutError as exc:
                await self.stop()
                raise ConfigError(
                    f"Socket Mode did not connect within {slack.connect_timeout_s:g}s; check SLACK_APP_TOKEN and that "
                    "Socket Mode is enabled for the app"
                ) from exc

        playbooks = ", ".join(self._catalog.playbooks.ids())
        logger.info(
            "otelbot Slack app started: mode=%s command=%s http=%s:%d incident_channels=%s incident_mode=%s playbooks=%d (%s)",
            slack.mode, COMMAND, slack.host, slack.port, self._channels.describe(), slack.incident_mode,
            len(self._catalog.playbooks), playbooks,
        )

    async def stop(self) -> None:
        """Stop taking Slack requests, wait for running diagnoses, then close connections.

        The HTTP server keeps serving ``/healthz``, ``/readyz`` (503 from now on) and ``/metrics``
        while the diagnoses drain. Slack requests get 503: Slack retries an event, which then reaches
        another replica, but not a command or a button press.
        """
        self._stopping = True
        timeout_s = self._settings.slack.shutdown_timeout_s
        logger.info("otelbot Slack app stopping: rejecting new Slack requests")
        if self._socket is not None:
            await self._socket.close_async()
            self._socket = None

        drained = await self._tracker.drain(timeout_s)

        if self._http_runner is not None:
            await self._http_runner.cleanup()
            self._http_runner = None
        if self._web_client.session is not None:
            await self._web_client.session.close()
        if drained:
            logger.info("otelbot Slack app stopped")
        else:
            logger.warning("otelbot Slack app stopped; tasks still running after %.0fs were cancelled (slack.shutdown_timeout_s)", timeout_s)

    def _web_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        if self._settings.slack.mode == "http":
            app.router.add_post(EVENTS_PATH, self._events)
        return app

    async def _events(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        if self._stopping:
            logger.info("rejected a Slack request to %s with 503: shutting down", EVENTS_PATH)
            return web.json_response({"error": "shutting down"}, status=503)

        try:
            bolt_request = await to_bolt_request(request)
        except (ValueError, UnicodeDecodeError) as exc:
            logger.warning("rejected a request to %s: the body is not valid JSON or form data (%s)", EVENTS_PATH, type(exc).__name__)
            return web.json_response({"error": "invalid request body"}, status=400)
        response = await self._app.async_dispatch(bolt_request)
        self._metrics.slack_ack.observe(time.perf_counter() - started)
        return await to_aiohttp_response(response)

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        """Report ready while Slack requests can be served; a degraded state store is ready, and the body reports it."""
        if self._stopping:
            return web.json_response({"status": "stopping"}, status=503)

        problems = []
        if len(self._catalog.playbooks) == 0:
            problems.append("no playbooks loaded")
        if self._socket is not None and not await self._socket.client.is_connected():
            problems.append("Socket Mode is not connected")
        try:
            reachable = await asyncio.wait_for(self._store.ping(), timeout=READY_PROBE_TIMEOUT_S)
        except (asyncio.TimeoutError, StateError):
            reachable = False
        if not reachable:
            problems.append("state store unreachable")

        state = "degraded" if self._store.degraded else "ok"
        if problems:
            return web.json_response({"status": "not ready", "problems": problems, "state": state}, status=503)
        return web.json_response({"status": "ready", "playbooks": len(self._catalog.playbooks), "state": state})

    async def _metrics_page(self, request: web.Request) -> web.Response:
        body, content_type = self._metrics.exposition()
        return web.Response(body=body, headers={"Content-Type": content_type})


async def serve(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    """Run the Slack app until SIGTERM or SIGINT, or until ``stop`` is set."""
    check_credentials(settings)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.getLogger(name).getEffectiveLevel(), logging.INFO))
    catalog = load_catalog(settings)
    metrics = Metrics(CollectorRegistry())
    store = open_store(settings.state, on_failure=lambda: metrics.count_error(ErrorKind.STATE_STORE), zdict=evidence_dictionary(catalog.playbooks))
    metrics.watch_degraded(lambda: store.degraded)
    stop = stop or _stop_on_signals()

    try:
        # Finds an unreachable Redis now, with its warning, rather than at the first Slack request.
        await store.ping()
        async with open_runtime(settings) as runtime:
            catalog = await review_access(runtime, catalog)
            service = SlackService(settings, catalog=catalog, runtime=runtime, store=store, metrics=metrics)
            await service.start()
            try:
                await stop.wait()
            finally:
                await service.stop()
    finally:
        await store.close()


def _stop_on_signals() -> asyncio.Event:
    event = asyncio.Event()
    loop = asyncio.get_running_loop()

    def received(number: signal.Signals) -> None:
        if not event.is_set():
            logger.info("received %s; shutting down", number.name)
        event.set()

    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, received, number)
    return event
