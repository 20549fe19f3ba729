"""Units of measure as Odoo converts them: timesheet hours into the unit a sale line is sold in.

Odoo (``sale_timesheet``) sets a time & materials line's delivered quantity from its timesheets:
``sale.order.line._get_delivered_quantity_by_analytic`` sums ``unit_amount`` per (timesheet unit,
sale line), converts each sum with ``uom.uom._compute_quantity(qty, line_uom,
rounding_method='HALF-UP')`` when both units are in one category (else the sum passes unchanged),
and adds them up; the float field then keeps 2 decimals (decimal precision "Product Unit of
Measure"). The invoice bills that quantity (``qty_to_invoice``, or with an invoicing period the
same conversion over the period's uninvoiced timesheets) at the line's price. 49 h on a line sold
in Days (Hours factor 8, Days factor 1, rounding 0.01) are 6.125 -> 6.13 days.

The arithmetic is Odoo's own, in binary floats (``qty / from.factor * to.factor`` then
``odoo.tools.float_round``), so the quantity is the one Odoo stores, to the last digit.

Odoo 19 rebuilt units of measure (``odoo/addons/uom/models/uom_uom.py`` of the 19.0 nightly
the recordings in ``shared/odoo19`` came from): no categories any more; units form a tree
(``relative_uom_id``, ``relative_factor``, ``parent_path``) and the stored ``factor`` is the
unit's size in its root unit (``_compute_factor``: ``relative_factor * relative_uom_id.factor``;
Hours 1, Days 8), the inverse sense of 18's. ``_compute_quantity`` is ``qty * self.factor /
to_unit.factor`` with no category check (``raise_if_failure`` is unused), rounded to
``to_unit.rounding``, which is no longer stored: ``_compute_rounding`` makes it ``10 **
-digits`` of decimal precision "Product Unit", the precision ``qty_delivered`` /
``qty_to_invoice`` are stored with. And ``_get_delivered_quantity_by_analytic`` (sale) converts
every unit's sum, dropping 18's "same category" test. A :class:`Uom` says which series' rules it
follows (``series``); the two never mix.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# decimal.precision "Product Unit of Measure": qty_delivered, qty_to_invoice, invoice quantity.
QUANTITY_DIGITS = 2

RoundingMethod = Literal["HALF-UP", "HALF-DOWN", "HALF-EVEN", "UP", "DOWN"]
Series = Literal[18, 19]


class Uom(BaseModel):
    """One ``uom.uom`` record, as Odoo of ``series`` answers it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    name: str
    category_id: int = Field(
        description="18: the unit's uom.category. 19 (no categories): the root of its unit tree "
        "(first id of parent_path), what 19's _has_common_reference compares."
    )
    factor: float = Field(
        gt=0,
        description="18: units per reference unit of the category (Hours 8 per Day). "
        "19: the unit's size in its root unit (Days 8 Hours).",
    )
    rounding: float = Field(
        default=0.01,
        gt=0,
        description="18: the unit's own rounding. 19: 10 ** -digits of precision 'Product Unit'.",
    )
    series: Series = Field(default=18, description="Whose conversion rules apply.")

    def hours_per_unit(self, hours: Uom) -> Decimal:
        """How many ``hours`` one of this unit is (display only)."""
        _same_series(self, hours)
        if self.series == 19:
            return Decimal(repr(self.factor / hours.factor))
        return Decimal(repr(hours.factor / self.factor))


def _same_series(one: Uom, other: Uom) -> None:
    if one.series != other.series:
        raise ValueError(
            f"cannot convert between {one.name} (Odoo {one.series}) and "
            f"{other.name} (Odoo {other.series})"
        )


def converts(source: Uom, target: Uom) -> bool:
    """Whether ``_get_delivered_quantity_by_analytic`` converts a sum in ``source`` into a line
    sold in ``target``. 18: only within one category (else the sum passes as logged). 19:
    always (19's loop calls ``uom._compute_quantity`` for every unit, whatever its root)."""
    _same_series(source, target)
    return source.series == 19 or source.category_id == target.category_id


# The units every Odoo 18 database has (uom/data/uom_data.xml), with their ids there.
ODOO_HOURS = Uom(id=4, name="Hours", category_id=3, factor=8.0, rounding=0.01)
ODOO_DAYS = Uom(id=3, name="Days", category_id=3, factor=1.0, rounding=0.01)
# Odoo 19's Hours (uom_data.xml: product_uom_hour, relative_factor 1, no reference unit: a root;
# id 4 on the recorded psa19, quote_to_cash.json #3).
ODOO19_HOURS = Uom(id=4, name="Hours", category_id=4, factor=1.0, rounding=0.01, series=19)


def _py2_round(value: float) -> float:
    # odoo.tools.float_utils.round: half away from zero.
    rounded = builtins.round(value)
    if builtins.round(value + 1) - rounded != 1:
        return value + math.copysign(0.5, value)
    return math.copysign(rounded, value)


# odoo.tools.float_utils._INVERTDICT
_INVERT = {
    float(f"{digit}e-{n}"): float(f"{inverse}e{n - shift}")
    for digit, inverse, shift in ((1, 1, 0), (2, 5, 1), (5, 2, 1))
    for n in range(1, 11)
}


def _invert(value: float) -> float:
    # odoo.tools.float_utils.float_invert
    found = _INVERT.get(value)
    if found is not None:
        return found
    coefficient, exponent = f"{value:.15e}".split("e")
    return float(f"{coefficient}e{-int(exponent)}") / float(coefficient) ** 2


def float_round(
    value: float,
    *,
    precision_rounding: float | None = None,
    precision_digits: int | None = None,
    method: RoundingMethod = "HALF-UP",
) -> float:
    """``odoo.tools.float_round``, step for step (normalise, nudge by an epsilon, round)."""
    if (precision_rounding is None) == (precision_digits is None):
        raise ValueError("give exactly one of precision_rounding and precision_digits")
    factor = (
        precision_rounding if precision_rounding is not None else 10.0 ** -(precision_digits or 0)
    )
    if factor == 0 or value == 0:
        return 0.0
    inverted = factor < 1
    if inverted:
        factor = _invert(factor)
    normalized = value * factor if inverted else value / factor
    epsilon = 2 ** (math.log2(abs(normalized)) - 50)
    if method == "HALF-UP":
        result = _py2_round(normalized + math.copysign(epsilon, normalized))
    elif method == "HALF-DOWN":
        result = _py2_round(normalized - math.copysign(epsilon, normalized))
    elif method == "HALF-EVEN":
        integral = math.floor(normalized)
        is_half = abs(0.5 - abs(normalized - integral)) < epsilon
        result = integral + (integral & 1) if is_half else _py2_round(normalized)
    elif method == "UP":
        result = math.trunc(normalized + math.copysign(1 - epsilon, normalized))
    else:
        result = math.trunc(normalized + math.copysign(epsilon, normalized))
    return result / factor if inverted else result * factor


def compute_quantity(
    qty: float, source: Uom, target: Uom, *, method: RoundingMethod = "UP"
) -> float:
    """``uom.uom._compute_quantity(qty, target, round=True, rounding_method=method)`` of
    ``source.series``: 18 ``qty / from.factor * to.factor`` within one category (else an error);
    19 ``qty * self.factor`` then ``/ to_unit.factor``, any two units."""
    if not qty:
        return qty
    _same_series(source, target)
    if source.id == target.id:
        amount = qty
    elif source.series == 19:
        amount = qty * source.factor
        amount = amount / target.factor
    elif source.category_id != target.category_id:
        raise ValueError(
            f"cannot convert {source.name} into {target.name}: different unit categories"
        )
    else:
        amount = qty / source.factor * target.factor
    return float_round(amount, precision_rounding=target.rounding, method=method)


def _digits(rounding: float) -> int:
    # 19: rounding = 10 ** -digits (uom.uom._compute_rounding)
    return max(0, round(-math.log10(rounding)))


def stored_quantity(value: float, digits: int = QUANTITY_DIGITS) -> Decimal:
    """A quantity as Odoo stores it (float field of precision "Product Unit of Measure", 19:
    "Product Unit")."""
    return Decimal(repr(float_round(value, precision_digits=digits) + 0.0))


def delivered_quantity(sums: Iterable[tuple[Uom, float]], line_unit: Uom) -> Decimal:
    """The quantity Odoo delivers / invoices on a line sold in ``line_unit`` for timesheets
    summing ``hours`` per timesheet unit (``_get_delivered_quantity_by_analytic``)."""
    total = 0.0
    for unit, amount in sums:
        if converts(unit, line_unit):
            amount = compute_quantity(amount, unit, line_unit, method="HALF-UP")
        total += amount
    # 19 stores qty_delivered with digits 'Product Unit', the precision the unit's rounding is.
    digits = _digits(line_unit.rounding) if line_unit.series == 19 else QUANTITY_DIGITS
    return stored_quantity(total, digits)


def timesheet_quantity(entries: Iterable[tuple[Uom, Decimal]], line_unit: Uom) -> Decimal:
    """:func:`delivered_quantity` of individual timesheets (unit, ``unit_amount``): Odoo sums
    them per unit in SQL (as floats) before converting."""
    sums: dict[Uom, float] = {}
    for unit, amount in entries:
        sums[unit] = sums.get(unit, 0.0) + float(amount)
    return delivered_quantity(sums.items(), line_unit)


class TimeConversion(BaseModel):
    """Time logged in ``source`` units (Odoo: the timesheet's ``product_uom_id``, the company's
    project time unit) billed in ``target`` units (the sale line's ``product_uom``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Uom
    target: Uom

    @property
    def converts(self) -> bool:
        return converts(self.source, self.target)

    def quantity(self, logged: Decimal) -> Decimal:
        """What Odoo delivers and invoices for ``logged`` time in total (rounded as Odoo)."""
        return delivered_quantity([(self.source, float(logged))], self.target)

    def unrounded(self, logged: Decimal) -> Decimal:
        """``logged`` in target units before any rounding (one entry's share, for display)."""
        if not self.converts or self.source.id == self.target.id:
            return logged
        source, target = Decimal(repr(self.source.factor)), Decimal(repr(self.target.factor))
        if self.source.series == 19:
            return logged * source / target
        return logged / source * target


__all__ = [
    "ODOO19_HOURS",
    "ODOO_DAYS",
    "ODOO_HOURS",
    "QUANTITY_DIGITS",
    "TimeConversion",
    "Uom",
    "compute_quantity",
    "converts",
    "delivered_quantity",
    "float_round",
    "stored_quantity",
    "timesheet_quantity",
]
