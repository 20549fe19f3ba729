"""A re-invoiced expense paid in another currency (issue 10, defect 5): the proposal shows its
amount in the currency it was paid in and in the order's currency as Odoo converted it, with
Odoo's rate and its day; the invoice carries exactly that; an expense Odoo converted without a
rate for its day holds the order back with an exception naming the rate to add.

Over real HTTP: HubSpot sandbox -> deal_to_delivery -> Odoo sandbox (a USD order of My Company),
the expense booked in EUR as the hub books it (currency_id), then the invoice run.
"""

from __future__ import annotations

from decimal import Decimal

from handoff.canonical.crm import BillingModel
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import run_billing
from invoicing.world import PERIOD, World

EXPENSE_DAY = "2026-11-30"


def _currency(world: World, code: str, symbol: str) -> int:
    """The currency, active (the sandbox's seed has EUR inactive and no GBP, as the real one)."""
    found = world.odoo.search_read(
        "res.currency", [["name", "=", code], ["active", "in", [True, False]]], ["id"]
    )
    if not found:
        return world.odoo.create("res.currency", {"name": code, "symbol": symbol})
    world.odoo.write("res.currency", [found[0]["id"]], {"active": True})
    return int(found[0]["id"])


def _travel(world: World) -> int:
    return world.odoo.create("product.product", {
        "name": "Travel", "default_code": "TRAVEL", "type": "service", "can_be_expensed": True,
        "expense_policy": "cost", "invoice_policy": "delivery", "list_price": 0.0,
        "taxes_id": [[6, 0, []]]})  # fmt: skip


def _expense(world: World, deal: str, name: str, amount: float, currency: int, travel: int) -> int:
    order = world.order(deal)
    return world.odoo.create("hr.expense", {
        "name": name, "employee_id": world.employee_id, "product_id": travel,
        "total_amount_currency": amount, "currency_id": currency, "date": EXPENSE_DAY,
        "sale_order_id": order["id"]})  # fmt: skip


def test_the_proposal_shows_both_amounts_and_the_invoice_carries_odoos_conversion(
    world: World,
) -> None:
    eur, gbp, travel = _currency(world, "EUR", "€"), _currency(world, "GBP", "£"), _travel(world)
    # 1 USD = 0.923 EUR from 11-01; no GBP rate at all.
    world.odoo.create(
        "res.currency.rate", {"currency_id": eur, "name": "2026-11-01", "rate": 0.923}
    )
    early = world.deal("Audit", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 1000)])
    late = world.deal("Review", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 2000)])
    world.deliver(early, late)
    # Odoo books 100 GBP as 100 USD without a GBP rate, and says nothing.
    _expense(world, early, "Train to London", 100.0, gbp, travel)
    _expense(world, late, "Taxi in Berlin", 10.0, eur, travel)

    result = run_billing(world.hub, PERIOD, require_approval=False, post=True)

    # The order with the GBP expense is held back (Odoo's wizard would invoice every line of
    # it), with an exception naming the rate to add.
    assert not any(d.deal_key == f"hubspot:deal:{early}" for d in result.drafts)
    [problem] = result.problems[f"hubspot:deal:{early}"]
    assert problem.rule == "missing_exchange_rate"
    assert problem.severity == "exception"
    assert f"Odoo has no GBP rate on or before {EXPENSE_DAY}" in problem.message
    assert "100.00 GBP into 100.00 USD at 1" in problem.message
    assert f"Add the GBP rate of {EXPENSE_DAY} in Odoo" in problem.suggested_fix
    assert problem.held_amount == Decimal("1100.00")
    [record] = world.hub.exceptions.list()
    assert (record.rule, record.record) == ("missing_exchange_rate", f"hubspot:deal:{early}")

    # The EUR expense: both amounts, Odoo's rate and its day, on the proposal line.
    [draft] = result.drafts
    [line] = [line for line in draft.lines if line.kind == "expense"]
    [conversion] = line.conversions
    assert (conversion.source_amount, conversion.source_currency) == (Decimal("10.0"), "EUR")
    assert (conversion.amount, conversion.currency) == (Decimal("10.83"), "USD")
    assert conversion.rate == Decimal(repr(1 / 0.923))
    assert str(conversion.rate_date) == EXPENSE_DAY
    assert line.conversion_text == (
        f"10.00 EUR → 10.83 USD at 1.083424 (Odoo rate of {EXPENSE_DAY})"
    )
    assert line.amount == Decimal("10.83")
    assert draft.total == Decimal("2010.83")

    # The invoice is the proposal: the same lines and total, stored with the conversion.
    [stored] = Proposals(world.hub.store).list()
    [invoice_id] = stored.invoice_ids
    lines = sorted(world.invoice_lines(invoice_id), key=lambda r: r["price_subtotal"])
    assert [(r["quantity"], r["price_unit"]) for r in lines] == [(1.0, 10.83), (1.0, 2000.0)]
    [invoice] = world.odoo.read("account.move", [invoice_id], ["amount_untaxed", "state"])
    assert (Decimal(repr(invoice["amount_untaxed"])), invoice["state"]) == (stored.total, "posted")
    assert stored.total == draft.total
    [kept] = [line for line in stored.lines if line["kind"] == "expense"]
    assert kept["conversions"][0]["source_currency"] == "EUR"
    assert kept["conversions"][0]["amount"] == "10.83"

    # The GBP rate is added afterwards: Odoo's expense still holds its amount at 1, not at the
    # rate of its day (Odoo converts when the expense's currency is set), so the order still
    # waits, and the exception says how to convert again.
    world.odoo.create("res.currency.rate", {"currency_id": gbp, "name": "2026-11-01", "rate": 0.8})
    again = run_billing(world.hub, PERIOD, require_approval=False, post=True)
    assert again.drafts == []
    [problem] = again.problems[f"hubspot:deal:{early}"]
    assert problem.rule == "exchange_rate_not_applied"
    assert (
        f"100.00 GBP → 100.00 USD at 1 (set in Odoo; its rate of {EXPENSE_DAY} is 1.25)"
        in problem.message
    )
    assert "set its currency again" in problem.suggested_fix
