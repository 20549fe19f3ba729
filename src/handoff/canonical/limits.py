"""Business limits of delivery records: what a time entry or an expense may hold.

Two tiers:

* **Invariants**, checked by the canonical models themselves wherever a record is built (a
  webhook, a file, the generic route, a stored event read back, a timesheet read from Odoo):
  finite numbers, at most ``MAX_HOURS_PER_RECORD`` hours, an amount below ``HARD_MAX_AMOUNT``, a date
  between ``EARLIEST_DATE`` and ``LATEST_DATE``, an ISO 4217 currency and no more decimals than
  it has. No configuration can loosen them.
* **Edge limits** (``handoff.yaml`` ``limits:``, ``LimitsConfig``), checked where a record
  enters the hub (``edge_problems``, ``day_problems``): hours above 0 with few decimals, a
  configured maximum per entry, per consultant and day and per expense, a date window around
  today. A stored event is never re-checked against them (an entry accepted in time stays
  valid after a long outage).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from handoff.config import LimitsConfig

if TYPE_CHECKING:
    from handoff.config import LimitsConfig

# No one record holds more (a number beyond it is a unit error or an attack); the 24 hours of a
# day are an edge limit, as Odoo and the billing engine may carry longer records (a weekly total).
MAX_HOURS_PER_RECORD = Decimal(10_000)
HARD_MAX_AMOUNT = Decimal(1_000_000_000)
EARLIEST_DATE = dt.date(2000, 1, 1)
LATEST_DATE = dt.date(2099, 12, 31)

# Active ISO 4217 codes and their minor units (decimals), funds codes and precious metals left
# out: what a firm's expense can be in. Source: ISO 4217 list one, 2025.
_ZERO = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF"
_THREE = "BHD IQD JOD KWD LYD OMR TND"
_FOUR = "CLF UYW"
_TWO = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD "
    "FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD "
    "KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD "
    "NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
    "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UZS VED VES "
    "WST XCD XCG YER ZAR ZMW ZWG"
)
ISO_4217_DECIMALS: Mapping[str, int] = {
    **dict.fromkeys(_TWO.split(), 2),
    **dict.fromkeys(_ZERO.split(), 0),
    **dict.fromkeys(_THREE.split(), 3),
    **dict.fromkeys(_FOUR.split(), 4),
}


def decimals_of(value: Decimal) -> int:
    """How many decimals a finite Decimal is written with once trailing zeros go (1.50 -> 1)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


# -- invariants (raise ValueError: the models' validators) -----------------------------------------


def finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise ValueError(f"{field} must be a finite number, not {value}")
    return value


def entry_hours(value: Decimal) -> Decimal:
    finite(value, "hours")
    if value > MAX_HOURS_PER_RECORD:
        raise ValueError(f"{value} hours in one record: at most {MAX_HOURS_PER_RECORD}")
    return value


def record_date(value: dt.date) -> dt.date:
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"{value} is outside {EARLIEST_DATE} to {LATEST_DATE}")
    return value


def iso_currency(value: str) -> str:
    if value not in ISO_4217_DECIMALS:
        raise ValueError(f"{value!r} is not an active ISO 4217 currency code (EUR, USD, ...)")
    return value


def expense_amount(amount: Decimal, currency: str | None) -> None:
    finite(amount, "amount")
    if amount > HARD_MAX_AMOUNT:
        raise ValueError(f"amount {amount} is above {HARD_MAX_AMOUNT}")
    places = ISO_4217_DECIMALS.get(currency or "")
    if places is not None and decimals_of(amount) > places:
        raise ValueError(f"amount {amount} has more decimals than {currency} has ({places})")


# -- edge limits (from handoff.yaml) --------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One value of one record outside the limits: which field, what value, what is wrong."""

    field: str
    value: str
    problem: str


def _limits(limits: LimitsConfig | None) -> LimitsConfig:
    return limits if limits is not None else LimitsConfig()


def date_problem(value: dt.date, limits: LimitsConfig, today: dt.date) -> str | None:
    earliest = today - dt.timedelta(days=limits.days_back)
    latest = today + dt.timedelta(days=limits.days_ahead)
    if earliest <= value <= latest:
        return None
    return (
        f"outside the accepted window {earliest} to {latest} (limits.days_back "
        f"{limits.days_back}, days_ahead {limits.days_ahead})"
    )


def hours_problem(hours: Decimal, limits: LimitsConfig) -> str | None:
    maximum = Decimal(str(limits.max_hours_per_entry))
    if hours <= 0:
        return "must be above 0"
    if hours > maximum:
        return f"more than {maximum} hours in one entry (limits.max_hours_per_entry)"
    if decimals_of(hours) > limits.hours_decimals:
        return f"at most {limits.hours_decimals} decimals (limits.hours_decimals)"
    return None


def amount_problem(amount: Decimal, limits: LimitsConfig) -> str | None:
    maximum = limits.max_expense_amount  # Decimal as written in handoff.yaml
    if amount <= 0:
        return "must be above 0"
    if amount > maximum:
        return f"above the maximum expense {maximum} (limits.max_expense_amount)"
    return None


def edge_problems(
    record: Any, limits: LimitsConfig | None = None, today: dt.date | None = None
) -> list[Problem]:
    """Every edge limit a TimeEntry / Expense breaks (empty: within the limits)."""
    limits = _limits(limits)
    today = today or dt.date.today()
    checks = [("date", record.date, date_problem(record.date, limits, today))]
    if isinstance(hours := getattr(record, "hours", None), Decimal):
        checks.append(("hours", hours, hours_problem(hours, limits)))
    if isinstance(amount := getattr(record, "amount", None), Decimal):
        checks.append(("amount", amount, amount_problem(amount, limits)))
    return [Problem(field, str(value), problem) for field, value, problem in checks if problem]


EDGE_CONTEXT_KEY = "delivery_limits"


def edge_limits(info: Any) -> tuple[LimitsConfig, dt.date] | None:
    """The configured limits and today when validating under :func:`edge_context`, else None."""
    context = getattr(info, "context", None)
    if isinstance(context, dict) and EDGE_CONTEXT_KEY in context:
        found: tuple[LimitsConfig, dt.date] = context[EDGE_CONTEXT_KEY]
        return found
    return None


def edge_context(
    limits: LimitsConfig | None = None, today: dt.date | None = None
) -> dict[str, Any]:
    """The pydantic validation context under which TimeEntry / Expense (and their subclasses,
    e.g. the generic route's inputs) also check the edge limits:
    ``Model.model_validate(data, context=edge_context(settings.limits))``."""
    return {EDGE_CONTEXT_KEY: (_limits(limits), today or dt.date.today())}


def day_problems(
    entries: Iterable[tuple[int, Any]],
    limits: LimitsConfig | None = None,
    already: Mapping[tuple[str, dt.date], Decimal] | None = None,
) -> list[tuple[int, Problem]]:
    """Hours per consultant per day across ``entries`` (row, TimeEntry) delivered together, on
    top of ``already`` (hours the hub holds for that consultant and day): the row that takes a
    day past ``limits.max_hours_per_day``, and every later row of that day, with the total."""
    limits = _limits(limits)
    maximum = Decimal(str(limits.max_hours_per_day))
    totals: dict[tuple[str, dt.date], Decimal] = dict(already or {})
    problems: list[tuple[int, Problem]] = []
    for row, entry in entries:
        day = (entry.consultant, entry.date)
        totals[day] = totals.get(day, Decimal(0)) + entry.hours
        if totals[day] > maximum:
            problems.append(
                (
                    row,
                    Problem(
                        "hours",
                        str(entry.hours),
                        f"{entry.consultant} would have {totals[day]} hours on {entry.date} "
                        f"(at most {maximum} a day, limits.max_hours_per_day)",
                    ),
                )
            )
    return problems
