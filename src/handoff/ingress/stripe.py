"""Stripe webhooks: `Stripe-Signature` verification (pure), the payment event a body stands for,
and the handler of `POST /webhooks/stripe` (its row: ``handoff.ingress.table``).

`Stripe-Signature: t=<unix s>,v1=<hex>[,v1=...]`, v1 = hex(HMAC-SHA256(endpoint secret,
f"{t}.{raw body}")); any v1 that matches counts (Stripe sends several while a secret is rolled);
other schemes (v0) are ignored; the timestamp must be within 300 s. Stripe's own library only
refuses old timestamps; we also refuse ones more than the tolerance in the future (a skewed or
forged clock), which Stripe never sends.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter

from handoff.connectors.stripe.payments import (
    EVENTS_OF_INTEREST,
    Payment,
    PaymentParseError,
    normalise_reference,
    payment_from_event,
)
from handoff.ingress.bodies import BodyRefused, EventError, off_loop, parse_json
from handoff.ingress.inbox import EventInbox, accept
from handoff.ingress.router import Handler, Received, Refused, SignatureError, Signed
from handoff.observability.webhook_metrics import WEBHOOK_EVENTS
from handoff.store.inbox import IncomingEvent

SOURCE = "stripe"
FLOW = "stripe_payment"
SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
# Stripe events are single objects of a few KB; a megabyte is generous and bounds the work.
MAX_STRIPE_BODY_BYTES = 1024 * 1024
# Stripe's ids are ~30 characters and its largest amount is 8 digits in minor units (99,999,999);
# anything far beyond is not Stripe and must not reach a ledger.
MAX_ID_LENGTH = 255
MAX_TYPE_LENGTH = 128
MAX_AMOUNT = Decimal(10) ** 10
MAX_UNIX_SECONDS = 253_402_300_799  # 9999-12-31T23:59:59Z

STRIPE_IGNORED = Counter(
    "handoff_stripe_events_ignored_total",
    "Verified Stripe events acknowledged but not acted on, by event type",
    ["type"],
)


# -- signatures (pure) -------------------------------------------------------------------------
def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` value, for the sandbox and for tests."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={sign(secret, moment, body)}"


def parse_signature_header(header: str) -> tuple[int, list[str]]:
    """(timestamp, v1 signatures) from a `Stripe-Signature` value, or SignatureError."""
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if not (value.isascii() and value.isdigit() and len(value) <= 12):
                raise SignatureError("bad_signature_header", f"t={value!r} is not unix seconds.")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.lower())
    if timestamp is None:
        raise SignatureError("bad_signature_header", f"{SIGNATURE_HEADER} has no t=<timestamp>.")
    if not signatures:
        raise SignatureError("missing_signature", f"{SIGNATURE_HEADER} has no v1 signature.")
    return timestamp, signatures


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> int:
    """The signed timestamp when one v1 signature matches within the tolerance; SignatureError else."""
    if not secret:
        raise SignatureError("no_secret", "No Stripe endpoint secret is configured.")
    if not header:
        raise SignatureError("missing_signature", f"No {SIGNATURE_HEADER} header was sent.")
    timestamp, signatures = parse_signature_header(header)
    age = (time.time() if now is None else now) - timestamp
    if age > tolerance:
        raise SignatureError(
            "stale_timestamp", f"Signed {age:.0f} s ago; the tolerance is {tolerance:.0f} s."
        )
    if age < -tolerance:
        raise SignatureError(
            "stale_timestamp",
            f"Signed {-age:.0f} s in the future; the tolerance is {tolerance:.0f} s.",
        )
    expected = sign(secret, timestamp, body).encode()
    # Compare against every v1 (constant time each, and no early exit that reveals which matched).
    # Bytes, not str: compare_digest refuses a str holding non-ASCII (a header can).
    matched = [
        hmac.compare_digest(expected, given.encode("utf-8", "replace")) for given in signatures
    ]
    if not any(matched):
        raise SignatureError("bad_signature", f"No v1 signature in {SIGNATURE_HEADER} matches.")
    return timestamp


# -- events ------------------------------------------------------------------------------------
def parse_event(body: bytes) -> dict[str, Any]:
    """The Stripe event object, checked for what every event has (`id`, `type`, `data.object`).
    The JSON itself is bounded (``handoff.ingress.bodies.parse_json``): depth, numbers, text."""
    try:
        event = parse_json(body)
    except BodyRefused as refused:
        raise EventError(refused.reason, refused.detail, refused.status) from None
    if not isinstance(event, dict):
        raise EventError(
            "invalid_event", f"Body must be an event object, got {type(event).__name__}."
        )
    if not isinstance(event.get("id"), str) or not event["id"]:
        raise EventError("invalid_event", "The event has no id.")
    if len(event["id"]) > MAX_ID_LENGTH:
        raise EventError(
            "invalid_event",
            f"The event id has {len(event['id'])} characters (at most {MAX_ID_LENGTH}).",
        )
    if not isinstance(event.get("type"), str) or not event["type"]:
        raise EventError("invalid_event", f"Event {event['id']} has no type.")
    if len(event["type"]) > MAX_TYPE_LENGTH:
        raise EventError(
            "invalid_event", f"Event {event['id']}: a type of {len(event['type'])} characters."
        )
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise EventError("invalid_event", f"Event {event['id']} has no data.object.")
    return event


def _beyond_limits(payment: Payment) -> str | None:
    """What makes a parsed payment one Stripe never sends, or None."""
    if payment.amount < 0:
        return f"amount {payment.amount} is negative (a refund is its own event type)"
    if payment.amount > MAX_AMOUNT:
        return f"amount {payment.amount} {payment.currency} is beyond {MAX_AMOUNT}"
    if not payment.currency.isascii() or not payment.currency.isalpha():
        return f"currency {payment.currency!r} is not an ISO 4217 code"
    for name in ("stripe_id", "customer_id", "invoice_reference", "customer_email"):
        value = getattr(payment, name)
        if value is not None and len(value) > MAX_ID_LENGTH:
            return f"{name} has {len(value)} characters (at most {MAX_ID_LENGTH})"
    return None


def incoming_event(event: dict[str, Any]) -> IncomingEvent:
    """The inbox row for an event of interest; 422 EventError when it is not a usable payment."""
    try:
        payment = payment_from_event(event)
    except PaymentParseError as error:
        raise EventError("invalid_payment", f"Event {event['id']}: {error}.", 422) from None
    except (ValueError, TypeError, ArithmeticError, OSError, IndexError) as error:
        # A shape Stripe never sends (a timestamp past year 9999, a list where an object goes...).
        raise EventError(
            "invalid_payment", f"Event {event['id']}: {type(error).__name__}: {error}"[:300], 422
        ) from None
    problem = _beyond_limits(payment)
    if problem:
        raise EventError("invalid_payment", f"Event {event['id']}: {problem}.", 422)
    if payment.invoice_reference:
        entity = f"{SOURCE}:invoice:{normalise_reference(payment.invoice_reference)}"
    elif payment.customer_id:
        entity = f"{SOURCE}:customer:{payment.customer_id}"
    else:
        entity = f"{SOURCE}:payment:{payment.stripe_id}"
    created = event.get("created")
    if not (isinstance(created, int) and 0 <= created <= MAX_UNIX_SECONDS):
        created = None
    return IncomingEvent(
        source_event_id=event["id"],
        entity_key=entity[:255],
        kind=event["type"],
        occurred_at=datetime.fromtimestamp(created, tz=UTC) if created is not None else None,
        payload=event,
        flow=FLOW,
    )


# -- the scheme and the handler -----------------------------------------------------------------
@dataclass(frozen=True)
class StripeSignature:
    """`Stripe-Signature: t=...,v1=...` within ``tolerance_seconds`` either way."""

    tolerance_seconds: float = TOLERANCE_SECONDS

    def verify(self, secret: str, request: Signed, now: float) -> None:
        header = request.headers.get(SIGNATURE_HEADER.lower())
        verify_signature(secret, request.body, header, now=now, tolerance=self.tolerance_seconds)


def stripe_handler(inbox: EventInbox) -> Handler:
    """Store payments in the inbox for `stripe_payment`. Other event types are answered 200
    `{"ignored": type}` and counted; an event already in the inbox (Stripe redelivers) is
    answered 200 with `duplicate: true`."""

    async def handle(received: Received) -> Response:
        body = received.body
        try:
            event = await off_loop(len(body), parse_event, body)
            if event["type"] not in EVENTS_OF_INTEREST:
                STRIPE_IGNORED.labels(type=event["type"][:64]).inc()
                return JSONResponse({"id": event["id"], "ignored": event["type"]})
            incoming = incoming_event(event)
        except EventError as error:
            raise Refused(error.status_code, error.reason, error.detail) from None
        results = await accept(inbox, received.source, [incoming])
        [result] = results
        if not result.duplicate:
            WEBHOOK_EVENTS.labels(source=received.source).inc()
        return JSONResponse(
            {"id": event["id"], "inbox_id": result.inbox_id, "duplicate": result.duplicate}
        )

    return handle
