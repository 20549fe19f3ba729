"""Salesforce record ids: a 3-character key prefix, an instance part, a counter, and the
3-character case-safe checksum that turns the 15-character id into the 18-character one."""

from __future__ import annotations

import re

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID_PATTERN = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
# The pod/instance characters every sandbox id carries after its key prefix.
_INSTANCE = "8d"


def checksum(id15: str) -> str:
    suffix = ""
    for chunk_start in range(0, 15, 5):
        bits = 0
        for position, char in enumerate(id15[chunk_start : chunk_start + 5]):
            if "A" <= char <= "Z":
                bits |= 1 << position
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def _base62(number: int, width: int) -> str:
    digits = ""
    while number:
        number, remainder = divmod(number, 62)
        digits = _BASE62[remainder] + digits
    return digits.rjust(width, "0")


def make_id(key_prefix: str, sequence: int) -> str:
    id15 = key_prefix + _INSTANCE + _base62(sequence, 10)
    return id15 + checksum(id15)


def normalise_id(value: str) -> str | None:
    """The 18-character form of a 15- or 18-character id, or None when it is not an id."""
    if not ID_PATTERN.match(value):
        return None
    if len(value) == 15:
        return value + checksum(value)
    if checksum(value[:15]).lower() != value[15:].lower():
        return None
    return value[:15] + checksum(value[:15])
