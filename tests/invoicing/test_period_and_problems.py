"""Time & materials within the billing period, and the engine's problems as exception records,
over real HTTP: HubSpot sandbox -> deal_to_delivery -> Odoo sandbox -> the invoice run."""

from __future__ import annotations

from decimal import Decimal

from handoff.billing.engine import BillingPeriod
from handoff.canonical.crm import BillingModel
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import billed_keys, run_billing, set_cap
from invoicing.world import World

OCTOBER = BillingPeriod.month("2025-10")
NOVEMBER = BillingPeriod.month("2025-11")


def _tm_deal(world: World) -> tuple[str, str]:
    deal = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(deal)
    return deal, f"hubspot:deal:{deal}"


def _billing_exceptions(world: World, status: str | None = "open") -> list:
    return [e for e in world.hub.exceptions.list(status=status) if e.flow == "billing_run"]


def test_time_after_the_period_waits_for_the_next_run_and_nothing_is_billed_twice(
    world: World,
) -> None:
    deal, _ = _tm_deal(world)
    september, october, november = world.log_dated(
        deal, [("2025-09-28", 1.0), ("2025-10-15", 3.0), ("2025-11-03", 4.0)]
    )
    [draft] = run_billing(world.hub, OCTOBER, dry_run=True).drafts
    # Earlier unbilled time is caught up; November's waits.
    assert draft.total == 4 * 150 and draft.timesheets_until == OCTOBER.end
    assert sorted(draft.source_keys) == sorted(f"time:odoo:{i}" for i in (september, october))

    first = run_billing(world.hub, OCTOBER)
    [[october_invoice]] = first.invoiced.values()
    [line] = world.invoice_lines(october_invoice)
    assert (line["quantity"], line["price_subtotal"]) == (4.0, 600.0)  # what the proposal said
    assert world.invoiced_by([september, october, november]) == {
        september: october_invoice,
        october: october_invoice,
        november: None,
    }
    [record] = Proposals(world.hub.store).list()
    assert record.details["timesheets_until"] == "2025-10-31" and record.total == 600
    assert run_billing(world.hub, OCTOBER).drafts == []  # October is done

    [rest] = run_billing(world.hub, NOVEMBER, dry_run=True).drafts
    assert rest.source_keys == [f"time:odoo:{november}"] and rest.total == 600
    [[november_invoice]] = run_billing(world.hub, NOVEMBER).invoiced.values()
    assert [(li["quantity"]) for li in world.invoice_lines(november_invoice)] == [4.0]
    assert billed_keys(world.hub, [f"time:odoo:{i}" for i in (september, october, november)]) == {
        f"time:odoo:{september}": october_invoice,
        f"time:odoo:{october}": october_invoice,
        f"time:odoo:{november}": november_invoice,
    }
    assert run_billing(world.hub, NOVEMBER).drafts == []
    assert sum(i["amount_untaxed"] for i in world.invoices()) == 8 * 150


def test_a_reached_cap_holds_work_back_as_one_exception_until_the_cap_is_raised(
    world: World,
) -> None:
    deal, key = _tm_deal(world)
    set_cap(world.hub, key, Decimal(1000), by="finance")
    first, second, third = world.log_dated(
        deal, [("2025-10-02", 3.0), ("2025-10-10", 2.0), ("2025-10-20", 3.0)]
    )

    dry = run_billing(world.hub, OCTOBER, dry_run=True)
    [draft] = dry.drafts
    assert draft.total == 750 and draft.timesheets_until.isoformat() == "2025-10-19"
    assert [p.rule for p in dry.problems[key]] == ["cap_reached"]
    assert world.hub.exceptions.list() == [] and world.invoices() == []  # a dry run writes nothing

    run = run_billing(world.hub, OCTOBER)
    [[invoice]] = run.invoiced.values()
    [line] = world.invoice_lines(invoice)
    assert (line["quantity"], line["price_subtotal"]) == (5.0, 750.0)
    assert world.invoiced_by([first, second, third])[third] is None  # held back, not invoiced
    [exception] = _billing_exceptions(world)
    assert (exception.record, exception.rule, exception.kind) == (
        key,
        "cap_reached",
        "business_rule",
    )
    assert "1000" in exception.message and "450.00 USD" in exception.message
    assert exception.context["held_back_amount"] == "450.00"
    assert exception.context["held_back_hours"] == "3.0"
    assert exception.context["held_back_keys"] == [f"time:odoo:{third}"]
    assert exception.context["period"] == "2025-10" and exception.context["project"]
    assert "cap" in (exception.suggested_fix or "")

    again = run_billing(world.hub, OCTOBER)  # still over the cap: the same record, no duplicate
    assert again.invoiced == {} and again.exceptions == {key: [exception.id]}
    assert [e.id for e in _billing_exceptions(world)] == [exception.id]

    set_cap(world.hub, key, Decimal(1500), by="finance")  # the change order
    [[rest]] = run_billing(world.hub, OCTOBER).invoiced.values()
    assert [li["quantity"] for li in world.invoice_lines(rest)] == [3.0]
    assert _billing_exceptions(world) == []
    [resolved] = _billing_exceptions(world, status="resolved")
    assert resolved.id == exception.id and resolved.resolved_by == "billing_run"


def test_a_timesheet_line_without_a_price_is_held_back_as_a_missing_rate_exception(
    world: World,
) -> None:
    deal, key = _tm_deal(world)
    [line_id] = world.order(deal)["order_line"]
    world.odoo.write("sale.order.line", [line_id], {"price_unit": 0.0})  # repriced in Odoo
    [sheet] = world.log_dated(deal, [("2025-10-06", 2.0)])

    run = run_billing(world.hub, OCTOBER)
    assert run.drafts == [] and world.invoices() == []  # never invoiced at 0
    [exception] = _billing_exceptions(world)
    assert (exception.record, exception.rule) == (key, "missing_rate")
    assert exception.value == "Ada Consultant"
    assert exception.context["held_back_keys"] == [f"time:odoo:{sheet}"]
    assert exception.context["held_back_hours"] == "2.0"
    assert "unit price" in (exception.suggested_fix or "")

    world.odoo.write("sale.order.line", [line_id], {"price_unit": 150.0})
    [[invoice]] = run_billing(world.hub, OCTOBER).invoiced.values()
    assert [li["price_subtotal"] for li in world.invoice_lines(invoice)] == [300.0]
    assert _billing_exceptions(world) == []
