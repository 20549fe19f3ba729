"""Stripe-Signature verification (the facts-file vector and the official `stripe` library's own
signing) and every input at POST /webhooks/stripe, over real HTTP into the durable inbox (SQLite).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import stripe
from fastapi import FastAPI
from prometheus_client import REGISTRY

from connectors.stripe.stripe_events import charge, event, payment_intent, stripe_invoice
from handoff.ingress.router import SignatureError
from handoff.ingress.stripe import FLOW, sign, signature_header, verify_signature
from handoff.ingress.table import StripeWebhookSettings, stripe_webhook_router
from handoff.store.db import Store
from handoff.store.inbox import Inbox
from handoff.store.migrate import upgrade
from support.servers import serving

SECRET = "whsec_5a0fd1c1e0b34c6f9d2b7a1e"
VECTOR_SECRET = "whsec_test"
VECTOR_TIME = 1700000000
VECTOR_BODY = b'{"id":"evt_1"}'
VECTOR_SIGNATURE = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"


# -- signatures --------------------------------------------------------------------------------
def test_facts_file_vector() -> None:
    assert sign(VECTOR_SECRET, VECTOR_TIME, VECTOR_BODY) == VECTOR_SIGNATURE
    header = f"t={VECTOR_TIME},v1={VECTOR_SIGNATURE}"
    assert verify_signature(VECTOR_SECRET, VECTOR_BODY, header, now=VECTOR_TIME) == VECTOR_TIME


def reason_of(secret: str, body: bytes, header: str | None, now: float) -> str:
    with pytest.raises(SignatureError) as refused:
        verify_signature(secret, body, header, now=now)
    assert refused.value.detail
    return refused.value.reason


def test_tolerance_is_300_seconds_either_way() -> None:
    header = f"t={VECTOR_TIME},v1={VECTOR_SIGNATURE}"
    assert verify_signature(VECTOR_SECRET, VECTOR_BODY, header, now=VECTOR_TIME + 300)
    assert reason_of(VECTOR_SECRET, VECTOR_BODY, header, VECTOR_TIME + 301) == "stale_timestamp"
    assert reason_of(VECTOR_SECRET, VECTOR_BODY, header, VECTOR_TIME - 301) == "stale_timestamp"


def test_any_matching_v1_counts_and_other_schemes_are_ignored() -> None:
    # While a secret is rolled Stripe signs with both; v0 is a test-mode scheme we never trust.
    rolled = f"t={VECTOR_TIME},v1={'0' * 64},v0={VECTOR_SIGNATURE},v1={VECTOR_SIGNATURE}"
    assert verify_signature(VECTOR_SECRET, VECTOR_BODY, rolled, now=VECTOR_TIME)
    only_v0 = f"t={VECTOR_TIME},v0={VECTOR_SIGNATURE}"
    assert reason_of(VECTOR_SECRET, VECTOR_BODY, only_v0, VECTOR_TIME) == "missing_signature"


@pytest.mark.parametrize(
    ("header", "body", "secret", "reason"),
    [
        (None, VECTOR_BODY, VECTOR_SECRET, "missing_signature"),
        ("", VECTOR_BODY, VECTOR_SECRET, "missing_signature"),
        (f"v1={VECTOR_SIGNATURE}", VECTOR_BODY, VECTOR_SECRET, "bad_signature_header"),
        (f"t=soon,v1={VECTOR_SIGNATURE}", VECTOR_BODY, VECTOR_SECRET, "bad_signature_header"),
        (f"t={VECTOR_TIME},v1={VECTOR_SIGNATURE}", b'{"id":"evt_2"}', VECTOR_SECRET,
         "bad_signature"),
        (f"t={VECTOR_TIME},v1={VECTOR_SIGNATURE}", VECTOR_BODY, "whsec_other", "bad_signature"),
        (f"t={VECTOR_TIME + 1},v1={VECTOR_SIGNATURE}", VECTOR_BODY, VECTOR_SECRET,
         "bad_signature"),
        (f"t={VECTOR_TIME},v1={VECTOR_SIGNATURE}", VECTOR_BODY, "", "no_secret"),
    ],
)  # fmt: skip
def test_refusals(header: str | None, body: bytes, secret: str, reason: str) -> None:
    assert reason_of(secret, body, header, VECTOR_TIME) == reason


def test_the_official_library_signs_what_we_accept_and_accepts_what_we_sign() -> None:
    body = json.dumps(event("payment_intent.succeeded", payment_intent(12_345))).encode()
    theirs = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    assert verify_signature(SECRET, body, theirs)
    ours = signature_header(SECRET, body)
    assert stripe.WebhookSignature.verify_header(body, ours, SECRET, tolerance=300)
    constructed = stripe.Webhook.construct_event(body, ours, SECRET)
    assert constructed["type"] == "payment_intent.succeeded"
    # Both refuse the same tampering.
    tampered = body.replace(b"12345", b"12346")
    assert reason_of(SECRET, tampered, theirs, time.time()) == "bad_signature"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(tampered, ours, SECRET, tolerance=300)
    # Same timestamp, same body: byte-for-byte the same header.
    stamp = int(time.time())
    assert signature_header(SECRET, body, stamp) == (
        stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET, stamp)
    )


def test_the_official_library_agrees_on_stale_headers() -> None:
    body = json.dumps(event("charge.succeeded", charge(500))).encode()
    old = stripe.WebhookSignature.generate_signature_header(
        body.decode(), SECRET, int(time.time()) - 301
    )
    assert reason_of(SECRET, body, old, time.time()) == "stale_timestamp"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body, old, SECRET, tolerance=300)


# -- the endpoint ------------------------------------------------------------------------------
MAX_BODY = 16 * 1024


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Inbox:
    store = Store(f"sqlite:///{Path(tmp_path_factory.mktemp('inbox')) / 'hub.sqlite'}")
    upgrade(store)
    return Inbox(store)


@pytest.fixture(scope="module")
def base_url(inbox: Inbox) -> Iterator[str]:
    app = FastAPI()
    settings = StripeWebhookSettings(max_body_bytes=MAX_BODY)
    app.include_router(stripe_webhook_router(lambda: SECRET, inbox, settings))
    app.include_router(stripe_webhook_router(lambda: None, inbox), prefix="/unconfigured")
    with serving(app) as url:
        yield url


def post(base_url: str, body: bytes, header: str | None = "sign", path: str = "") -> httpx.Response:
    headers = {"content-type": "application/json"}
    if header == "sign":  # signed by the official library, as Stripe's servers would
        header = stripe.WebhookSignature.generate_signature_header(body.decode(), SECRET)
    if header is not None:
        headers["Stripe-Signature"] = header
    return httpx.post(
        f"{base_url}{path}/webhooks/stripe", content=body, headers=headers, timeout=10
    )


def stored(inbox: Inbox) -> int:
    return len(inbox.list(source="stripe", limit=100_000))


def metric(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def rejected(reason: str) -> float:
    return metric("handoff_webhook_rejected_total", {"source": "stripe", "reason": reason})


def accepted() -> float:
    return metric("handoff_webhook_events_total", {"source": "stripe"})


@pytest.mark.parametrize(
    ("body", "entity"),
    [
        (event("payment_intent.succeeded", payment_intent(60375, metadata={"invoice": " inv/2026/00012"})),
         "stripe:invoice:INV/2026/00012"),
        (event("charge.succeeded", charge(1000, customer="cus_Q1")), "stripe:customer:cus_Q1"),
        (event("invoice.paid", stripe_invoice(1000, customer=None, payment_intent_id="pi_X1")),
         "stripe:payment:pi_X1"),
        (event("charge.refunded", charge(1000, refunded=400, refund_id="re_1")),
         "stripe:customer:cus_Acme"),
    ],
)  # fmt: skip
def test_payment_events_are_stored_once_for_the_payment_flow(
    base_url: str, inbox: Inbox, body: dict[str, Any], entity: str
) -> None:
    raw = json.dumps(body).encode()
    before = accepted()
    first = post(base_url, raw)
    assert first.status_code == 200, first.text
    assert first.json()["duplicate"] is False
    row = inbox.get(first.json()["inbox_id"])
    assert row is not None
    assert (row.source_event_id, row.entity_key, row.kind, row.flow) == (
        body["id"], entity, body["type"], FLOW)  # fmt: skip
    assert row.payload["data"]["object"]["id"] == body["data"]["object"]["id"]
    rows = stored(inbox)
    again = post(base_url, raw)  # Stripe redelivers until it gets a 2xx
    assert again.status_code == 200
    assert again.json() == {"id": body["id"], "inbox_id": row.id, "duplicate": True}
    assert stored(inbox) == rows
    assert accepted() == before + 1


def test_other_event_types_are_acknowledged_counted_and_not_stored(
    base_url: str, inbox: Inbox
) -> None:
    body = event("customer.created", {"id": "cus_New", "object": "customer"})
    before_rows, before = (
        stored(inbox),
        metric("handoff_stripe_events_ignored_total", {"type": "customer.created"}),
    )
    response = post(base_url, json.dumps(body).encode())
    assert response.status_code == 200
    assert response.json() == {"id": body["id"], "ignored": "customer.created"}
    assert stored(inbox) == before_rows
    assert metric("handoff_stripe_events_ignored_total", {"type": "customer.created"}) == before + 1


def _unsigned_time(body: bytes, seconds_ago: int) -> str:
    return signature_header(SECRET, body, int(time.time()) - seconds_ago)


GOOD = json.dumps(event("payment_intent.succeeded", payment_intent(100))).encode()
NO_AMOUNT = event("payment_intent.succeeded", payment_intent(100))
del NO_AMOUNT["data"]["object"]["amount"], NO_AMOUNT["data"]["object"]["amount_received"]
NO_CURRENCY = event("charge.succeeded", charge(100))
NO_CURRENCY["data"]["object"]["currency"] = None


BAD_INPUTS = [
        (b'{"id": "evt_1", "type": ', "sign", 400, "malformed_json"),
        (b"\xff\xfe not utf-8", "sign", 400, "malformed_json"),
        (b'["evt_1"]', "sign", 400, "invalid_event"),
        (b'{"type": "charge.succeeded", "data": {"object": {}}}', "sign", 400, "invalid_event"),
        (b'{"id": "evt_9", "data": {"object": {}}}', "sign", 400, "invalid_event"),
        (b'{"id": "evt_9", "type": "charge.succeeded", "data": []}', "sign", 400, "invalid_event"),
        (json.dumps(NO_AMOUNT).encode(), "sign", 422, "invalid_payment"),
        (json.dumps(NO_CURRENCY).encode(), "sign", 422, "invalid_payment"),
        (GOOD, None, 400, "missing_signature"),
        (GOOD, f"t={int(time.time())}", 400, "missing_signature"),
        (GOOD, "v1=abc", 400, "bad_signature_header"),
        (GOOD, "wrong_secret", 400, "bad_signature"),
        (GOOD, "stale", 400, "stale_timestamp"),
        (b"{" + b" " * MAX_BODY + b"}", "sign", 413, "too_large"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "header", "status", "reason"),
    BAD_INPUTS,
    # Stable ids: some headers carry the current time, which differs between xdist workers.
    ids=[f"{index}-{case[3]}" for index, case in enumerate(BAD_INPUTS)],
)  # fmt: skip
def test_bad_input_is_refused_counted_and_nothing_is_stored(
    base_url: str, inbox: Inbox, body: bytes, header: str | None, status: int, reason: str
) -> None:
    # Headers carrying the time are made now: one made at import would be stale (> 300 s) in a
    # long run, and refused for that instead.
    if header == "stale":
        header = _unsigned_time(body, 301)
    elif header == "wrong_secret":
        header = signature_header("whsec_wrong", body)
    elif header == "sign":
        header = signature_header(SECRET, body)  # byte-exact even for non-UTF-8 bodies
    before_rows, before = stored(inbox), rejected(reason)
    response = post(base_url, body, header)
    assert response.status_code == status, response.text
    assert response.json()["error"] == reason
    assert response.json()["detail"]
    assert rejected(reason) == before + 1
    assert stored(inbox) == before_rows


def test_a_refused_event_can_still_be_delivered_later(base_url: str, inbox: Inbox) -> None:
    body = json.dumps(event("invoice.paid", stripe_invoice(2500))).encode()
    assert post(base_url, body, signature_header("whsec_wrong", body)).status_code == 400
    retry = post(base_url, body)
    assert retry.status_code == 200 and retry.json()["duplicate"] is False


def test_no_secret_configured_is_a_server_error_and_stores_nothing(
    base_url: str, inbox: Inbox
) -> None:
    before = stored(inbox)
    response = post(base_url, GOOD, path="/unconfigured")
    assert response.status_code == 500
    assert response.json()["error"] == "no_secret"
    assert stored(inbox) == before
