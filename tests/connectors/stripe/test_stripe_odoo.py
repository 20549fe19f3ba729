"""Stripe payments registered on Odoo invoices, over real HTTP against the Odoo sandbox.

Invoices are made the way the recorded quote-to-cash run made them: 3.5 hours at 150 with 15 %
tax -> 603.75. A Stripe event is parsed, matched against `open_invoices` and registered; the memo
carries the Stripe id, so the same event applied twice registers one payment.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from connectors.stripe.stripe_events import event, payment_intent
from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import (
    CustomerIn,
    InvoiceRequest,
    OrderLineIn,
    QuoteToCashAdapter,
    SaleOrderIn,
    TimesheetIn,
)
from handoff.connectors.stripe import find_registered, open_invoices, payment_from_event
from handoff.invoicing.payments import match_payment, register_stripe_payment

testing = pytest.importorskip("handoff_sandbox.odoo.testing")

HOURS_UOM = 4
ADMIN_EMPLOYEE = 1


@pytest.fixture(scope="module")
def q2c() -> Iterator[QuoteToCashAdapter]:
    with (
        testing.running_odoo_sandbox() as sandbox,
        OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client,
    ):
        yield QuoteToCashAdapter(OdooAdapter(client), system="hubspot")


@pytest.fixture(scope="module")
def product(q2c: QuoteToCashAdapter) -> int:
    template = q2c.odoo.create("product.template", {
        "name": "Consulting (Stripe tests)", "default_code": f"STR-{uuid.uuid4().hex[:6]}",
        "type": "service", "invoice_policy": "delivery", "service_type": "timesheet",
        "service_tracking": "task_in_project", "uom_id": HOURS_UOM, "uom_po_id": HOURS_UOM,
        "list_price": 150.0})  # fmt: skip
    return q2c.odoo.read("product.template", [template], ["product_variant_id"])[0][
        "product_variant_id"
    ][0]


def posted_invoice(q2c: QuoteToCashAdapter, product: int, email: str) -> tuple[int, int]:
    """(partner id, invoice id) of a posted 603.75 invoice for a new customer."""
    tag = uuid.uuid4().hex[:8]
    partner = q2c.upsert_customer(
        CustomerIn(external_id=f"co-{tag}", name=f"Client {tag}", email=email)
    ).company.id
    delivery = q2c.create_sale_order(SaleOrderIn(
        reference=f"deal-{tag}", partner_id=partner,
        lines=[OrderLineIn(product_id=product, quantity=10)]))  # fmt: skip
    q2c.log_timesheets([TimesheetIn(
        project_id=delivery.project_ids[0], task_id=delivery.task_ids[0],
        employee_id=ADMIN_EMPLOYEE, name="Workshop", hours=3.5, date="2026-11-22")])  # fmt: skip
    [invoice] = q2c.invoice_orders([delivery.order_id], InvoiceRequest(method="delivered"))
    return partner, invoice


def stripe_event(minor: int, **kwargs: object) -> dict[str, object]:
    return event("payment_intent.succeeded", payment_intent(minor, **kwargs))  # type: ignore[arg-type]


def payments_with_memo(q2c: QuoteToCashAdapter, memo: str) -> list[dict[str, object]]:
    return q2c.odoo.search_read("account.payment", [["memo", "=", memo]], ["amount", "state"])


def test_open_invoices_reads_posted_customer_invoices_with_a_residual(
    q2c: QuoteToCashAdapter, product: int
) -> None:
    partner, invoice_id = posted_invoice(q2c, product, "ap@open.example")
    [open_invoice] = open_invoices(q2c, [partner])
    name = q2c.invoice_states([invoice_id])[0].name
    assert open_invoice.id == invoice_id and open_invoice.name == name
    assert (open_invoice.partner_id, open_invoice.partner_email) == (partner, "ap@open.example")
    assert open_invoice.amount_residual == Decimal("603.75")
    assert open_invoice.amount_total == Decimal("603.75")
    assert open_invoice.currency == q2c.odoo.read(
        "res.currency", [q2c.odoo.read("account.move", [invoice_id], ["currency_id"])[0][
            "currency_id"][0]], ["name"])[0]["name"]  # fmt: skip
    assert invoice_id in {i.id for i in open_invoices(q2c.odoo)}  # the plain adapter works too
    assert open_invoices(q2c, []) == []


def test_full_payment_by_reference_pays_the_invoice(q2c: QuoteToCashAdapter, product: int) -> None:
    partner, invoice_id = posted_invoice(q2c, product, "ap@full.example")
    number = q2c.invoice_states([invoice_id])[0].name
    book = open_invoices(q2c, [partner])
    payment = payment_from_event(
        stripe_event(60375, currency=book[0].currency.lower(), metadata={"invoice": number})
    )
    match = match_payment(payment, book)
    assert (match.outcome, match.invoice_id) == ("matched", invoice_id)
    registered = register_stripe_payment(q2c, match, payment)
    assert registered.created and registered.payment_state == "paid"
    assert registered.amount_residual == Decimal("0.0")
    assert [p["amount"] for p in payments_with_memo(q2c, payment.stripe_id)] == [603.75]
    assert open_invoices(q2c, [partner]) == []


def test_partial_then_paid_by_amount_and_customer(q2c: QuoteToCashAdapter, product: int) -> None:
    partner, invoice_id = posted_invoice(q2c, product, "ap@partial.example")
    currency = open_invoices(q2c, [partner])[0].currency.lower()
    first = payment_from_event(stripe_event(20000, currency=currency, email="ap@partial.example"))
    first_match = match_payment(first, open_invoices(q2c, [partner]))
    assert first_match.outcome == "partial"
    assert register_stripe_payment(q2c, first_match, first).payment_state == "partial"
    [left] = open_invoices(q2c, [partner])
    assert left.amount_residual == Decimal("403.75")
    rest = payment_from_event(stripe_event(40375, currency=currency, email="AP@partial.example"))
    rest_match = match_payment(rest, [left])
    assert (rest_match.outcome, rest_match.matched_by) == ("matched", "amount_and_customer")
    done = register_stripe_payment(q2c, rest_match, rest)
    assert (done.payment_state, done.amount_residual) == ("paid", Decimal("0.0"))
    assert q2c.invoice_states([invoice_id])[0].payment_state == "paid"


def test_the_same_stripe_event_applied_twice_registers_one_payment(
    q2c: QuoteToCashAdapter, product: int
) -> None:
    partner, invoice_id = posted_invoice(q2c, product, "ap@twice.example")
    book = open_invoices(q2c, [partner])
    body = stripe_event(10000, currency=book[0].currency.lower(), email="ap@twice.example")
    payment = payment_from_event(body)
    match = match_payment(payment, book)
    assert find_registered(q2c, payment.stripe_id) is None
    first = register_stripe_payment(q2c, match, payment)
    # A re-delivery (or a replay after a crash) matches against the invoices as they are now,
    # and is still recognised by its memo: nothing is registered the second time.
    again = payment_from_event(body)
    second = register_stripe_payment(
        q2c, match_payment(again, open_invoices(q2c, [partner])), again
    )
    assert first.created and not second.created
    assert second.payment_id == first.payment_id == find_registered(q2c, payment.stripe_id)
    assert len(payments_with_memo(q2c, payment.stripe_id)) == 1
    [state] = q2c.invoice_states([invoice_id])
    assert (state.payment_state, state.amount_residual) == ("partial", pytest.approx(503.75))


def test_overpayment_applies_the_residual_and_reports_the_rest(
    q2c: QuoteToCashAdapter, product: int
) -> None:
    partner, invoice_id = posted_invoice(q2c, product, "ap@over.example")
    number = q2c.invoice_states([invoice_id])[0].name
    book = open_invoices(q2c, [partner])
    payment = payment_from_event(
        stripe_event(70000, currency=book[0].currency.lower(), metadata={"odoo_invoice": number})
    )
    registered = register_stripe_payment(q2c, match_payment(payment, book), payment)
    assert registered.amount == Decimal("603.75")
    assert registered.overpayment == Decimal("96.25")
    assert [p["amount"] for p in payments_with_memo(q2c, payment.stripe_id)] == [603.75]


def test_unmatched_payment_raises_the_exception_and_registers_nothing(
    q2c: QuoteToCashAdapter, product: int
) -> None:
    partner, _ = posted_invoice(q2c, product, "ap@stranger.example")
    book = open_invoices(q2c, [partner])
    payment = payment_from_event(
        stripe_event(12345, currency=book[0].currency.lower(), email="who@unknown.example")
    )
    with pytest.raises(BusinessRuleError) as refused:
        register_stripe_payment(q2c, match_payment(payment, book), payment)
    assert refused.value.rule == "stripe_payment_unmatched"
    assert refused.value.suggested_fix
    assert payments_with_memo(q2c, payment.stripe_id) == []
