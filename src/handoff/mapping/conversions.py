"""Type conversions and named value transforms a field rule may apply.

A conversion or transform that cannot handle a value raises ``ValueError`` with a short reason;
the mapper turns it into a ``MappingError`` naming the mapping, field, path and value.
Transforms are a registry so a connector can add one (``register_transform``) without touching
the engine; the built-in ones cover both CRMs.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from pydantic import ValidationError

from handoff.canonical.crm import DealMilestone

ValueType = Literal["str", "decimal", "int", "bool", "date", "datetime", "json"]
Transform = Callable[[Any], Any]

_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def convert(value: Any, kind: ValueType | None) -> Any:
    """``value`` as ``kind``; None stays None. Money goes through str, never through float."""
    if value is None or kind is None:
        return value
    try:
        if kind == "str":
            return value if isinstance(value, str) else str(value)
        if kind == "decimal":
            return Decimal(str(value))
        if kind == "int":
            number = Decimal(str(value))
            if number != number.to_integral_value():
                raise ValueError
            return int(number)
        if kind == "bool":
            return _bool(value)
        if kind in ("date", "datetime"):
            moment = _moment(value)
            return moment.date() if kind == "date" else moment
        if kind == "json":
            return json.loads(value) if isinstance(value, str) else value
    except (InvalidOperation, ValueError, TypeError, OverflowError):
        raise ValueError(f"{value!r} is not a valid {kind}") from None
    raise ValueError(f"unknown type {kind!r}")  # pragma: no cover - Literal guards it


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError


def _moment(value: Any) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        # HubSpot sends datetimes as epoch milliseconds in some places, ISO 8601 in others.
        moment = (
            datetime.fromtimestamp(int(text) / 1000, tz=UTC)
            if text.isdigit()
            else datetime.fromisoformat(text.replace("Z", "+00:00"))
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(transform: Callable[[str], Any]) -> Transform:
    """A transform of text; other values pass through unchanged."""
    return lambda value: transform(value) if isinstance(value, str) else value


_COUNTRIES = {
    "united states": "US", "united states of america": "US", "usa": "US", "canada": "CA",
    "mexico": "MX", "brazil": "BR", "united kingdom": "GB", "uk": "GB", "great britain": "GB",
    "ireland": "IE", "france": "FR", "germany": "DE", "deutschland": "DE", "netherlands": "NL",
    "the netherlands": "NL", "belgium": "BE", "luxembourg": "LU", "switzerland": "CH",
    "austria": "AT", "italy": "IT", "spain": "ES", "portugal": "PT", "denmark": "DK",
    "sweden": "SE", "norway": "NO", "finland": "FI", "poland": "PL", "czech republic": "CZ",
    "czechia": "CZ", "australia": "AU", "new zealand": "NZ", "japan": "JP", "india": "IN",
    "singapore": "SG", "china": "CN", "south africa": "ZA", "united arab emirates": "AE",
}  # fmt: skip


def country_code(value: str) -> str | None:
    """ISO 3166-1 alpha-2 from a code or a common English name; unknown names give None.

    Orgs without State and Country picklists hold free-text country names: an unknown one is left
    empty rather than guessed.
    """
    text = value.strip()
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return _COUNTRIES.get(text.lower())


def milestones(value: Any) -> list[DealMilestone]:
    """A JSON list of ``{name, amount | percentage, due_date}`` as canonical milestones."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError("milestones must be a JSON list of {name, amount|percentage, due_date}")
    result: list[DealMilestone] = []
    for position, entry in enumerate(value, start=1):
        if not isinstance(entry, dict):
            raise ValueError(f"milestone {position} is not an object")
        if entry.get("amount") is None and entry.get("percentage") is None:
            raise ValueError(
                f"milestone {position} ({entry.get('name')!r}) has neither amount nor percentage"
            )
        try:
            result.append(
                DealMilestone.model_validate(
                    {k: str(v) if isinstance(v, float) else v for k, v in entry.items()}
                )
            )
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_url=False)
            )
            raise ValueError(f"milestone {position}: {problems}") from None
    return result


TRANSFORMS: dict[str, Transform] = {
    "strip": _text(lambda text: text.strip() or None),
    "lower": _text(lambda text: text.strip().lower() or None),
    "upper": _text(lambda text: text.strip().upper() or None),
    "country_code": _text(country_code),
    "milestones": milestones,
}


def register_transform(name: str, transform: Transform) -> None:
    """Add a named transform mapping files may use (a connector calls this at import)."""
    existing = TRANSFORMS.get(name)
    if existing is not None and existing is not transform:
        raise ValueError(f"transform {name!r} is already registered")
    TRANSFORMS[name] = transform
