"""Stripe event bodies shaped like the API reference's (trimmed to the fields Handoff reads)."""

from __future__ import annotations

import itertools
import time
import uuid
from typing import Any

_serial = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:14]}{next(_serial)}"


def event(event_type: str, obj: dict[str, Any], *, event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


def payment_intent(
    amount: int,
    currency: str = "eur",
    *,
    customer: str | None = "cus_Acme",
    email: str | None = None,
    metadata: dict[str, str] | None = None,
    intent_id: str | None = None,
) -> dict[str, Any]:
    return {
        "id": intent_id or _id("pi"),
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": currency,
        "customer": customer,
        "receipt_email": email,
        "metadata": metadata or {},
        "status": "succeeded",
        "created": 1763900000,
    }


def charge(
    amount: int,
    currency: str = "eur",
    *,
    payment_intent_id: str | None = None,
    customer: str | None = "cus_Acme",
    email: str | None = None,
    metadata: dict[str, str] | None = None,
    refunded: int = 0,
    refund_id: str | None = None,
) -> dict[str, Any]:
    charge_id = _id("ch")
    refunds = (
        [{"id": refund_id, "object": "refund", "amount": refunded, "charge": charge_id}]
        if refund_id
        else []
    )
    return {
        "id": charge_id,
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": refunded,
        "refunded": refunded == amount,
        "currency": currency,
        "customer": customer,
        "payment_intent": payment_intent_id,
        "receipt_email": None,
        "billing_details": {"email": email, "name": None},
        "metadata": metadata or {},
        "refunds": {"object": "list", "data": refunds, "has_more": False},
        "created": 1763900000,
    }


def stripe_invoice(
    amount_paid: int,
    currency: str = "eur",
    *,
    payment_intent_id: str | None = None,
    customer: str | None = "cus_Acme",
    email: str | None = None,
    metadata: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": _id("in"),
        "object": "invoice",
        "amount_paid": amount_paid,
        "amount_due": amount_paid,
        "currency": currency,
        "customer": customer,
        "customer_email": email,
        "payment_intent": payment_intent_id,
        "metadata": metadata or {},
        "status": "paid",
        "created": 1763900000,
    }
