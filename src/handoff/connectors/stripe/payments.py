"""Stripe payments as the hub sees them, and which Odoo invoice each one pays (pure functions).

A Stripe event becomes one canonical :class:`Payment`; :func:`match_payment` decides, against the
customer invoices still open in Odoo, which invoice it pays and how much to apply; what cannot be
decided becomes a :func:`payment_exception` that lists the candidates and says what to do.

Decisions (where the API facts leave a choice):
- The Stripe id of a payment is its PaymentIntent id when the object carries one (a charge, an
  invoice and the intent itself all name it), so ``payment_intent.succeeded``, ``charge.succeeded``
  and ``invoice.paid`` for one payment are one payment, registered once.
- A refund is never applied to an invoice automatically: it needs a credit note a person decides.
- Amounts are exact: minor units → ``Decimal`` by Stripe's currency exponent, never floats.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.canonical.errors import BusinessRuleError

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


# -- matching ----------------------------------------------------------------------------------
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


Outcome = Literal["matched", "partial", "unmatched", "ambiguous"]


class PaymentMatch(BaseModel):
    """Which invoice a payment pays: ``invoice_id``/``amount_to_apply`` only when matched/partial."""

    outcome: Outcome
    invoice_id: int | None = None
    amount_to_apply: Decimal | None = None
    overpayment: Decimal = Decimal(0)
    matched_by: Literal["reference", "amount_and_customer", "only_open_invoice"] | None = None
    candidates: list[OpenInvoice] = Field(default_factory=list)
    reason: str

    @property
    def applies(self) -> bool:
        return self.outcome in ("matched", "partial")


def _apply(
    payment: Payment,
    invoice: OpenInvoice,
    matched_by: Literal["reference", "amount_and_customer", "only_open_invoice"],
    why: str,
) -> PaymentMatch:
    residual = quantize(invoice.amount_residual, payment.currency)
    if payment.amount < residual:
        return PaymentMatch(
            outcome="partial", invoice_id=invoice.id, amount_to_apply=payment.amount,
            matched_by=matched_by, candidates=[invoice],
            reason=f"{why}; pays {payment.amount} of {residual} {payment.currency} left",
        )  # fmt: skip
    overpayment = payment.amount - residual
    reason = f"{why}; pays the {residual} {payment.currency} left"
    if overpayment:
        reason += f" and {overpayment} more than the invoice needs (overpayment)"
    return PaymentMatch(
        outcome="matched", invoice_id=invoice.id, amount_to_apply=residual,
        overpayment=overpayment, matched_by=matched_by, candidates=[invoice], reason=reason,
    )  # fmt: skip


def _same_customer(
    payment: Payment, invoice: OpenInvoice, partner_for_customer: Mapping[str, int]
) -> bool:
    if payment.customer_id and partner_for_customer.get(payment.customer_id) == invoice.partner_id:
        return invoice.partner_id is not None
    email = (payment.customer_email or "").strip().lower()
    return bool(email) and email == (invoice.partner_email or "").strip().lower()


def match_payment(
    payment: Payment,
    open_invoices: Sequence[OpenInvoice],
    *,
    partner_for_customer: Mapping[str, int] | None = None,
) -> PaymentMatch:
    """Decide the invoice a payment pays.

    1. The invoice reference in the metadata (``invoice``/``invoice_number``/``odoo_invoice``),
       against the invoice number and its payment reference, normalised.
    2. Else the customer (``partner_for_customer`` maps Stripe customer ids to Odoo partners; the
       e-mail otherwise) and the exact residual; a customer with one open invoice in the currency
       gets the payment as partial or overpaid.
    Never across currencies; a refund is never applied.
    """
    mapped = partner_for_customer or {}
    if payment.kind == "refund":
        return PaymentMatch(
            outcome="unmatched",
            reason="a refund is not applied to an invoice automatically",
        )
    if payment.amount <= 0:
        return PaymentMatch(outcome="unmatched", reason="the payment amount is zero")
    same_currency = [i for i in open_invoices if i.currency.upper() == payment.currency]
    if payment.invoice_reference:
        wanted = normalise_reference(payment.invoice_reference)
        by_reference = [i for i in open_invoices if wanted in i.references()]
        in_currency = [i for i in by_reference if i.currency.upper() == payment.currency]
        if len(in_currency) == 1:
            return _apply(
                payment, in_currency[0], "reference",
                f"invoice reference {payment.invoice_reference!r} is {in_currency[0].name}",
            )  # fmt: skip
        if len(in_currency) > 1:
            return PaymentMatch(
                outcome="ambiguous", candidates=in_currency, matched_by="reference",
                reason=f"invoice reference {payment.invoice_reference!r} names "
                f"{len(in_currency)} open invoices",
            )  # fmt: skip
        if by_reference:
            other = ", ".join(sorted({i.currency for i in by_reference}))
            return PaymentMatch(
                outcome="unmatched", candidates=by_reference,
                reason=f"invoice reference {payment.invoice_reference!r} is invoiced in {other}, "
                f"the payment is in {payment.currency}; payments are never applied across "
                "currencies",
            )  # fmt: skip
    customers = [i for i in same_currency if _same_customer(payment, i, mapped)]
    exact = [
        i for i in customers if quantize(i.amount_residual, payment.currency) == payment.amount
    ]
    unknown_reference = (
        f"no open invoice has reference {payment.invoice_reference!r}; "
        if payment.invoice_reference
        else ""
    )
    if len(exact) == 1:
        return _apply(
            payment, exact[0], "amount_and_customer",
            f"{unknown_reference}the customer's only open invoice of exactly {payment.amount} "
            f"{payment.currency} is {exact[0].name}",
        )  # fmt: skip
    if len(exact) > 1:
        return PaymentMatch(
            outcome="ambiguous", candidates=exact,
            reason=f"{unknown_reference}the customer has {len(exact)} open invoices of exactly "
            f"{payment.amount} {payment.currency}",
        )  # fmt: skip
    if len(customers) == 1:
        return _apply(
            payment, customers[0], "only_open_invoice",
            f"{unknown_reference}{customers[0].name} is the customer's only open invoice in "
            f"{payment.currency}",
        )  # fmt: skip
    if customers:
        return PaymentMatch(
            outcome="ambiguous", candidates=customers,
            reason=f"{unknown_reference}the customer has {len(customers)} open invoices in "
            f"{payment.currency} and none of exactly {payment.amount}",
        )  # fmt: skip
    # Nothing for this customer: list what a person would look at next.
    same_amount = [
        i for i in same_currency if quantize(i.amount_residual, payment.currency) == payment.amount
    ]
    other_currency = [
        i
        for i in open_invoices
        if i.currency.upper() != payment.currency and _same_customer(payment, i, mapped)
    ]
    who = payment.customer_email or payment.customer_id or "an unknown customer"
    return PaymentMatch(
        outcome="unmatched",
        candidates=same_amount + other_currency,
        reason=f"{unknown_reference}no open invoice in {payment.currency} for {who}",
    )


def payment_exception(payment: Payment, match: PaymentMatch) -> BusinessRuleError:
    """What a person reads when a payment could not be applied, with the invoices to choose from."""
    candidates = [c.summary() for c in match.candidates]
    listed = (
        "; ".join(
            f"{c['number']} (id {c['invoice_id']}, {c['residual']} {c['currency']} left, "
            f"{c['customer'] or 'partner ' + str(c['partner_id'])})"
            for c in candidates
        )
        or "none"
    )
    if payment.kind == "refund":
        fix = (
            "Issue a credit note for the refunded invoice in Odoo (or record the refund as an "
            "outbound payment), then mark this exception resolved."
        )
    elif match.outcome == "ambiguous":
        fix = (
            f"Register the payment on the right invoice in Odoo with memo {payment.stripe_id} "
            "(then replay: it is detected and skipped), or add the invoice number to the "
            f"payment's metadata under {INVOICE_REFERENCE_KEYS[0]!r} and replay."
        )
    else:
        fix = (
            "Find the invoice this payment is for; register it in Odoo with memo "
            f"{payment.stripe_id}, or map the Stripe customer {payment.customer_id or '?'} to "
            "its Odoo partner and replay. If no invoice exists yet, create it first."
        )
    return BusinessRuleError(
        f"Stripe {payment.kind} {payment.stripe_id} of {payment.amount} {payment.currency} is "
        f"{match.outcome}: {match.reason}. Candidate invoices: {listed}.",
        rule=f"stripe_payment_{match.outcome}",
        value={"stripe_id": payment.stripe_id, "amount": str(payment.amount),
               "currency": payment.currency},
        suggested_fix=fix,
        context={
            "stripe_id": payment.stripe_id,
            "event_id": payment.event_id,
            "customer_id": payment.customer_id,
            "customer_email": payment.customer_email,
            "invoice_reference": payment.invoice_reference,
            "candidates": candidates,
        },
    )  # fmt: skip
