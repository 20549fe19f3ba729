"""Units of measure as Odoo 18 converts them (``uom.uom._compute_quantity`` and
``odoo.tools.float_round``), for the sandbox's delivered and invoiced quantities.

The sandbox reproduces the server: a timesheet line sold in Days delivers its timesheets' hours
converted into days (``sale.order.line._get_delivered_quantity_by_analytic``: summed per
timesheet unit, converted HALF-UP to the line unit's rounding, stored with the 2 digits of
"Product Unit of Measure").
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable
from typing import Any

QUANTITY_DIGITS = 2  # decimal.precision "Product Unit of Measure"

_INVERT = {
    float(f"{d}e-{n}"): float(f"{inv}e{n - shift}")
    for d, inv, shift in ((1, 1, 0), (2, 5, 1), (5, 2, 1))
    for n in range(1, 11)
}


def _round_half_away(value: float) -> float:
    rounded = builtins.round(value)
    if builtins.round(value + 1) - rounded != 1:
        return value + math.copysign(0.5, value)
    return math.copysign(rounded, value)


def _invert(value: float) -> float:
    found = _INVERT.get(value)
    if found is not None:
        return found
    coefficient, exponent = f"{value:.15e}".split("e")
    return float(f"{coefficient}e{-int(exponent)}") / float(coefficient) ** 2


def float_round(value: float, precision_rounding: float, method: str = "HALF-UP") -> float:
    """odoo.tools.float_round with ``precision_rounding``."""
    factor = precision_rounding
    if factor == 0 or value == 0:
        return 0.0
    inverted = factor < 1
    if inverted:
        factor = _invert(factor)
    normalized = value * factor if inverted else value / factor
    epsilon = 2 ** (math.log2(abs(normalized)) - 50)
    if method == "HALF-UP":
        result = _round_half_away(normalized + math.copysign(epsilon, normalized))
    elif method == "UP":
        result = math.trunc(normalized + math.copysign(1 - epsilon, normalized))
    elif method == "DOWN":
        result = math.trunc(normalized + math.copysign(epsilon, normalized))
    else:
        raise ValueError(f"unknown rounding method: {method}")
    return result / factor if inverted else result * factor


def quantity_field(value: float) -> float:
    """What a float field of precision "Product Unit of Measure" stores."""
    return float_round(value, 10.0**-QUANTITY_DIGITS) + 0.0


def compute_quantity(
    qty: float, source: dict[str, Any], target: dict[str, Any], method: str = "UP"
) -> float:
    """``source._compute_quantity(qty, target, rounding_method=method)`` on uom.uom rows
    (``id``, ``category_id``, ``factor``, ``rounding``)."""
    if not qty:
        return qty
    amount = qty if source["id"] == target["id"] else qty / source["factor"] * target["factor"]
    return float_round(amount, target["rounding"] or 0.01, method)


def delivered(
    sums: Iterable[tuple[dict[str, Any] | None, float]], line_uom: dict[str, Any] | None
) -> float:
    """``_get_delivered_quantity_by_analytic`` for one sale line: ``sums`` of ``unit_amount``
    per timesheet unit; a sum without a unit is skipped, one of another category passes as is."""
    total = 0.0
    for uom, amount in sums:
        if uom is None:
            continue
        if line_uom is not None and uom["category_id"] == line_uom["category_id"]:
            amount = compute_quantity(amount, uom, line_uom, "HALF-UP")
        total += amount
    return quantity_field(total)
