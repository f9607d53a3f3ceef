"""Logging set-up: plain or JSON lines, with credentials redacted from every message."""

from __future__ import annotations

import json
import logging
import sys
from contextvars import ContextVar
from datetime import datetime, timezone

from bot.redact import RedactingFilter

__all__ = ["RUN_ID", "configure_logging"]

RUN_ID: ContextVar[str] = ContextVar("otelbot_run_id", default="-")


class _RunIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = RUN_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, run id and exception."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "run_id": getattr(record, "run_id", "-"),
        }
        if record.exc_text:
            line["exception"] = record.exc_text  # redacted by RedactingFilter
        elif record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def configure_logging(*, level: str = "INFO", format: str = "text") -> None:
    """Send logs to stderr in ``format`` (text or json), redacting credentials from every line."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RunIdFilter())
    handler.addFilter(RedactingFilter())
    if format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [run %(run_id)s]: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
