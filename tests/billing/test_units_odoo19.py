"""Time billed in any unit against Odoo 19: the engine converts as 19's own code does.

Every expected figure below is worked out by hand from the Odoo 19.0 nightly the recordings in
shared/odoo19 came from (github MohamedLotfy99/Odoo19-ez, odoo/addons/...):

- uom/data/uom_data.xml: Hours ``relative_factor 1``, no ``relative_uom_id`` (a root);
  Days ``relative_factor 8.0``, ``relative_uom_id`` Hours; decimal.precision "Product Unit" 2.
- uom/models/uom_uom.py ``_compute_factor``: ``factor = relative_factor * relative_uom_id.factor``
  (a root: ``factor = relative_factor``) -> Hours 1.0, Days 8.0, a 4-hour unit 4.0, a 5-day
  week 5 * 8 = 40.0.
- ``_compute_rounding``: ``rounding = 10 ** -precision_get('Product Unit')`` -> 0.01.
- ``_compute_quantity``: ``if self == to_unit: amount = qty`` else ``amount = qty * self.factor``
  then ``amount = amount / to_unit.factor``; then ``float_round(amount,
  precision_rounding=to_unit.rounding, rounding_method=...)``. No category check.
- sale/models/sale_order_line.py ``_get_delivered_quantity_by_analytic``: per (timesheet unit,
  line) ``qty = uom._compute_quantity(qty, so_line.product_uom_id, rounding_method='HALF-UP')``
  for every unit (18's ``if so_line.product_uom.category_id == uom.category_id`` is gone);
  ``qty_delivered`` / ``qty_to_invoice`` are stored with ``digits='Product Unit'``.
"""

from __future__ import annotations

import pytest

from billing.builders import D, day, entry, project, rates
from handoff.billing.engine import BillingPeriod, propose
from handoff.billing.units import (
    ODOO19_HOURS,
    ODOO_HOURS,
    TimeConversion,
    Uom,
    compute_quantity,
    timesheet_quantity,
)
from handoff.invoicing.deliverables import hours_unit, uom_fields, uom_from_row

NOVEMBER = BillingPeriod.month("2026-11")
ROLE = "Consulting (order line 7)"

# As 19 stores them (ids: Hours is 4 on the recorded psa19, quote_to_cash.json #3; others made up).
HOURS = ODOO19_HOURS
DAYS = Uom(id=5, name="Days", category_id=4, factor=8.0, rounding=0.01, series=19)
FOUR_HOURS = Uom(id=30, name="Half-day", category_id=4, factor=4.0, rounding=0.01, series=19)
WEEK = Uom(id=31, name="Week", category_id=4, factor=40.0, rounding=0.01, series=19)
UNITS = Uom(id=1, name="Units", category_id=1, factor=1.0, rounding=0.01, series=19)
DOZENS = Uom(id=3, name="Dozens", category_id=1, factor=12.0, rounding=0.01, series=19)


def _billed(hours: list[str], unit: Uom, price: str) -> tuple[object, object, object]:
    proposal = propose(
        project(currency="USD", rate_card=rates((f"role:{ROLE}", "USD", price))),
        [entry(i, h, role=ROLE, date=day(1 + i)) for i, h in enumerate(hours)],
        period=NOVEMBER,
        units={ROLE: TimeConversion(source=HOURS, target=unit)},
    )
    [line] = proposal.invoice.lines
    return line.quantity, line.amount, proposal.total


def test_49_hours_on_a_line_sold_in_days() -> None:
    # 49 * Hours.factor 1.0 = 49.0; / Days.factor 8.0 = 6.125 (exact in binary);
    # float_round(6.125, precision_rounding=0.01, 'HALF-UP'): 612.5 (+epsilon) -> 613 -> 6.13.
    assert compute_quantity(49, HOURS, DAYS, method="HALF-UP") == 6.13
    assert timesheet_quantity([(HOURS, D("49"))], DAYS) == D("6.13")
    # Invoiced: 6.13 days x 1,000 = 6,130.00 (not 49 x 1,000, and not 49 / 8 x 8 x 8 ...).
    assert _billed(["8", "8", "8.5", "7.5", "9", "8"], DAYS, "1000") == (
        D("6.13"),
        D("6130.00"),
        D("6130.00"),
    )


def test_a_custom_four_hour_unit() -> None:
    # relative_factor 4, relative_uom_id Hours -> factor 4.0. 13.3 h (float
    # 13.30000000000000071...) * 1.0 / 4.0 = 3.32500000000000017...; x 100 = 332.5 -> HALF-UP 333
    # -> 3.33 half-days; x 1,000 = 3,330.00.
    assert compute_quantity(13.3, HOURS, FOUR_HOURS, method="HALF-UP") == 3.33
    assert _billed(["6.3", "7"], FOUR_HOURS, "1000") == (D("3.33"), D("3330.00"), D("3330.00"))


def test_a_unit_two_levels_down_the_tree() -> None:
    # Week: relative_factor 5, relative_uom_id Days -> factor 5 * 8.0 = 40.0 (_compute_factor is
    # recursive). 49 / 40 = 1.22500000000000008... -> 122.50000000000001 -> 123 -> 1.23 weeks.
    assert timesheet_quantity([(HOURS, D("49"))], WEEK) == D("1.23")


def test_hours_on_a_line_sold_in_hours() -> None:
    # self == to_unit: amount = qty, still rounded to 0.01: 7.5 stays, 2.675 (2.67499999... as a
    # float) -> 267.49999999999997 (+epsilon) -> 268 -> 2.68.
    assert compute_quantity(7.5, HOURS, HOURS, method="HALF-UP") == 7.5
    assert compute_quantity(2.675, HOURS, HOURS, method="HALF-UP") == 2.68
    assert _billed(["7.5", "1.25"], HOURS, "150") == (D("8.75"), D("1312.50"), D("1312.50"))


def test_19_converts_across_roots_where_18_passed_hours_unchanged() -> None:
    # 19's loop converts every unit (no category test): 6 h on a line sold in Dozens (factor 12
    # under the Units root) -> 6 * 1.0 / 12.0 = 0.5. In 18 (other category) the 6 passed as is.
    assert timesheet_quantity([(HOURS, D("6"))], DOZENS) == D("0.5")
    assert timesheet_quantity([(HOURS, D("7.5"))], UNITS) == D("7.5")
    assert TimeConversion(source=HOURS, target=DOZENS).converts


def test_the_product_unit_precision_decides_rounding_and_storage() -> None:
    # "Product Unit" at 3 digits: rounding 10 ** -3 = 0.001; 6.125 stays 6.125 and
    # qty_delivered (digits 'Product Unit') keeps it.
    days_3 = DAYS.model_copy(update={"rounding": 0.001})
    assert timesheet_quantity([(HOURS, D("49"))], days_3) == D("6.125")


def test_units_of_two_series_never_mix() -> None:
    with pytest.raises(ValueError, match="Odoo 18"):
        compute_quantity(8, ODOO_HOURS, DAYS)


def test_a_unit_is_read_by_the_series_of_the_server() -> None:
    assert uom_fields(18) == ["name", "category_id", "factor", "rounding"]
    assert uom_fields(19) == ["name", "factor", "rounding", "parent_path"]
    # What 19 answers to read(["name", "factor", "rounding", "parent_path"]) for Days.
    days = uom_from_row(
        {"id": 5, "name": "Days", "factor": 8.0, "rounding": 0.01, "parent_path": "4/5/"}, 19
    )
    assert days == DAYS
    week = uom_from_row(
        {"id": 31, "name": "Week", "factor": 40.0, "rounding": 0.01, "parent_path": "4/5/31/"}, 19
    )
    assert week == WEEK
    # 18 as before: category many2one, 18's factor.
    row_18 = {
        "id": 3,
        "name": "Days",
        "category_id": [3, "Working Time"],
        "factor": 1.0,
        "rounding": 0.01,
    }
    assert uom_from_row(row_18, 18).series == 18
    assert hours_unit(19) == ODOO19_HOURS and hours_unit(18) == ODOO_HOURS
