"""The Odoo side of Stripe payments: the open invoices a payment may pay, and the payment already
registered for a Stripe id (``handoff.invoicing.payments`` registers a match, exactly once).

Idempotency: the payment is registered with the Stripe id as its memo (``account.payment.memo``
in Odoo 18, filled from the register wizard's ``communication``). Before registering, the memo is
searched: a re-delivery of the event, or a replay after a crash between "payment created in Odoo"
and "event marked done", finds the payment and does not register it again. Odoo creates the
payment and reconciles it in one transaction, so there is no half-registered state to repair.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from handoff.connectors.odoo.adapter import OdooAdapter
from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter

from .payments import OpenInvoice

OPEN_INVOICE_FIELDS = [
    "name",
    "partner_id",
    "currency_id",
    "amount_residual",
    "amount_total",
    "payment_reference",
]


class RegisteredPayment(BaseModel):
    """What registering did: ``created`` is False when the memo showed it was already done."""

    payment_id: int
    invoice_id: int
    stripe_id: str
    created: bool
    amount: Decimal
    overpayment: Decimal = Decimal(0)
    payment_state: str | None = None
    amount_residual: Decimal | None = None


def _adapter(target: QuoteToCashAdapter | OdooAdapter) -> OdooAdapter:
    return target.odoo if isinstance(target, QuoteToCashAdapter) else target


def _m2o(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, list | tuple) and value:
        return int(value[0]), str(value[1]) if len(value) > 1 else None
    return None, None


def odoo_decimal(value: Any) -> Decimal:
    # Odoo answers monetary fields as JSON floats; their shortest repr is the stored amount.
    return Decimal(repr(float(value or 0)))


def open_invoices(
    target: QuoteToCashAdapter | OdooAdapter, partner_ids: Sequence[int] | None = None
) -> list[OpenInvoice]:
    """Posted customer invoices with something left to pay, optionally of these partners."""
    odoo = _adapter(target)
    domain: list[Any] = [
        ["move_type", "=", "out_invoice"],
        ["state", "=", "posted"],
        ["amount_residual", ">", 0],
    ]
    if partner_ids is not None:
        if not partner_ids:
            return []
        domain.append(["partner_id", "in", list(partner_ids)])
    rows = odoo.search_read("account.move", domain, OPEN_INVOICE_FIELDS, order="id asc")
    partner_ids_found = sorted({p for r in rows if (p := _m2o(r["partner_id"])[0]) is not None})
    partners = (
        {p["id"]: p for p in odoo.read("res.partner", partner_ids_found, ["name", "email"])}
        if partner_ids_found
        else {}
    )
    currency_ids = sorted({c for r in rows if (c := _m2o(r["currency_id"])[0]) is not None})
    currencies = (
        {c["id"]: c["name"] for c in odoo.read("res.currency", currency_ids, ["name"])}
        if currency_ids
        else {}
    )
    invoices: list[OpenInvoice] = []
    for row in rows:
        partner_id, _ = _m2o(row["partner_id"])
        currency_id, currency_label = _m2o(row["currency_id"])
        partner = partners.get(partner_id or 0, {})
        invoices.append(
            OpenInvoice(
                id=row["id"],
                name=row["name"] or f"account.move {row['id']}",
                partner_id=partner_id,
                partner_name=partner.get("name") or None,
                partner_email=partner.get("email") or None,
                currency=str(currencies.get(currency_id or 0) or currency_label or "").upper(),
                amount_residual=odoo_decimal(row["amount_residual"]),
                amount_total=odoo_decimal(row["amount_total"]),
                payment_reference=row.get("payment_reference") or None,
            )
        )
    return invoices


def find_registered(target: QuoteToCashAdapter | OdooAdapter, stripe_id: str) -> int | None:
    """The ``account.payment`` already registered for this Stripe id, if any."""
    found = _adapter(target).search_read(
        "account.payment", [["memo", "=", stripe_id]], ["id"], order="id asc", limit=1
    )
    return int(found[0]["id"]) if found else None
