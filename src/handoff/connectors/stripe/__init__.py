"""Stripe: signed payment webhooks into the inbox, and payments matched to Odoo invoices."""

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
from .webhooks import (
    SignatureError,
    StripeWebhookSettings,
    signature_header,
    stripe_webhook_router,
    verify_signature,
)

__all__ = [
    "OpenInvoice",
    "Payment",
    "PaymentMatch",
    "PaymentParseError",
    "RegisteredPayment",
    "SignatureError",
    "StripeWebhookSettings",
    "find_registered",
    "match_payment",
    "open_invoices",
    "payment_exception",
    "payment_from_event",
    "register_stripe_payment",
    "signature_header",
    "stripe_webhook_router",
    "verify_signature",
]
