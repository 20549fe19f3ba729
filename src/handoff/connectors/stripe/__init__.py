"""Stripe: payments read from Stripe events, and matched to Odoo invoices (its webhook is received
by ``handoff.ingress.stripe``)."""

from .odoo_side import RegisteredPayment, find_registered, open_invoices, register_stripe_payment
from .payments import (
    OpenInvoice,
    Payment,
    PaymentMatch,
    PaymentParseError,
    match_payment,
    payment_exception,
    payment_from_event,
)

__all__ = [
    "OpenInvoice",
    "Payment",
    "PaymentMatch",
    "PaymentParseError",
    "RegisteredPayment",
    "find_registered",
    "match_payment",
    "open_invoices",
    "payment_exception",
    "payment_from_event",
    "register_stripe_payment",
]
