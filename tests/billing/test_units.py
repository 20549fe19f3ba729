"""Time priced per Day (or any unit Odoo allows on a service): the engine bills what Odoo invoices.

Odoo converts a line's timesheet hours into the line's unit, rounds HALF-UP to the unit's
rounding and keeps 2 decimals, then invoices quantity x price (recorded on a real Odoo 18:
12 h on a line sold in Days -> 1.5 Days -> 1,500.00 at 1,000.00 a day; 49 h -> 6.13 Days).
The reference here is the Odoo sandbox's own, separately written conversion and exact rational
arithmetic, not the code under test.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from billing.builders import D, day, entry, project, rates
from handoff.billing.engine import BillingPeriod, ProblemRule, propose
from handoff.billing.money import round_money
from handoff.billing.units import (
    ODOO_DAYS,
    ODOO_HOURS,
    TimeConversion,
    Uom,
    compute_quantity,
    float_round,
    timesheet_quantity,
)
from handoff_sandbox.odoo import uom as sandbox_uom

NOVEMBER = BillingPeriod.month("2026-11")
HALF_DAY = Uom(id=50, name="Half-day", category_id=3, factor=2.0, rounding=0.01)
WEEK = Uom(id=51, name="Week", category_id=3, factor=0.2, rounding=0.001)
UNITS = Uom(id=1, name="Units", category_id=1, factor=1.0, rounding=0.01)
ROLE = "Consulting day (order line 7)"


def _days_project(price: str, **terms: object) -> object:
    return project(currency="USD", rate_card=rates((f"role:{ROLE}", "USD", price)), **terms)


def _entries(hours: list[str]) -> list:
    return [entry(i, h, role=ROLE, date=day(1 + i)) for i, h in enumerate(hours)]


def test_odoo_float_round_and_compute_quantity() -> None:
    assert float_round(2.675, precision_digits=2) == 2.68  # 2.6749999... as a float
    assert float_round(1.3, precision_rounding=0.5) == 1.5
    assert compute_quantity(49, ODOO_HOURS, ODOO_DAYS, method="HALF-UP") == 6.13
    assert compute_quantity(12, ODOO_HOURS, ODOO_DAYS, method="HALF-UP") == 1.5
    assert timesheet_quantity([(ODOO_HOURS, D("13.3"))], HALF_DAY) == D("3.33")
    # Hours on a line sold in Units (another category) pass unconverted.
    assert timesheet_quantity([(ODOO_HOURS, D("7.5"))], UNITS) == D("7.5")


def test_hours_on_a_line_sold_in_days_are_billed_in_days_not_eight_times_over() -> None:
    proposal = propose(
        _days_project("1000"),
        _entries(["8", "8", "8.5", "7.5", "9", "8"]),  # 49 h
        period=NOVEMBER,
        units={ROLE: TimeConversion(source=ODOO_HOURS, target=ODOO_DAYS)},
    )
    [line] = proposal.invoice.lines
    assert (line.quantity, line.unit_price, line.amount) == (D("6.13"), D(1000), D("6130.00"))
    assert proposal.total == D("6130.00")  # was 49 x 1000 = 49,000


def test_a_cap_is_weighed_in_the_converted_amount() -> None:
    # 3 x 8 h = 3 days = 3,000; a 2,500 cap bills two days and holds the third back.
    proposal = propose(
        _days_project("1000", not_to_exceed=D(2500)),
        _entries(["8", "8", "8"]),
        period=NOVEMBER,
        units={ROLE: TimeConversion(source=ODOO_HOURS, target=ODOO_DAYS)},
    )
    assert proposal.total == D("2000.00")
    assert [p.rule for p in proposal.problems] == [ProblemRule.CAP_REACHED]
    assert [h.amount for h in proposal.held_back] == [D(1000)]


def _exact_odoo(hours: list[Decimal], unit: Uom, price: Decimal) -> Decimal:
    """Odoo's figure in exact arithmetic: hours summed, converted, rounded HALF-UP to the unit's
    rounding, then to 2 decimals, times the price, rounded to cents."""
    total = sum((Fraction(h) for h in hours), Fraction(0))
    converted = total / Fraction(ODOO_HOURS.factor) * Fraction(unit.factor)
    step = Fraction(Decimal(repr(unit.rounding)))
    steps = converted / step
    rounded = (int(steps) + (1 if steps - int(steps) >= Fraction(1, 2) else 0)) * step
    quantity = Decimal(rounded.numerator) / Decimal(rounded.denominator)
    quantity = quantity.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return round_money(quantity * price, "USD")


@settings(max_examples=300, deadline=None)
@given(
    hours=st.lists(
        st.integers(min_value=1, max_value=1200).map(lambda n: Decimal(n) / 100),
        min_size=1,
        max_size=12,
    ),
    unit=st.sampled_from([ODOO_HOURS, ODOO_DAYS, HALF_DAY, WEEK]),
    price=st.integers(min_value=1, max_value=500_000).map(lambda n: Decimal(n) / 100),
)
def test_proposal_amount_equals_the_odoo_invoice_amount_for_any_unit_and_hours(
    hours: list[Decimal], unit: Uom, price: Decimal
) -> None:
    proposal = propose(
        _days_project(str(price)),
        _entries([str(h) for h in hours]),
        period=NOVEMBER,
        units={ROLE: TimeConversion(source=ODOO_HOURS, target=unit)},
    )
    # What the Odoo sandbox (its own implementation of sale_timesheet) invoices.
    hours_row = {"id": ODOO_HOURS.id, "category_id": 3, "factor": 8.0, "rounding": 0.01}
    unit_row = {"id": unit.id, "category_id": 3, "factor": unit.factor, "rounding": unit.rounding}
    quantity = sandbox_uom.delivered([(hours_row, sum(float(h) for h in hours))], unit_row)
    odoo_amount = round_money(Decimal(repr(quantity)) * price, "USD")
    assert proposal.total == odoo_amount == _exact_odoo(hours, unit, price)
    [line] = proposal.invoice.lines
    assert line.quantity == Decimal(repr(quantity))
