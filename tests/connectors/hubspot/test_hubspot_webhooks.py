"""HubSpot webhook signatures (vectors from crm-apis.md) and every bad input at POST /webhooks/hubspot.

The router runs under uvicorn on loopback with the real durable inbox on SQLite; requests are
real HTTP, signed the way HubSpot signs them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from handoff.ingress.hubspot import sign_v1, sign_v2, sign_v3, verify_signature
from handoff.ingress.router import SignatureError
from handoff.ingress.table import WebhookSettings, hubspot_webhook_router
from handoff.store.db import Store
from handoff.store.inbox import Inbox, IncomingEvent
from handoff.store.migrate import upgrade
from handoff_sandbox.hubspot.testing import serve_app_in_thread

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
V1_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
EXAMPLE_URI = "https://www.example.com/webhook_uri"
EXAMPLE_BODY = b'{"example_field":"example_value"}'


# -- test vectors ------------------------------------------------------------------------------
def test_v1_vector() -> None:
    assert (
        sign_v1(SECRET, V1_BODY)
        == "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    )


def test_v2_vectors() -> None:
    assert (
        sign_v2(SECRET, "GET", EXAMPLE_URI, b"")
        == "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    )
    assert (
        sign_v2(SECRET, "POST", EXAMPLE_URI, EXAMPLE_BODY)
        == "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"
    )


def test_v3_vector() -> None:
    assert (
        sign_v3(SECRET, "POST", EXAMPLE_URI, EXAMPLE_BODY, "1700000000000")
        == "rQEKkaNUiu+1qGF//O/pw4BCzstSqO1PyUnGICmf+7o="
    )


def _v3_headers(body: bytes, uri: str, timestamp: str, secret: str = SECRET) -> dict[str, str]:
    return {
        "x-hubspot-signature-v3": sign_v3(secret, "POST", uri, body, timestamp),
        "x-hubspot-request-timestamp": timestamp,
    }


def test_verify_v3_accepts_within_five_minutes_and_refuses_older() -> None:
    headers = _v3_headers(EXAMPLE_BODY, EXAMPLE_URI, "1700000000000")
    verify = dict(secret=SECRET, method="POST", uri=EXAMPLE_URI, body=EXAMPLE_BODY, headers=headers)
    assert verify_signature(**verify, now=1700000000 + 299) == "v3"
    with pytest.raises(SignatureError) as stale:
        verify_signature(**verify, now=1700000000 + 301)
    assert stale.value.reason == "stale_timestamp"


def test_verify_v3_refuses_tampered_body_and_wrong_secret() -> None:
    headers = _v3_headers(EXAMPLE_BODY, EXAMPLE_URI, "1700000000000")
    with pytest.raises(SignatureError) as tampered:
        verify_signature(
            secret=SECRET,
            method="POST",
            uri=EXAMPLE_URI,
            body=EXAMPLE_BODY + b" ",
            headers=headers,
            now=1700000000,
        )
    assert tampered.value.reason == "bad_signature"
    with pytest.raises(SignatureError):
        verify_signature(
            secret="other",
            method="POST",
            uri=EXAMPLE_URI,
            body=EXAMPLE_BODY,
            headers=headers,
            now=1700000000,
        )


def test_v1_and_v2_only_when_configured() -> None:
    v1 = {"x-hubspot-signature": sign_v1(SECRET, V1_BODY), "x-hubspot-signature-version": "v1"}
    args = dict(secret=SECRET, method="POST", uri=EXAMPLE_URI, body=V1_BODY, headers=v1)
    with pytest.raises(SignatureError) as refused:
        verify_signature(**args)
    assert refused.value.reason == "missing_signature"
    assert verify_signature(**args, accepted_versions=("v3", "v1")) == "v1"
    v2 = {
        "x-hubspot-signature": sign_v2(SECRET, "POST", EXAMPLE_URI, EXAMPLE_BODY),
        "x-hubspot-signature-version": "v2",
    }
    args2 = dict(secret=SECRET, method="POST", uri=EXAMPLE_URI, body=EXAMPLE_BODY, headers=v2)
    assert verify_signature(**args2, accepted_versions=("v2",)) == "v2"


# -- the endpoint ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Inbox:
    path = Path(tmp_path_factory.mktemp("inbox")) / "hub.sqlite"
    store = Store(f"sqlite:///{path}")
    upgrade(store)
    return Inbox(store)


@pytest.fixture(scope="module")
def endpoint(inbox: Inbox) -> Iterator[str]:
    app = FastAPI()
    app.include_router(
        hubspot_webhook_router(lambda: SECRET, inbox, WebhookSettings(max_body_bytes=64 * 1024))
    )
    with serve_app_in_thread(app) as url:
        yield f"{url}/webhooks/hubspot"


_next_event_id = iter(range(10_000_000, 20_000_000))


def event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "eventId": next(_next_event_id),
        "subscriptionId": 2,
        "portalId": 62515,
        "appId": 54321,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 9001,
        "changeSource": "CRM",
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
    }
    base.update(overrides)
    return base


def post(
    url: str,
    body: bytes,
    *,
    timestamp: str | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    stamp = timestamp or str(int(time.time() * 1000))
    signed = _v3_headers(body, url, stamp, secret)
    signed["content-type"] = "application/json"
    signed.update(headers or {})
    return httpx.post(url, content=body, headers=signed, timeout=10)


def rejected(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "handoff_webhook_rejected_total", {"source": "hubspot", "reason": reason}
        )
        or 0.0
    )


def accepted_count() -> float:
    return REGISTRY.get_sample_value("handoff_webhook_events_total", {"source": "hubspot"}) or 0.0


def test_signed_batch_is_stored_and_redelivery_is_a_duplicate(endpoint: str, inbox: Inbox) -> None:
    events = [event(), event(objectId=9002, subscriptionType="company.creation", changeFlag="NEW")]
    body = json.dumps(events).encode()
    before = accepted_count()
    first = post(endpoint, body)
    assert first.status_code == 200, first.text
    assert first.json()["accepted"] == 2
    stored = inbox.get(first.json()["results"][0]["inbox_id"])
    assert stored is not None and stored.entity_key == "hubspot:deal:9001"
    assert stored.kind == "deal.propertyChange" and stored.payload["propertyValue"] == "closedwon"
    again = post(endpoint, body)  # HubSpot retries the same events
    assert again.status_code == 200
    assert again.json()["accepted"] == 0 and again.json()["duplicates"] == 2
    assert all(r["duplicate"] for r in again.json()["results"])
    assert accepted_count() == before + 2


def _assert_refused(response: httpx.Response, status: int, reason: str, inbox: Inbox) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == reason
    assert response.json()["detail"]


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (b'[{"eventId": 1,', 400, "malformed_json"),
        (b'{"eventId": 1}', 400, "not_an_array"),
        (
            json.dumps([event(subscriptionType="ticket.creation")]).encode(),
            422,
            "unknown_object_type",
        ),
        (
            json.dumps([event(subscriptionType="deal.teleported")]).encode(),
            422,
            "unknown_subscription_type",
        ),
        (json.dumps([{"eventId": 5}]).encode(), 400, "invalid_event"),
    ],
)
def test_bad_bodies_are_refused_and_nothing_is_stored(
    endpoint: str, inbox: Inbox, body: bytes, status: int, reason: str
) -> None:
    before_rows = len(inbox.list(source="hubspot", limit=10_000))
    before = rejected(reason)
    _assert_refused(post(endpoint, body), status, reason, inbox)
    assert rejected(reason) == before + 1
    assert len(inbox.list(source="hubspot", limit=10_000)) == before_rows


def test_a_batch_with_one_bad_event_stores_none_of_it(endpoint: str, inbox: Inbox) -> None:
    good = event()
    body = json.dumps([good, event(subscriptionType="ticket.creation")]).encode()
    _assert_refused(post(endpoint, body), 422, "unknown_object_type", inbox)
    accepted = post(endpoint, json.dumps([good]).encode())
    assert accepted.json()["accepted"] == 1  # was not stored by the refused request


def test_missing_wrong_and_stale_signatures(endpoint: str, inbox: Inbox) -> None:
    body = json.dumps([event()]).encode()
    unsigned = httpx.post(endpoint, content=body, headers={"content-type": "application/json"})
    _assert_refused(unsigned, 401, "missing_signature", inbox)
    _assert_refused(post(endpoint, body, secret="not-the-secret"), 401, "bad_signature", inbox)
    old = str(int((time.time() - 301) * 1000))
    _assert_refused(post(endpoint, body, timestamp=old), 401, "stale_timestamp", inbox)
    legacy = {
        "x-hubspot-signature": sign_v1(SECRET, body),
        "x-hubspot-signature-version": "v1",
        "content-type": "application/json",
    }
    # v1 is valid but not enabled: refused, because it carries no timestamp against replay.
    _assert_refused(
        httpx.post(endpoint, content=body, headers=legacy), 401, "missing_signature", inbox
    )


def test_oversized_body_is_refused_before_reading_it(endpoint: str, inbox: Inbox) -> None:
    before = rejected("too_large")
    huge = b"[" + b" " * (70 * 1024) + b"]"
    _assert_refused(post(endpoint, huge), 413, "too_large", inbox)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while streaming
        for _ in range(80):
            yield b" " * 1024

    streamed = httpx.post(
        endpoint, content=chunks(), headers=_v3_headers(b"", endpoint, str(int(time.time() * 1000)))
    )
    _assert_refused(streamed, 413, "too_large", inbox)
    assert rejected("too_large") == before + 2


def test_default_limit_is_ten_megabytes() -> None:
    assert WebhookSettings().max_body_bytes == 10 * 1024 * 1024


def test_flow_for_names_the_flow_each_event_starts(inbox: Inbox) -> None:
    def flow_for(incoming: IncomingEvent) -> str | None:
        return "deal_won" if incoming.payload.get("propertyValue") == "closedwon" else None

    app = FastAPI()
    app.include_router(hubspot_webhook_router(SECRET, inbox, flow_for=flow_for))
    with serve_app_in_thread(app) as url:
        won, other = event(), event(propertyValue="contractsent")
        answer = post(f"{url}/webhooks/hubspot", json.dumps([won, other]).encode())
    assert answer.status_code == 200
    first, second = (inbox.get(r["inbox_id"]) for r in answer.json()["results"])
    assert first is not None and first.flow == "deal_won"
    assert second is not None and second.flow is None
