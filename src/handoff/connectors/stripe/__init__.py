"""Stripe: payments read from Stripe events and the Odoo invoices they may pay (its webhook is
received by ``handoff.ingress.stripe``; which invoice a payment pays is
``handoff.invoicing.payments``)."""

from .odoo_side import RegisteredPayment, find_registered, open_invoices
from .payments import (
    OpenInvoice,
    Payment,
    PaymentParseError,
    payment_from_event,
)

__all__ = [
    "OpenInvoice",
    "Payment",
    "PaymentParseError",
    "RegisteredPayment",
    "find_registered",
    "open_invoices",
    "payment_from_event",
]
