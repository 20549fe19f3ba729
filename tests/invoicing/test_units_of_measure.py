"""Time & materials sold in Days or a custom unit: Odoo invoices the hours converted into the
line's unit, and the hub proposes exactly that (issue 9, defect 1), over real HTTP.

Each test runs on the Odoo sandbox, or on a real Odoo 18 when HANDOFF_TEST_ODOO_URL/_DB/_USER/_KEY
are set (a fresh database: ../shared/real-odoo/reset.sh). Recorded on a real Odoo 18 (tests/contract/odoo/transcripts/timesheet_days_uom_conversion.json):
12 h logged on a line sold in Days -> qty_delivered 1.5, invoice line 1.5 Days x 1,000 = 1,500.
"""

from __future__ import annotations

from decimal import Decimal

from handoff.billing.engine import BillingPeriod
from handoff.canonical.crm import BillingModel
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import run_billing, set_cap
from invoicing.world import World

OCTOBER = BillingPeriod.month("2025-10")
NOVEMBER = BillingPeriod.month("2025-11")


def _line(world: World, deal: str) -> dict:
    [line_id] = world.order(deal)["order_line"]
    [line] = world.odoo.read(
        "sale.order.line",
        [line_id],
        ["product_uom", "qty_delivered", "qty_to_invoice", "price_unit"],
    )
    return line


def _invoice_lines(world: World, invoice_id: int) -> list[dict]:
    return world.odoo.search_read(
        "account.move.line",
        [["move_id", "=", invoice_id], ["display_type", "=", "product"]],
        ["quantity", "product_uom_id", "price_unit", "price_subtotal"],
    )


def test_odoo_converts_timesheet_hours_into_the_days_a_line_is_sold_in(odoo_world: World) -> None:
    world = odoo_world
    # The recorded exchange: 12 h on a line sold in Days at 1,000 a day.
    deal = world.deal("Days probe", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-DAY", 10, 1000)])
    world.deliver(deal)
    [sheet] = world.log_dated(deal, [("2025-10-02", 12.0)])
    [stored] = world.odoo.read("account.analytic.line", [sheet], ["unit_amount", "product_uom_id"])
    assert (stored["unit_amount"], stored["product_uom_id"]) == (12.0, [4, "Hours"])
    line = _line(world, deal)
    assert line["product_uom"] == [3, "Days"]
    # The task the order created is allocated the 10 days in hours (_convert_qty_company_hours).
    tasks = world.odoo.search_read(
        "project.task", [["sale_line_id", "=", line["id"]]], ["allocated_hours"]
    )
    assert 80.0 in [task["allocated_hours"] for task in tasks]
    assert (line["qty_delivered"], line["qty_to_invoice"], line["price_unit"]) == (1.5, 1.5, 1000.0)

    [[invoice]] = run_billing(world.hub, OCTOBER).invoiced.values()
    [invoiced] = _invoice_lines(world, invoice)
    assert invoiced["product_uom_id"] == [3, "Days"]
    assert (invoiced["quantity"], invoiced["price_subtotal"]) == (1.5, 1500.0)


def test_time_sold_in_days_is_proposed_at_what_odoo_invoices(odoo_world: World) -> None:
    world = odoo_world
    deal = world.deal("Advisory", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-DAY", 10, 1000)])
    world.deliver(deal)
    # 49 h in October -> 6.125 -> 6.13 days (Hours factor 8, Days rounding 0.01, HALF-UP).
    world.log_dated(
        deal,
        [
            ("2025-10-01", 8.0),
            ("2025-10-02", 8.0),
            ("2025-10-03", 8.5),
            ("2025-10-06", 7.5),
            ("2025-10-07", 9.0),
            ("2025-10-08", 8.0),
            ("2025-11-03", 4.0),
        ],
    )
    [draft] = run_billing(world.hub, OCTOBER, dry_run=True).drafts
    [proposed] = draft.lines
    assert (proposed.quantity, proposed.unit, proposed.amount) == (
        Decimal("6.13"),
        "Days",
        Decimal("6130.00"),
    )  # not 49 x 1,000
    [[invoice]] = run_billing(world.hub, OCTOBER).invoiced.values()
    [invoiced] = _invoice_lines(world, invoice)
    assert (invoiced["quantity"], invoiced["price_subtotal"]) == (6.13, 6130.0)
    [record] = Proposals(world.hub.store).list()
    assert record.total == Decimal("6130.00")
    # November's 4 h: half a day, invoiced on its own (Odoo converts the period's timesheets).
    [rest] = run_billing(world.hub, NOVEMBER, dry_run=True).drafts
    assert rest.total == Decimal("500.00")
    [[second]] = run_billing(world.hub, NOVEMBER).invoiced.values()
    assert [li["price_subtotal"] for li in _invoice_lines(world, second)] == [500.0]


def test_a_custom_half_day_unit_and_a_cap_in_days(odoo_world: World) -> None:
    world = odoo_world
    deal = world.deal(
        "Workshops", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HALF-DAY", 20, 1000)]
    )
    world.deliver(deal)
    set_cap(world.hub, f"hubspot:deal:{deal}", Decimal(5000), by="finance")
    # 13.3 h -> 3.325 -> 3.33 half-days; then 8 h (2 half-days) would pass the 5,000 cap.
    world.log_dated(deal, [("2025-10-01", 6.3), ("2025-10-02", 7.0), ("2025-10-20", 8.0)])
    dry = run_billing(world.hub, OCTOBER, dry_run=True)
    [draft] = dry.drafts
    assert draft.total == Decimal("3330.00") and draft.timesheets_until.isoformat() == "2025-10-19"
    [problem] = dry.problems[f"hubspot:deal:{deal}"]
    assert problem.rule == "cap_reached" and problem.held_amount == Decimal("2000.00")
    [[invoice]] = run_billing(world.hub, OCTOBER).invoiced.values()
    [invoiced] = _invoice_lines(world, invoice)
    assert invoiced["product_uom_id"][1] == "Half-day"
    assert (invoiced["quantity"], invoiced["price_subtotal"]) == (3.33, 3330.0)
