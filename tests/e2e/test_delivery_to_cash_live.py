"""The delivery-to-cash month against a real Odoo 18 (``make test-live``; HANDOFF_TEST_ODOO_*).

The same month and the same assertions as the sandbox run (test_delivery_to_cash_e2e), on a fresh
database of a real server, plus what only a real Odoo can prove about money: every invoice's
total is its proposal's and the CRM's, and every approved billable hour of a time-and-materials
deal is either on an invoice (in the invoice line's unit: hours, days...) or still work in
progress. The worker-kill world runs against the sandbox only: a second world needs a second
fresh database.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from contract.odoo.conftest import live_target
from handoff.billing.units import Uom, delivered_quantity
from handoff.canonical.crm import BillingModel
from handoff.connectors.odoo import OdooAdapter
from handoff.engine.runtime import Hub
from handoff.invoicing.records import Proposals, ProposalStatus
from handoff.invoicing.service import bound_orders
from handoff_sandbox.month import MonthOfWork
from handoff_sandbox.stack import ExternalOdoo, Stack

from .test_delivery_to_cash_e2e import live_the_month

pytestmark = [pytest.mark.e2e, pytest.mark.live]


@pytest.mark.timeout(2400)
def test_a_month_of_delivery_on_a_real_odoo(tmp_path: Path) -> None:
    target = live_target()
    if target is None:
        pytest.skip("no real Odoo: set HANDOFF_TEST_ODOO_URL/_DB/_USER/_KEY (make test-live)")
    real = ExternalOdoo(target.url, target.db, target.login, target.password)
    live_the_month(tmp_path, kill_worker=False, real_odoo=real, checks=money_is_right)


def money_is_right(stack: Stack, odoo: OdooAdapter, reader: Hub, work: MonthOfWork) -> None:
    invoices_equal_their_proposals(odoo, reader)
    billable_hours_are_invoiced_or_in_progress(odoo, reader, work)
    milestones_bill_their_share(odoo, reader)


def milestones_bill_their_share(odoo: OdooAdapter, reader: Hub) -> None:
    """A milestone deal is invoiced its reached milestones' share of the line, no more (real
    Odoo bills 100 % for a milestone whose share it was not told, and makes one on confirm)."""
    orders = [bound.order_id for bound in bound_orders(reader) if bound.plan is not None
              and BillingModel(bound.plan.billing_model) is BillingModel.MILESTONE]  # fmt: skip
    assert orders, "no milestone deal delivered"
    for order in odoo.read("sale.order", orders, ["name", "order_line"]):
        lines = odoo.read("sale.order.line", order["order_line"],
                          ["price_subtotal", "qty_delivered_method"])  # fmt: skip
        reached = odoo.search_read(
            "project.milestone",
            [["sale_line_id", "in", order["order_line"]], ["is_reached", "=", True]],
            ["sale_line_id", "quantity_percentage"],
        )  # fmt: skip
        share = defaultdict(Decimal)
        for milestone in reached:
            share[milestone["sale_line_id"][0]] += Decimal(repr(milestone["quantity_percentage"]))
        expected = sum((Decimal(repr(line["price_subtotal"])) * share[line["id"]]
                        for line in lines if line["qty_delivered_method"] == "milestones"),
                       Decimal(0))  # fmt: skip
        invoiced = sum((Decimal(repr(m["amount_untaxed"])) for m in odoo.search_read(
            "account.move", [["invoice_origin", "=", order["name"]], ["state", "=", "posted"],
                             ["move_type", "=", "out_invoice"]], ["amount_untaxed"])),
                       Decimal(0))  # fmt: skip
        assert reached, f"{order['name']}: no milestone reached"
        assert invoiced.quantize(Decimal("0.01")) == expected.quantize(Decimal("0.01")), (
            f"{order['name']}: invoiced {invoiced}, its reached milestones are worth {expected}"
        )


def invoices_equal_their_proposals(odoo: OdooAdapter, reader: Hub) -> None:
    proposals = Proposals(reader.store).list(status=ProposalStatus.INVOICED, limit=10_000)
    assert proposals, "the invoice run invoiced nothing"
    moves = {row["id"]: row for row in odoo.read(
        "account.move", sorted({i for p in proposals for i in p.invoice_ids}),
        ["amount_untaxed", "state"])}  # fmt: skip
    for proposal in proposals:
        untaxed = sum((Decimal(repr(moves[i]["amount_untaxed"])) for i in proposal.invoice_ids),
                      Decimal(0))  # fmt: skip
        assert untaxed.quantize(Decimal("0.01")) == proposal.total.quantize(Decimal("0.01")), (
            f"{proposal.deal_key}: Odoo invoiced {untaxed}, the proposal said {proposal.total}"
        )


def billable_hours_are_invoiced_or_in_progress(
    odoo: OdooAdapter, reader: Hub, work: MonthOfWork
) -> None:
    expected = work.billable_hours()
    tm_deals = {
        bound.deal_key for bound in bound_orders(reader)
        if bound.plan is not None
        and BillingModel(bound.plan.billing_model) is BillingModel.TIME_AND_MATERIALS
    }  # fmt: skip
    tm_projects = {int(b.external_id): b.canonical_id
                   for b in reader.bindings.all(model="project.project")
                   if b.canonical_id in tm_deals}  # fmt: skip
    assert tm_projects, "no time-and-materials project delivered"
    sheets = odoo.search_read(
        "account.analytic.line", [["project_id", "in", list(tm_projects)]],
        ["project_id", "unit_amount", "timesheet_invoice_id", "so_line"],
    )  # fmt: skip
    logged: dict[str, Decimal] = defaultdict(Decimal)
    billed: dict[tuple[int, int], Decimal] = defaultdict(Decimal)  # (invoice, sale line) -> hours
    for sheet in sheets:
        amount = Decimal(repr(sheet["unit_amount"]))
        logged[tm_projects[sheet["project_id"][0]]] += amount
        if sheet["timesheet_invoice_id"]:
            billed[(sheet["timesheet_invoice_id"][0], sheet["so_line"][0])] += amount
    for deal_key in tm_projects.values():
        assert logged[deal_key] == expected.get(deal_key, Decimal(0)), deal_key
    lines = odoo.search_read(
        "account.move.line",
        [["move_id", "in", sorted({m for m, _ in billed})], ["display_type", "=", "product"]],
        ["move_id", "quantity", "product_uom_id", "sale_line_ids"],
    )  # fmt: skip
    units = {row["id"]: Uom(id=row["id"], name=row["name"], category_id=row["category_id"][0],
                            factor=row["factor"], rounding=row["rounding"])
             for row in odoo.search_read("uom.uom", [], ["name", "category_id", "factor",
                                                         "rounding"])}  # fmt: skip
    hours = next(u for u in units.values() if u.name == "Hours")
    checked = 0
    for line in lines:
        for so_line in line["sale_line_ids"]:
            if (key := (line["move_id"][0], so_line)) in billed:
                unit = units[line["product_uom_id"][0]]
                on_invoice = delivered_quantity([(hours, float(billed[key]))], unit)
                assert Decimal(repr(line["quantity"])) == on_invoice, (
                    f"invoice {key[0]}: {line['quantity']} {unit.name} for {billed[key]} h"
                )
                checked += 1
    assert checked == len(billed), "every invoiced timesheet is behind an invoice line"
