"""Build the Bolt app: the access middleware in front, then the listeners from one list."""

from __future__ import annotations

import logging
from typing import Any, Callable

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import SlackSettings
from bot.report.blocks import ACTION_RECHECK, ACTION_SHOW_EVIDENCE, RUN_ACTION_PATTERN
from bot.slack.handlers import Handlers

__all__ = ["COMMAND", "build_app"]

COMMAND = "/otel"


def _listeners(handlers: Handlers) -> list[tuple[str, Any, Callable[..., Any]]]:
    """Return (Bolt registration method, what it matches, listener) for every entry point."""
    return [
        ("command", COMMAND, handlers.on_command),
        ("event", "app_mention", handlers.on_mention),
        ("event", "message", handlers.on_message),
        ("action", ACTION_RECHECK, handlers.on_recheck),
        ("action", ACTION_SHOW_EVIDENCE, handlers.on_show_evidence),
        ("action", RUN_ACTION_PATTERN, handlers.on_run_playbook),
    ]


def build_app(settings: SlackSettings, *, client: AsyncWebClient, handlers: Handlers) -> AsyncApp:
    """Build the AsyncApp; in HTTP mode Bolt verifies each request's signature with the signing secret."""
    http = settings.mode == "http"
    secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
    app = AsyncApp(
        client=client,
        signing_secret=secret,
        request_verification_enabled=http,
        # Every listener acknowledges and hands its work to a task, so Bolt can answer as soon as the
        # listener returns. Otherwise Bolt polls every 10 ms for ack() while the new tasks run first:
        # with rounds of 50 slash commands (bench/slack_load.py), the ack p50 went from 116 to 39 ms.
        process_before_response=True,
        logger=logging.getLogger("slack_bolt.otelbot"),
    )
    app.middleware(handlers.access.middleware)
    for method, matcher, listener in _listeners(handlers):
        getattr(app, method)(matcher)(listener)
    app.error(handlers.on_error)
    return app
