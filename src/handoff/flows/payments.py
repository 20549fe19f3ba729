"""Stripe payments: parse, find the open invoices, match, register on the Odoo invoice (once, by
the Stripe id as memo), then update the deal's invoice status in the CRM. An unmatched or
ambiguous payment fails the flow with an exception listing the candidate invoices."""

from __future__ import annotations

from typing import Any

from handoff.connectors.registry import connectors_for
from handoff.connectors.stripe import open_invoices, payment_from_event
from handoff.connectors.stripe.payments import OpenInvoice, Payment
from handoff.engine.flows import FlowEvent, flow
from handoff.engine.runtime import current_hub
from handoff.engine.steps import call
from handoff.engine.targets import current_target
from handoff.flows.gates import deal_key, satisfy_gate
from handoff.flows.invoicing import update_deal_status
from handoff.invoicing.payments import PaymentMatch, match_payment, register_stripe_payment
from handoff.invoicing.service import bound_orders
from handoff.invoicing.status import crm_deal

FLOW = "stripe_payment"
# A deposit taken before the order exists names its deal ("<crm>:<deal id>") in this metadata
# key; it lifts the deal's `deposit_paid` activation gate instead of paying an invoice.
DEPOSIT_METADATA_KEY = "handoff_deal"


def lift_deposit_gate(deal_ref: str, payment: Payment) -> str:
    crm, _, deal_id = deal_ref.partition(":")
    key = deal_key(crm, deal_id)
    satisfy_gate(
        current_hub(),
        key,
        "deposit_paid",
        by="stripe",
        evidence={
            "payment": payment.stripe_id,
            "amount": str(payment.amount),
            "currency": payment.currency,
        },
    )
    return key


def find_open_invoices() -> list[OpenInvoice]:
    return open_invoices(connectors_for(current_hub().settings).odoo())


def register(match: PaymentMatch, payment: Payment) -> dict[str, Any]:
    q2c = connectors_for(current_hub().settings).odoo()
    registered = register_stripe_payment(q2c, match, payment)
    if registered.created:
        current_hub().audit.record(
            actor="stripe",
            action="register_payment",
            system=current_target(),
            model="account.payment",
            record_id=str(registered.payment_id),
            canonical_id=f"stripe:{payment.stripe_id}",
            after=registered.model_dump(mode="json"),
        )
    return registered.model_dump(mode="json")


def deal_of_invoice(invoice_id: int) -> str | None:
    """The bound deal whose order the invoice comes from."""
    odoo = connectors_for(current_hub().settings).odoo().odoo
    [move] = odoo.read("account.move", [invoice_id], ["invoice_origin"])
    origin = move.get("invoice_origin")
    if not origin:
        return None
    orders = odoo.search_read("sale.order", [["name", "=", origin]], ["id"], limit=1)
    if not orders:
        return None
    return next(
        (b.deal_key for b in bound_orders(current_hub()) if b.order_id == orders[0]["id"]), None
    )


@flow(FLOW, queue="odoo")
def stripe_payment(event: FlowEvent) -> dict[str, Any]:
    payment = payment_from_event(event.payload)
    deposit_for = payment.metadata.get(DEPOSIT_METADATA_KEY)
    if deposit_for and payment.kind == "payment":
        key = call("handoff", "deposit_gate", lift_deposit_gate, str(deposit_for), payment)
        return {"deposit_for": key, "payment": payment.stripe_id}
    odoo = current_target()  # the Odoo of this Stripe account (systems.<stripe>.odoo)
    candidates = call(odoo, "open_invoices", find_open_invoices)
    match = match_payment(payment, candidates)
    registered = call(odoo, "register_payment", register, match, payment)
    deal_key = call(odoo, "deal_of_invoice", deal_of_invoice, registered["invoice_id"])
    if deal_key is not None:
        call(crm_deal(deal_key)[0], "invoice_status", update_deal_status, deal_key)
    return {**registered, "deal": deal_key}
