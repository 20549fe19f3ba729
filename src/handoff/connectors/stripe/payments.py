"""Stripe payments as the hub sees them, and the open Odoo invoices they may pay (pure functions).

A Stripe event becomes one canonical :class:`Payment`; which :class:`OpenInvoice` it pays is a
business rule of invoicing (``handoff.invoicing.payments.match_payment``).

Decisions (where the API facts leave a choice):
- The Stripe id of a payment is its PaymentIntent id when the object carries one (a charge, an
  invoice and the intent itself all name it), so ``payment_intent.succeeded``, ``charge.succeeded``
  and ``invoice.paid`` for one payment are one payment, registered once.
- A refund is never applied to an invoice automatically: it needs a credit note a person decides.
- Amounts are exact: minor units → ``Decimal`` by Stripe's currency exponent, never floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Stripe's minor units per currency (docs.stripe.com/currencies): most have 2 decimals; these have
# none or three. ISK, HUF and TWD are sent as two-decimal amounts by the API, so they stay at 2.
ZERO_DECIMAL_CURRENCIES = frozenset(
    {
        "BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA",
        "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    }
)  # fmt: skip
THREE_DECIMAL_CURRENCIES = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})

# Metadata keys a firm's checkout puts the Odoo invoice number under, in order of preference.
INVOICE_REFERENCE_KEYS = ("invoice", "invoice_number", "odoo_invoice")

PAYMENT_EVENTS = frozenset({"payment_intent.succeeded", "charge.succeeded", "invoice.paid"})
REFUND_EVENTS = frozenset({"charge.refunded"})
EVENTS_OF_INTEREST = PAYMENT_EVENTS | REFUND_EVENTS


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in ZERO_DECIMAL_CURRENCIES:
        return 0
    if code in THREE_DECIMAL_CURRENCIES:
        return 3
    return 2


def from_minor_units(amount: int, currency: str) -> Decimal:
    """``1050`` EUR → ``Decimal("10.50")``; ``1050`` JPY → ``Decimal("1050")``."""
    exponent = currency_exponent(currency)
    return Decimal(amount).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)))


def normalise_reference(reference: str) -> str:
    """Invoice numbers as people type them: ``" inv/2026/00012 "`` == ``"INV/2026/00012"``."""
    return re.sub(r"\s+", "", reference).upper()


class PaymentParseError(ValueError):
    """The event is of interest but lacks what a payment needs; ``detail`` names the field."""


class Payment(BaseModel):
    """One money movement at Stripe, in the hub's terms."""

    model_config = ConfigDict(frozen=True)

    stripe_id: str = Field(min_length=1)
    event_id: str | None = None
    event_type: str
    kind: Literal["payment", "refund"]
    amount: Decimal = Field(ge=0)
    currency: str = Field(min_length=3, max_length=3, description="ISO 4217, upper case")
    customer_id: str | None = None
    customer_email: str | None = None
    invoice_reference: str | None = Field(
        default=None, description="From metadata, as sent (not normalised)"
    )
    metadata: dict[str, str] = Field(default_factory=dict)
    created: datetime | None = None


def _id_of(value: Any) -> str | None:
    """Stripe fields are ids, or the object when expanded."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _integer(obj: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = obj.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise PaymentParseError(f"the {obj.get('object', 'object')} has no integer {' / '.join(names)}")


def invoice_reference(metadata: Mapping[str, Any]) -> str | None:
    for key in INVOICE_REFERENCE_KEYS:
        value = metadata.get(key)
        if isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
    return None


def payment_from_event(event: Mapping[str, Any]) -> Payment:
    """The canonical payment an event of interest stands for, or PaymentParseError."""
    event_type = event.get("type")
    if event_type not in EVENTS_OF_INTEREST:
        raise PaymentParseError(f"event type {event_type!r} is not a payment or refund")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise PaymentParseError("the event has no data.object")
    currency = obj.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise PaymentParseError(f"the {obj.get('object', 'object')} has no 3-letter currency")
    object_id = _id_of(obj.get("id"))
    if object_id is None:
        raise PaymentParseError("the event's data.object has no id")
    raw_metadata = obj.get("metadata")
    metadata: dict[str, Any] = raw_metadata if isinstance(raw_metadata, dict) else {}
    email = obj.get("receipt_email") or obj.get("customer_email")
    billing = obj.get("billing_details")
    if not email and isinstance(billing, dict):
        email = billing.get("email")
    kind: Literal["payment", "refund"] = "payment"
    if event_type == "payment_intent.succeeded":
        minor = _integer(obj, "amount_received", "amount")
        stripe_id = object_id
    elif event_type == "charge.succeeded":
        minor = _integer(obj, "amount_captured", "amount")
        stripe_id = _id_of(obj.get("payment_intent")) or object_id
    elif event_type == "invoice.paid":
        minor = _integer(obj, "amount_paid")
        stripe_id = _id_of(obj.get("payment_intent")) or object_id
    else:  # charge.refunded: the newest refund, else the charge's cumulative refunded amount
        kind = "refund"
        refunds = obj.get("refunds")
        latest = (refunds.get("data") or [None])[0] if isinstance(refunds, dict) else None
        if isinstance(latest, dict) and _id_of(latest.get("id")):
            minor = _integer(latest, "amount")
            stripe_id = str(latest["id"])
        else:
            minor = _integer(obj, "amount_refunded")
            stripe_id = f"{object_id}:refunded:{minor}"
    created = obj.get("created", event.get("created"))
    return Payment(
        stripe_id=stripe_id,
        event_id=_id_of(event.get("id")),
        event_type=str(event_type),
        kind=kind,
        amount=from_minor_units(minor, currency),
        currency=currency.upper(),
        customer_id=_id_of(obj.get("customer")),
        customer_email=email if isinstance(email, str) and email else None,
        invoice_reference=invoice_reference(metadata),
        metadata={str(k): str(v) for k, v in metadata.items()},
        created=datetime.fromtimestamp(created, tz=UTC) if isinstance(created, int) else None,
    )


# -- the invoices a payment may pay ---------------------------------------------------------------
class OpenInvoice(BaseModel):
    """A posted customer invoice in Odoo with something left to pay."""

    model_config = ConfigDict(frozen=True)

    id: int
    name: str
    partner_id: int | None = None
    partner_name: str | None = None
    partner_email: str | None = None
    currency: str = Field(description="ISO 4217, upper case")
    amount_residual: Decimal
    amount_total: Decimal
    payment_reference: str | None = None

    def references(self) -> set[str]:
        return {normalise_reference(r) for r in (self.name, self.payment_reference) if r}

    def summary(self) -> dict[str, Any]:
        return {
            "invoice_id": self.id,
            "number": self.name,
            "residual": str(self.amount_residual),
            "currency": self.currency,
            "partner_id": self.partner_id,
            "customer": self.partner_name or self.partner_email,
        }
