"""How the CLI shows a value that came from outside: through ``printable`` (control characters
escaped) and never as rich markup, so a record's text is shown, not obeyed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from handoff.observability.safe_text import printable


def plain(value: Any) -> str:
    """A value as one line of plain text: ``None`` empty, datetimes in UTC, controls escaped."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return printable(value)


def shown(value: Any) -> str:
    """``plain(value)`` made safe to put inside a rich markup string (``[`` escaped)."""
    return escape(plain(value))


def cell(value: Any) -> Text:
    """A table cell: the plain text of ``value`` as rich ``Text`` (no markup, no emoji codes)."""
    return Text(plain(value))


class SafeTable(Table):
    """A rich table whose title and cells are plain text: every string passes ``printable`` and
    none is read as markup (a cell that is already ``Text`` or another renderable is kept)."""

    def __init__(self, *args: Any, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, title=None if title is None else Text(plain(title)), **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(
            *(cell(v) if v is None or isinstance(v, str) else v for v in renderables), **kwargs
        )
