"""Stripe events to canonical payments, and which open invoice each pays (pure functions)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.stripe.stripe_events import charge, event, payment_intent, stripe_invoice
from handoff.canonical.errors import BusinessRuleError, ErrorKind
from handoff.connectors.stripe.payments import (
    OpenInvoice,
    Payment,
    PaymentParseError,
    from_minor_units,
    normalise_reference,
    payment_from_event,
)
from handoff.invoicing.payments import match_payment, payment_exception


# -- events to payments ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("minor", "currency", "expected"),
    [(60375, "eur", "603.75"), (60375, "JPY", "60375"), (60375, "kwd", "60.375"),
     (5, "usd", "0.05"), (0, "eur", "0.00"), (123400, "isk", "1234.00")],
)  # fmt: skip
def test_minor_units_by_currency_exponent(minor: int, currency: str, expected: str) -> None:
    amount = from_minor_units(minor, currency)
    assert isinstance(amount, Decimal) and str(amount) == expected


def test_payment_intent_succeeded() -> None:
    body = event(
        "payment_intent.succeeded",
        payment_intent(60375, customer="cus_9", email="ap@acme.example",
                       metadata={"invoice_number": "INV/2026/00012", "deal": "42"}),
    )  # fmt: skip
    payment = payment_from_event(body)
    assert payment.stripe_id == body["data"]["object"]["id"]
    assert payment.event_id == body["id"]
    assert (payment.kind, payment.amount, payment.currency) == ("payment", Decimal("603.75"), "EUR")
    assert (payment.customer_id, payment.customer_email) == ("cus_9", "ap@acme.example")
    assert payment.invoice_reference == "INV/2026/00012"
    assert payment.metadata == {"invoice_number": "INV/2026/00012", "deal": "42"}
    assert payment.created is not None and payment.created.year == 2025


def test_charge_and_invoice_of_one_intent_are_one_payment() -> None:
    # Subscribed to all three, Stripe sends three events for one payment: one Stripe id.
    intent = payment_intent(1000)
    ids = {
        payment_from_event(event("payment_intent.succeeded", intent)).stripe_id,
        payment_from_event(
            event("charge.succeeded", charge(1000, payment_intent_id=intent["id"]))
        ).stripe_id,
        payment_from_event(
            event("invoice.paid", stripe_invoice(1000, payment_intent_id=intent["id"]))
        ).stripe_id,
    }
    assert ids == {intent["id"]}


def test_charge_without_intent_and_expanded_customer() -> None:
    obj = charge(2500, "gbp", email="pay@x.io")
    obj["customer"] = {"id": "cus_Expanded", "object": "customer"}
    payment = payment_from_event(event("charge.succeeded", obj))
    assert payment.stripe_id == obj["id"]
    assert (payment.customer_id, payment.customer_email) == ("cus_Expanded", "pay@x.io")
    assert payment.amount == Decimal("25.00") and payment.currency == "GBP"


def test_refund_is_the_newest_refund() -> None:
    payment = payment_from_event(
        event("charge.refunded", charge(10000, refunded=2500, refund_id="re_42"))
    )
    assert (payment.kind, payment.stripe_id, payment.amount) == (
        "refund",
        "re_42",
        Decimal("25.00"),
    )
    without_list = charge(10000, refunded=10000)
    fallback = payment_from_event(event("charge.refunded", without_list))
    assert fallback.stripe_id == f"{without_list['id']}:refunded:10000"
    assert fallback.amount == Decimal("100.00")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e.update(type="customer.created"), "not a payment"),
        (lambda e: e.update(data={}), "data.object"),
        (lambda e: e["data"]["object"].update(currency="euro"), "currency"),
        (lambda e: e["data"]["object"].update(amount="10", amount_received=None), "integer"),
        (lambda e: e["data"]["object"].update(amount=True, amount_received=None), "integer"),
        (lambda e: e["data"]["object"].pop("id"), "no id"),
    ],
)
def test_unusable_events_say_what_is_missing(mutate: Any, message: str) -> None:
    body = event("payment_intent.succeeded", payment_intent(100))
    mutate(body)
    with pytest.raises(PaymentParseError, match=message):
        payment_from_event(body)


# -- matching ----------------------------------------------------------------------------------
def invoice(id: int, name: str, residual: str, *, partner: int = 7, currency: str = "EUR",
            email: str | None = "ap@acme.example", total: str | None = None,
            payment_reference: str | None = None) -> OpenInvoice:  # fmt: skip
    return OpenInvoice(
        id=id, name=name, partner_id=partner, partner_name=f"Partner {partner}",
        partner_email=email, currency=currency, amount_residual=Decimal(residual),
        amount_total=Decimal(total or residual), payment_reference=payment_reference,
    )  # fmt: skip


def pay(amount: str, *, currency: str = "EUR", reference: str | None = None,
        email: str | None = "ap@acme.example", customer: str | None = "cus_Acme") -> Payment:  # fmt: skip
    return Payment(
        stripe_id="pi_T", event_id="evt_T", event_type="payment_intent.succeeded",
        kind="payment", amount=Decimal(amount), currency=currency, customer_id=customer,
        customer_email=email, invoice_reference=reference,
    )  # fmt: skip


BOOK = [
    invoice(1, "INV/2026/00001", "603.75"),
    invoice(2, "INV/2026/00002", "1200.00"),
    invoice(3, "INV/2026/00003", "603.75", partner=8, email="other@beta.example"),
    invoice(4, "INV/2026/00004", "300.00", partner=9, email="gbp@gamma.example", currency="GBP"),
]


def test_normalised_reference() -> None:
    assert normalise_reference(" inv/2026/ 00012\n") == "INV/2026/00012"


@pytest.mark.parametrize("key", ["invoice", "invoice_number", "odoo_invoice"])
def test_reference_in_metadata_wins_over_amount(key: str) -> None:
    body = event("payment_intent.succeeded",
                 payment_intent(120000, metadata={key: "inv/2026/00002 "}))  # fmt: skip
    match = match_payment(payment_from_event(body), BOOK)
    assert (match.outcome, match.invoice_id, match.matched_by) == ("matched", 2, "reference")
    assert match.amount_to_apply == Decimal("1200.00") and match.overpayment == 0


def test_reference_matches_the_invoice_payment_reference_too() -> None:
    book = [invoice(5, "INV/2026/00005", "50.00", payment_reference="RF18 5390 0754 7034")]
    match = match_payment(pay("50.00", reference="rf1853900754 7034"), book)
    assert (match.outcome, match.invoice_id) == ("matched", 5)


def test_reference_smaller_payment_is_partial() -> None:
    match = match_payment(pay("200.00", reference="INV/2026/00002"), BOOK)
    assert (match.outcome, match.invoice_id, match.amount_to_apply) == (
        "partial", 2, Decimal("200.00"))  # fmt: skip
    assert "200.00 of 1200.00" in match.reason


def test_larger_payment_applies_the_residual_and_flags_overpayment() -> None:
    match = match_payment(pay("700.00", reference="INV/2026/00001"), BOOK)
    assert (match.outcome, match.invoice_id) == ("matched", 1)
    assert match.amount_to_apply == Decimal("603.75")
    assert match.overpayment == Decimal("96.25")
    assert "overpayment" in match.reason


def test_exact_amount_and_customer_email() -> None:
    match = match_payment(pay("603.75"), BOOK)  # invoice 3 has the amount but another customer
    assert (match.outcome, match.invoice_id, match.matched_by) == (
        "matched", 1, "amount_and_customer")  # fmt: skip


def test_email_is_compared_case_insensitively() -> None:
    match = match_payment(pay("603.75", email="AP@Acme.Example "), BOOK)
    assert match.invoice_id == 1


def test_mapped_partner_matches_without_email() -> None:
    match = match_payment(pay("603.75", email=None, customer="cus_Beta"), BOOK,
                          partner_for_customer={"cus_Beta": 8})  # fmt: skip
    assert (match.outcome, match.invoice_id) == ("matched", 3)


def test_same_amount_two_invoices_of_the_customer_is_ambiguous() -> None:
    book = [*BOOK, invoice(6, "INV/2026/00006", "603.75")]
    match = match_payment(pay("603.75"), book)
    assert match.outcome == "ambiguous" and match.invoice_id is None
    assert [c.id for c in match.candidates] == [1, 6]


def test_no_exact_amount_among_several_invoices_is_ambiguous() -> None:
    match = match_payment(pay("100.00"), BOOK)
    assert match.outcome == "ambiguous"
    assert [c.id for c in match.candidates] == [1, 2]


def test_a_customers_only_open_invoice_takes_a_partial_payment() -> None:
    match = match_payment(pay("100.00", email="other@beta.example"), BOOK)
    assert (match.outcome, match.invoice_id, match.matched_by) == (
        "partial", 3, "only_open_invoice")  # fmt: skip
    assert match.amount_to_apply == Decimal("100.00")


def test_never_across_currencies() -> None:
    # Same customer, same figure, other currency: not applied.
    by_amount = match_payment(pay("300.00", currency="EUR", email="gbp@gamma.example"), BOOK)
    assert by_amount.outcome == "unmatched" and by_amount.invoice_id is None
    assert [c.id for c in by_amount.candidates] == [4]
    by_reference = match_payment(pay("300.00", currency="USD", reference="INV/2026/00004"), BOOK)
    assert by_reference.outcome == "unmatched"
    assert "never applied across currencies" in by_reference.reason
    assert [c.id for c in by_reference.candidates] == [4]


def test_unknown_customer_is_unmatched_with_same_amount_candidates() -> None:
    match = match_payment(pay("603.75", email="nobody@x.io", customer="cus_Unknown"), BOOK)
    assert match.outcome == "unmatched"
    assert [c.id for c in match.candidates] == [1, 3]
    assert "nobody@x.io" in match.reason


def test_unknown_reference_falls_back_to_amount_and_customer() -> None:
    match = match_payment(pay("1200.00", reference="INV/1999/99999"), BOOK)
    assert (match.outcome, match.invoice_id) == ("matched", 2)
    assert "INV/1999/99999" in match.reason


def test_refunds_are_never_applied() -> None:
    refund = pay("603.75", reference="INV/2026/00001").model_copy(update={"kind": "refund"})
    assert match_payment(refund, BOOK).outcome == "unmatched"


def test_rounding_to_the_currency_exponent_before_comparing() -> None:
    book = [invoice(7, "INV/2026/00007", "99.9999999")]  # a float that came back from Odoo
    match = match_payment(pay("100.00"), book)
    assert (match.outcome, match.amount_to_apply, match.overpayment) == (
        "matched", Decimal("100.00"), Decimal("0.00"))  # fmt: skip


# -- exceptions --------------------------------------------------------------------------------
def test_exception_lists_the_candidates_and_what_to_do() -> None:
    book = [*BOOK, invoice(6, "INV/2026/00006", "603.75")]
    payment = pay("603.75")
    error = payment_exception(payment, match_payment(payment, book))
    assert isinstance(error, BusinessRuleError) and error.kind is ErrorKind.BUSINESS_RULE
    assert error.rule == "stripe_payment_ambiguous"
    assert "INV/2026/00001 (id 1, 603.75 EUR left, Partner 7)" in error.message
    assert "INV/2026/00006 (id 6" in error.message
    assert error.suggested_fix and "memo pi_T" in error.suggested_fix
    assert [c["invoice_id"] for c in error.context["candidates"]] == [1, 6]
    assert error.value == {"stripe_id": "pi_T", "amount": "603.75", "currency": "EUR"}


def test_unmatched_exception_says_how_to_map_the_customer() -> None:
    payment = pay("5.00", email=None, customer="cus_Lost")
    error = payment_exception(payment, match_payment(payment, BOOK))
    assert error.rule == "stripe_payment_unmatched"
    assert "Candidate invoices: none" in error.message
    assert error.suggested_fix and "cus_Lost" in error.suggested_fix
