"""``/otel query <name> [service]``: run a named PromQL query and return its result as messages."""

from __future__ import annotations

import logging

from bot.app import Runtime
from bot.config import Settings
from bot.errors import ConfigError
from bot.i18n import tr
from bot.queries import load_queries, prepare_query, run_query
from bot.report.blocks import Message, TEXT_BUDGET, escape, text_messages
from bot.report.query import render_query_list, render_query_text

__all__ = ["NamedQueries"]

logger = logging.getLogger(__name__)


class NamedQueries:
    """The named queries of ``queries.file``, run read-only through the cluster's Prometheus like the checks."""

    def __init__(self, settings: Settings, runtime: Runtime) -> None:
        self._settings = settings
        self._runtime = runtime

    async def reply(self, name: str, service: str, lang: str) -> list[Message]:
        """Return the list of queries for ``list``, else the result of query ``name`` for ``service``."""
        try:
            definitions = load_queries(self._settings.queries.file)
        except ConfigError as exc:
            logger.warning("named queries are not available; check queries.file: %s", exc)
            return [_message(tr(lang, "slack.query_failed", name=escape(name), error=escape(str(exc))), lang)]
        if name == "list":
            return _code(render_query_list(definitions, lang), fallback=tr(lang, "slack.query_list"), lang=lang)

        try:
            prepared = prepare_query(definitions, name, service=service or None, window=None, max_window=self._settings.queries.max_window)
        except ConfigError as exc:
            return [_message(tr(lang, "slack.query_failed", name=escape(name), error=escape(exc.message(lang))), lang)]

        timeout_s = self._settings.checks.default_timeout_s
        result = await run_query(self._runtime.context(), prepared, backend=self._settings.queries.backend, timeout_s=timeout_s)
        if result.error is not None:
            logger.warning("named query %s failed: %s", name, result.error)
        return _code(render_query_text(result, lang), fallback=f"/otel query {name} {service}".strip(), lang=lang)


def _code(text: str, *, fallback: str, lang: str) -> list[Message]:
    lines = escape(text).splitlines()
    chunks: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and sum(len(item) + 1 for item in current) + len(line) > TEXT_BUDGET - 8:
            chunks.append("\n".join(current))
            current = []
        current.append(line[: TEXT_BUDGET - 8])
    if current:
        chunks.append("\n".join(current))
    return text_messages([f"```{chunk}```" for chunk in chunks], fallback=fallback, lang=lang)


def _message(text: str, lang: str) -> Message:
    return text_messages([text], fallback=text, lang=lang)[0]
