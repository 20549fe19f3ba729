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
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(redact(line), default=str)


def configure(level: str = "INFO", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("handoff")
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    root.propagate = False


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
