"""One sanitiser for every text the hub prints or logs that came from outside (webhook ids, names,
descriptions, error messages): control characters become visible escapes, so a record cannot
move the cursor, clear the screen, rewrite a line or retitle a terminal."""

from __future__ import annotations

import re
from typing import Any

# C0 controls (newline and tab included: one value stays on one line), DEL, C1 controls, and the
# Unicode format characters that reorder or hide text (bidi overrides and isolates, zero-width).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)  # a character class: linear in the text's length


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(value: Any) -> str:
    """``value`` as text with every control or format character written as ``\\x1b``/``\\u202e``
    (a backslash and its code), everything else unchanged."""
    text = value if isinstance(value, str) else str(value)
    return _UNSAFE.sub(_escape, text)


def printable_deep(value: Any) -> Any:
    """``value`` with every string inside dicts, lists and tuples made ``printable`` (keys too)."""
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, dict):
        return {printable_deep(key): printable_deep(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [printable_deep(item) for item in value]
    return value
