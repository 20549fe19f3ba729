"""Structured JSON logs; every line carries the correlation id of the event being handled, the
same id the audit trail and exception records carry."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from handoff.config import redact
from handoff.observability.safe_text import printable

_context: ContextVar[dict[str, Any]] = ContextVar("handoff_log_context", default={})  # noqa: B039

_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def current_context() -> dict[str, Any]:
    return dict(_context.get())


@contextmanager
def bound_context(**values: Any) -> Iterator[None]:
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_context.get(),
        }
        line.update({k: v for k, v in record.__dict__.items() if k not in _RESERVED})
        line = _shortened(line)
        if record.exc_info:  # a traceback is logged whole
            line["exception"] = printable_lines(self.formatException(record.exc_info))
        return json.dumps(redact(line), default=str)


def printable_lines(text: str) -> str:
    """A traceback keeps its line breaks; any other control character is escaped."""
    return "\n".join(printable(line) for line in text.split("\n"))


MAX_LOGGED_TEXT = 4096  # a log line repeats what it is about, not a 5 MB description


def _shortened(value: Any, depth: int = 0) -> Any:
    """``value`` with every text cut to ``MAX_LOGGED_TEXT`` characters (saying how much was cut)
    and nesting cut at 8 levels, so a log line costs little whatever a request carried."""
    if isinstance(value, str):  # control characters escaped: `jq -r` cannot replay them
        if len(value) <= MAX_LOGGED_TEXT:
            return printable(value)
        cut = len(value) - MAX_LOGGED_TEXT
        return f"{printable(value[:MAX_LOGGED_TEXT])}...[{cut} more characters]"
    if depth >= 8 and isinstance(value, dict | list | tuple):
        return f"<{type(value).__name__} nested too deep to log>"
    if isinstance(value, dict):
        return {_shortened(key, depth): _shortened(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_shortened(item, depth + 1) for item in value]
    return value


def configure(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("handoff")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
