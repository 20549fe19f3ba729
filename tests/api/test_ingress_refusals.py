"""Defect 6 of issue 10: hostile bodies and headers got a 5xx (uncounted, sometimes half-stored).
On every webhook route, each is now a 4xx JSON {error, detail}, counted in
handoff_webhook_rejected_total{source, reason}, with nothing stored: SQLite and PostgreSQL (NUL
characters and over-long keys are what PostgreSQL refuses and SQLite lets through)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from api.ingress_support import (
    ROUTES,
    SECRETS,
    Route,
    encode,
    ingress_settings,
    post,
    rejected_total,
    serving_ingress,
    stored_rows,
)
from handoff.engine.runtime import Hub

# Bodies no route may accept, whatever it expects: each signed validly.
HOSTILE_JSON: dict[str, bytes] = {
    "not UTF-8": b'[{"id": "\xff\xfe"}]',
    "UTF-16": '[{"id": "x"}]'.encode("utf-16"),
    "100k-deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "5,000-digit integer": b"[" + b"7" * 5_000 + b"]",
    "lone surrogate": b'[{"id": "\\ud800"}]',
    "NUL character": b'[{"id": "a\\u0000b"}]',
    "NaN": b"[NaN]",
    "1e400": b"[1e400]",
    "truncated": b'[{"id": ',
}


def now_ms() -> int:
    return int(time.time() * 1000)


def time_item(**changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "kind": "time",
        "source_id": "T-1",
        "consultant": "ada@firm.example",
        "deal_ref": "hubspot:1234",
        "date": "2026-11-02",
        "hours": 4,
        "approval": "approved",
    }
    return {**item, **changes}


def hubspot_event(**changes: object) -> dict[str, object]:
    event: dict[str, object] = {
        "eventId": 101,
        "subscriptionType": "deal.propertyChange",
        "occurredAt": now_ms(),
        "objectId": 555,
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
    }
    return {**event, **changes}


def cdc_event(header: dict[str, object] | None = None, **event: object) -> dict[str, object]:
    base_header: dict[str, object] = {
        "entityName": "Opportunity",
        "changeType": "UPDATE",
        "recordIds": ["006000000000001AAA"],
        "transactionKey": "tx-1",
        "sequenceNumber": 1,
        "commitTimestamp": now_ms(),
    }
    return {
        "payload": {"ChangeEventHeader": {**base_header, **(header or {})}, "StageName": "Won"},
        "event": {"replayId": 1, **event},
    }


def stripe_event(obj: dict[str, object] | None = None, **changes: object) -> dict[str, object]:
    payment: dict[str, object] = {
        "id": "pi_1",
        "object": "payment_intent",
        "amount": 1000,
        "amount_received": 1000,
        "currency": "eur",
        "metadata": {"invoice": "INV/2026/0001"},
    }
    event: dict[str, object] = {
        "id": "evt_1",
        "type": "payment_intent.succeeded",
        "created": int(time.time()),
        "data": {"object": {**payment, **(obj or {})}},
    }
    return {**event, **changes}


def envelope(deal: str) -> dict[str, object]:
    return {
        "event": "envelope-completed",
        "data": {
            "envelopeId": "env-1",
            "envelopeSummary": {
                "status": "completed",
                "customFields": {"textCustomFields": [{"name": "handoff_deal", "value": deal}]},
            },
        },
    }


# Well-formed JSON with a value no system sends, per route.
HOSTILE_VALUES: dict[str, dict[str, object]] = {
    "generic": {
        "100k-character id": {"events": [{"id": "i" * 100_000, "entity": "e", "kind": "k"}]},
        "non-date occurred_at": {
            "events": [{"id": "1", "entity": "e", "kind": "k", "occurred_at": "not a date"}]
        },
        "100k-character entity": {"events": [{"id": "1", "entity": "e" * 100_000, "kind": "k"}]},
    },
    "time": {
        "300-character deal reference": [time_item(deal_ref="d" * 300)],
        "100k-character source id": [time_item(source_id="s" * 100_000)],
        "100k-character field name": [{**time_item(), "f" * 100_000: 1}],
        "hours as a 300-character string": [time_item(hours="9" * 300)],
    },
    "hubspot": {
        "100k-character eventId": [hubspot_event(eventId="e" * 100_000)],
        "100k-character objectId": [hubspot_event(objectId="o" * 100_000)],
        "occurredAt in year 3 million": [hubspot_event(occurredAt=10**20)],
        "negative occurredAt": [hubspot_event(occurredAt=-(10**15))],
    },
    "salesforce": {
        "100k-character record id": [cdc_event({"recordIds": ["r" * 100_000]})],
        "100k-character transaction key": [cdc_event({"transactionKey": "t" * 100_000})],
        "commitTimestamp beyond year 9999": [cdc_event({"commitTimestamp": 10**20})],
        "replayId an object": [cdc_event({"transactionKey": None}, replayId={"a": 1})],
    },
    "stripe": {
        "negative amount": stripe_event({"amount": -500, "amount_received": -500}),
        "huge amount": stripe_event({"amount": 10**30, "amount_received": 10**30}),
        "100k-character event id": stripe_event(id="e" * 100_000),
        "100k-character invoice reference": stripe_event({"metadata": {"invoice": "r" * 100_000}}),
        "created beyond year 9999": stripe_event({"created": 10**15}),
        "refunds.data an integer": stripe_event(
            {"object": "charge", "amount_refunded": 5, "refunds": {"data": 7}},
            type="charge.refunded",
        ),
    },
    "docusign": {},
}


@pytest.fixture
def hub_api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with serving_ingress(ingress_settings(store_url)) as running:
        yield running


def assert_refused(base: str, hub: Hub, route: Route, body: bytes, what: str, **kw: object) -> str:
    before = rejected_total(base, route.source)
    answer = post(base, route, body, **kw)  # type: ignore[arg-type]
    assert 400 <= answer.status_code < 500, (
        f"{route.path} {what}: {answer.status_code} {answer.text[:200]}"
    )
    problem = answer.json()
    assert set(problem) >= {"error", "detail"}, f"{route.path} {what}: {problem}"
    assert rejected_total(base, route.source) == before + 1, f"{route.path} {what}: not counted"
    assert stored_rows(hub) == 0, f"{route.path} {what}: something was stored"
    return str(problem["error"])


@pytest.mark.parametrize("route_name", list(ROUTES))
def test_hostile_json_is_a_counted_4xx_storing_nothing_on_every_route(
    hub_api: tuple[str, Hub], route_name: str
) -> None:
    base, hub = hub_api
    route = ROUTES[route_name]
    reasons = {
        what: assert_refused(base, hub, route, body, what) for what, body in HOSTILE_JSON.items()
    }
    assert reasons["100k-deep nesting"] == "too_deep"
    assert reasons["5,000-digit integer"] == "number_too_long"
    assert reasons["lone surrogate"] == "lone_surrogate"
    assert reasons["NUL character"] == "nul_character"
    assert reasons["not UTF-8"] == "malformed_json"


@pytest.mark.parametrize("route_name", list(ROUTES))
def test_hostile_values_are_a_counted_4xx_storing_nothing(
    hub_api: tuple[str, Hub], route_name: str
) -> None:
    base, hub = hub_api
    route = ROUTES[route_name]
    for what, value in HOSTILE_VALUES[route_name].items():
        assert_refused(base, hub, route, encode(value), what)


@pytest.mark.parametrize("route_name", list(ROUTES))
def test_a_non_ascii_signature_header_is_a_counted_4xx(
    hub_api: tuple[str, Hub], route_name: str
) -> None:
    base, hub = hub_api
    route = ROUTES[route_name]
    url = base + route.path
    body = b"[]"
    for header in route.signature_headers:
        signed = route.signer(url, body)
        # Raw bytes on the wire: a Latin-1 byte where the signature's ASCII goes.
        signed[header] = signed[header][:-1].encode("latin-1") + b"\xe9"  # type: ignore[assignment]
        before = rejected_total(base, route.source)
        answer = httpx.post(url, content=body, headers=signed, timeout=30)
        assert 400 <= answer.status_code < 500, (
            f"{header}: {answer.status_code} {answer.text[:200]}"
        )
        assert set(answer.json()) >= {"error", "detail"}
        assert rejected_total(base, route.source) == before + 1
    assert stored_rows(hub) == 0


def test_a_well_formed_event_still_gets_in_on_every_route(hub_api: tuple[str, Hub]) -> None:
    """The refusals above are not everything refused: the same shapes, sane, are accepted."""
    base, hub = hub_api
    accepted = {
        "generic": {
            "events": [
                {"id": "1", "entity": "e", "kind": "k", "occurred_at": "2026-11-02T10:00:00Z"}
            ]
        },
        "time": [time_item(description="Workshop, see https://wiki.example/x")],
        "hubspot": [hubspot_event()],
        "salesforce": [cdc_event()],
        "stripe": stripe_event(),
    }
    for name, value in accepted.items():
        answer = post(base, ROUTES[name], encode(value))
        assert answer.status_code in (200, 202), f"{name}: {answer.text[:300]}"
    assert stored_rows(hub) == len(accepted)
