"""Which Odoo invoice a Stripe payment pays, and registering it there (business rules over the
Stripe connector's :class:`Payment` and the open invoices read from Odoo).

:func:`match_payment` decides, against the customer invoices still open in Odoo, which invoice a
payment pays and how much to apply; what cannot be decided becomes a :func:`payment_exception`
that lists the candidates and says what to do; :func:`register_stripe_payment` registers a match
on its invoice, once (the Stripe id is the memo, ``handoff.connectors.stripe.odoo_side``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
from handoff.connectors.stripe.odoo_side import RegisteredPayment, find_registered, odoo_decimal
from handoff.connectors.stripe.payments import (
    INVOICE_REFERENCE_KEYS,
    OpenInvoice,
    Payment,
    normalise_reference,
    quantize,
)

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


def register_stripe_payment(
    q2c: QuoteToCashAdapter,
    match: PaymentMatch,
    payment: Payment,
    *,
    journal_id: int | None = None,
) -> RegisteredPayment:
    """Register ``match.amount_to_apply`` on ``match.invoice_id`` with the Stripe id as memo.

    Raises the :func:`payment_exception` (a BusinessRuleError) when the match does not apply
    (unmatched, ambiguous, a refund). Skips registering when a payment with that memo exists.
    """
    if payment.kind != "payment" or not match.applies or match.invoice_id is None:
        raise payment_exception(payment, match)
    amount = match.amount_to_apply if match.amount_to_apply is not None else payment.amount
    existing = find_registered(q2c, payment.stripe_id)
    if existing is not None:
        payment_id, created = existing, False
    else:
        payment_id = q2c.register_payment(
            [match.invoice_id],
            amount=amount,  # Decimal up to the wire
            journal_id=journal_id,
            payment_date=payment.created.date() if payment.created else None,
            memo=payment.stripe_id,
        )
        created = True
    [state] = q2c.invoice_states([match.invoice_id])
    return RegisteredPayment(
        payment_id=payment_id,
        invoice_id=match.invoice_id,
        stripe_id=payment.stripe_id,
        created=created,
        amount=amount,
        overpayment=match.overpayment,
        payment_state=state.payment_state,
        amount_residual=odoo_decimal(state.amount_residual),
    )
