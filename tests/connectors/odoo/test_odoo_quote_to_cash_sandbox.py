"""Each quote-to-cash adapter method over real HTTP against the Odoo sandbox.

Reference values are those of the recorded run (quote_to_cash.json): list price 150, 15 % tax,
3.5 hours logged -> invoice 525.00 + 78.75 = 603.75, paid at once -> payment_state "paid".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from handoff.connectors.odoo import OdooAdapter, OdooClient, UserError
from handoff.connectors.odoo.quote_to_cash import (
    ContactIn,
    CustomerIn,
    ExpenseIn,
    InvoiceRequest,
    MilestoneIn,
    OrderLineIn,
    QuoteToCashAdapter,
    SaleOrderIn,
    TimesheetIn,
)

testing = pytest.importorskip("handoff_sandbox.odoo.testing")

HOURS_UOM = 4
SALE_TAX_15 = 1
ADMIN_EMPLOYEE = 1


@pytest.fixture(scope="module")
def q2c() -> Iterator[QuoteToCashAdapter]:
    with (
        testing.running_odoo_sandbox() as sandbox,
        OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client,
    ):
        yield QuoteToCashAdapter(OdooAdapter(client), system="hubspot")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def service_product(q2c: QuoteToCashAdapter, code: str, **extra: Any) -> int:
    template = q2c.odoo.create(
        "product.template",
        {
            "name": f"Consulting {code}",
            "default_code": code,
            "type": "service",
            "invoice_policy": "delivery",
            "service_type": "timesheet",
            "service_tracking": "task_in_project",
            "uom_id": HOURS_UOM,
            "uom_po_id": HOURS_UOM,
            "list_price": 150.0,
            **extra,
        },
    )
    return q2c.odoo.read("product.template", [template], ["product_variant_id"])[0][
        "product_variant_id"
    ][0]


def customer(q2c: QuoteToCashAdapter) -> int:
    return q2c.upsert_customer(CustomerIn(external_id=unique("co"), name=unique("Acme"))).company.id


def confirmed_order(q2c: QuoteToCashAdapter, product: int, qty: float = 10) -> Any:
    return q2c.create_sale_order(
        SaleOrderIn(
            reference=unique("deal"),
            partner_id=customer(q2c),
            lines=[OrderLineIn(product_id=product, quantity=qty)],
        )
    )


def test_upsert_customer_with_contacts(q2c: QuoteToCashAdapter) -> None:
    company = CustomerIn(
        external_id=unique("co"),
        name=unique("Acme Services"),
        email="billing@acme.example",
        contacts=[
            ContactIn(external_id=unique("ct"), name="Ada", email="a@x.io"),
            ContactIn(external_id=unique("ct"), name="Bob"),
        ],
    )
    first = q2c.upsert_customer(company)
    assert first.company.created and all(c.created for c in first.contacts.values())
    contacts = q2c.odoo.read(
        "res.partner",
        [c.id for c in first.contacts.values()],
        ["parent_id", "commercial_partner_id"],
    )
    assert {c["parent_id"][0] for c in contacts} == {first.company.id}
    company.contacts[1].email = "bob@x.io"
    second = q2c.upsert_customer(company)
    assert second.company.id == first.company.id and not second.company.created
    bob = second.contacts[company.contacts[1].external_id]
    assert (bob.created, bob.updated_fields) == (False, ["email"])


def test_find_service_products(q2c: QuoteToCashAdapter) -> None:
    code = unique("SRV")
    product = service_product(q2c, code)
    found = q2c.find_service_products(codes=[code, "NO-SUCH-CODE"])
    assert list(found) == [code]
    assert found[code].id == product
    assert found[code].service_policy == "delivered_timesheet"
    by_name = q2c.find_service_products(names=[f"Consulting {code}"])
    assert by_name[f"Consulting {code}"].id == product


def test_sale_order_with_lines_confirm_and_delivery(q2c: QuoteToCashAdapter) -> None:
    product = service_product(q2c, unique("SO"))
    terms = q2c.odoo.search_read("account.payment.term", [["name", "=", "30 Days"]], ["id"])
    order_in = SaleOrderIn(
        reference=unique("deal"),
        partner_id=customer(q2c),
        payment_term_id=terms[0]["id"],
        lines=[
            OrderLineIn(
                product_id=product,
                quantity=10,
                price_unit=120.0,
                discount=10.0,
                tax_ids=[SALE_TAX_15],
            )
        ],
    )
    delivery = q2c.create_sale_order(order_in)
    assert delivery.state == "sale"
    assert len(delivery.project_ids) == 1 and len(delivery.task_ids) == 1
    order = q2c.odoo.read(
        "sale.order",
        [delivery.order_id],
        ["amount_untaxed", "amount_total", "payment_term_id", "client_order_ref"],
    )[0]
    assert order["amount_untaxed"] == pytest.approx(1080.0)
    assert order["amount_total"] == pytest.approx(1242.0)
    assert order["payment_term_id"][0] == terms[0]["id"]
    # Re-running the same deal neither duplicates the order nor confirms it twice.
    again = q2c.create_sale_order(order_in)
    assert again.order_id == delivery.order_id
    assert q2c.odoo.search_read(
        "sale.order", [["client_order_ref", "=", order_in.reference]], ["id"]
    ) == [{"id": delivery.order_id}]


def test_milestones_created_and_reached(q2c: QuoteToCashAdapter) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("MS")))
    project = delivery.project_ids[0]
    ids = q2c.create_milestones(
        [
            MilestoneIn(
                name="Design",
                project_id=project,
                deadline="2026-12-01",
                sale_line_id=delivery.line_ids[0],
            ),
            MilestoneIn(name="Build", project_id=project),
        ]
    )
    q2c.mark_milestones_reached(ids[:1])
    rows = q2c.odoo.read("project.milestone", ids, ["is_reached", "reached_date"])
    assert [r["is_reached"] for r in rows] == [True, False]
    assert rows[0]["reached_date"]
    assert q2c.order_delivery(delivery.order_id).milestone_ids == ids


def test_timesheets_drive_delivered_quantity(q2c: QuoteToCashAdapter) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("TS")))
    ids = q2c.log_timesheets(
        [
            TimesheetIn(
                project_id=delivery.project_ids[0],
                task_id=delivery.task_ids[0],
                employee_id=ADMIN_EMPLOYEE,
                name=f"day {i}",
                hours=h,
                date="2026-11-22",
            )
            for i, h in enumerate((3.5, 1.0, 0.5))
        ]
    )
    assert len(ids) == 3
    line = q2c.odoo.read("sale.order.line", delivery.line_ids, ["qty_delivered"])[0]
    assert line["qty_delivered"] == pytest.approx(5.0)


def test_invoice_delivered_post_and_pay_partially_then_fully(q2c: QuoteToCashAdapter) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("INV")))
    q2c.log_timesheets(
        [
            TimesheetIn(
                project_id=delivery.project_ids[0],
                task_id=delivery.task_ids[0],
                employee_id=ADMIN_EMPLOYEE,
                name="Analysis workshop",
                hours=3.5,
                date="2026-11-22",
            )
        ]
    )
    [invoice] = q2c.invoice_orders([delivery.order_id], InvoiceRequest(method="delivered"))
    [state] = q2c.invoice_states([invoice])
    assert (state.state, state.payment_state) == ("posted", "not_paid")
    assert state.amount_total == pytest.approx(603.75)
    assert q2c.post_invoices([invoice]) == []  # already posted: not posted twice
    q2c.register_payment([invoice], amount=100.0)
    [partial] = q2c.invoice_states([invoice])
    assert partial.payment_state == "partial"
    assert partial.amount_residual == pytest.approx(503.75)
    payment = q2c.register_payment([invoice])
    [paid] = q2c.invoice_states([invoice])
    assert (paid.payment_state, paid.amount_residual) == ("paid", 0.0)
    assert q2c.odoo.read("account.payment", [payment], ["state"])[0]["state"] == "paid"
    with pytest.raises(UserError, match="No items are available to invoice"):
        q2c.invoice_orders([delivery.order_id], InvoiceRequest(method="delivered"))


@pytest.mark.parametrize(
    ("request_in", "untaxed"),
    [
        # 30 % of the 1,500.00 untaxed order.
        (InvoiceRequest(method="percentage", percentage=30), 450.0),
        # Odoo 17+ reads a fixed down payment as tax included: 200 x 1500 / 1725 untaxed.
        (InvoiceRequest(method="fixed", fixed_amount=200.0), 173.91),
    ],
)
def test_down_payments(q2c: QuoteToCashAdapter, request_in: InvoiceRequest, untaxed: float) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("DP")))
    [invoice] = q2c.invoice_orders([delivery.order_id], request_in)
    move = q2c.odoo.read("account.move", [invoice], ["state", "amount_untaxed"])[0]
    assert move["state"] == "posted"
    assert move["amount_untaxed"] == pytest.approx(untaxed)


def test_credit_note(q2c: QuoteToCashAdapter) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("CN")))
    q2c.log_timesheets(
        [
            TimesheetIn(
                project_id=delivery.project_ids[0],
                name="work",
                hours=2.0,
                task_id=delivery.task_ids[0],
                employee_id=ADMIN_EMPLOYEE,
            )
        ]
    )
    [invoice] = q2c.invoice_orders([delivery.order_id], InvoiceRequest())
    [note] = q2c.create_credit_notes([invoice], reason="billing error")
    [state] = q2c.invoice_states([note])
    assert (state.move_type, state.state) == ("out_refund", "posted")
    assert state.amount_total == pytest.approx(345.0)


def test_expense_reinvoiced_to_order(q2c: QuoteToCashAdapter) -> None:
    delivery = confirmed_order(q2c, service_product(q2c, unique("EX")))
    travel = q2c.odoo.create(
        "product.template",
        {
            "name": unique("Travel"),
            "type": "service",
            "can_be_expensed": True,
            "expense_policy": "cost",
            "invoice_policy": "delivery",
        },
    )
    travel_variant = q2c.odoo.read("product.template", [travel], ["product_variant_id"])[0][
        "product_variant_id"
    ][0]
    [expense] = q2c.create_expenses(
        [
            ExpenseIn(
                name="Train",
                employee_id=ADMIN_EMPLOYEE,
                product_id=travel_variant,
                total_amount=80.0,
                sale_order_id=delivery.order_id,
            )
        ]
    )
    assert q2c.odoo.read("hr.expense", [expense], ["sale_order_id"])[0]["sale_order_id"][0] == (
        delivery.order_id
    )
    lines = q2c.odoo.search_read(
        "sale.order.line",
        [["order_id", "=", delivery.order_id], ["product_id", "=", travel_variant]],
        ["price_unit"],
    )
    assert [line["price_unit"] for line in lines] == [80.0]
