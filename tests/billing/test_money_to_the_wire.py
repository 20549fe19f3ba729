"""Money is Decimal from handoff.yaml to the Odoo wire: a rate written 150.50 in the rate card is
the order line's Decimal price, and only the Odoo client's JSON encoder turns it into the JSON
number Odoo expects."""

from __future__ import annotations

import json
from decimal import Decimal

from handoff.config import parse_settings
from handoff.connectors.odoo.wire import encode_json
from handoff.delivery.plan import PlannedLine, PlannedMilestone


def line(price: Decimal, quantity: Decimal = Decimal("0.1")) -> PlannedLine:
    return PlannedLine(
        deal_line_id="l1", name="Consulting", product_id=7, product_code="SVC-TM",
        quantity=quantity, price_unit=price, price_source="rate_card", role="consultant",
        qty_delivered_method="timesheet",
    )  # fmt: skip


def test_a_rate_card_rate_reaches_the_order_line_exactly() -> None:
    settings = parse_settings("delivery:\n  rate_card:\n    roles:\n      c: {USD: 150.10}\n")
    rate = settings.delivery.rate_card.rate("c", "USD")
    assert rate == Decimal("150.10")
    planned = line(rate or Decimal(0), quantity=Decimal(3))
    # 3 x 150.10 is 450.30 exactly; as floats it is 450.29999999999995.
    assert planned.subtotal == Decimal("450.30")
    assert 3 * 150.10 != 450.30
    values = planned.odoo_values()
    assert isinstance(values["price_unit"], Decimal) and isinstance(values["discount"], Decimal)
    assert values["product_uom_qty"] == Decimal(3)


def test_the_odoo_wire_sends_decimals_as_json_numbers() -> None:
    values = line(Decimal("150.50")).odoo_values()
    body = json.loads(encode_json({"params": values}))["params"]
    assert body["price_unit"] == 150.5 and isinstance(body["price_unit"], float)
    assert body["product_uom_qty"] == 0.1 and body["discount"] == 0


def test_order_and_milestone_inputs_keep_decimals_until_the_wire() -> None:
    from handoff.delivery.plan import PlannedOrder

    order = PlannedOrder.model_construct(
        partner_id=3, client_order_ref="hubspot:1", company_id=1, payment_term_id=1,
        lines=[line(Decimal("150.50"))],
    )  # fmt: skip
    [order_line] = order.sale_order_in().lines
    assert order_line.price_unit == Decimal("150.50") and order_line.quantity == Decimal("0.1")
    milestone = PlannedMilestone(
        name="Design", line_index=0, quantity_percentage=Decimal("0.3"), amount=Decimal("30000")
    ).milestone_in(project_id=1, sale_line_id=2)
    assert milestone.quantity_percentage == Decimal("0.3")
