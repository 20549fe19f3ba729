"""POST /webhooks/salesforce/cdc over real HTTP, into the real inbox (SQLite)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from tests.support.servers import serving
from tests.support.waiting import wait_for

from handoff.ingress.salesforce import SIGNATURE_HEADER, sign_relay_body
from handoff.ingress.table import salesforce_cdc_router
from handoff.store.db import Store
from handoff.store.inbox import Inbox
from handoff.store.migrate import upgrade
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox

SECRET = "relay-secret"
URL_PATH = "/webhooks/salesforce/cdc"


def event(
    replay: int = 1,
    entity: str = "Opportunity",
    record: str = "0068d0000000001AAA",
    **header: object,
) -> dict:
    base = {
        "entityName": entity,
        "recordIds": [record],
        "changeType": "UPDATE",
        "changedFields": ["StageName"],
        "commitTimestamp": 1_767_000_000_000,
        "transactionKey": f"tx-{replay}",
        "sequenceNumber": 1,
    }
    base.update(header)
    return {
        "event": {"replayId": replay},
        "payload": {"ChangeEventHeader": base, "StageName": "Closed Won"},
    }


@pytest.fixture
def inbox(tmp_path: Path) -> Inbox:
    store = Store(f"sqlite:///{tmp_path / 'hub.db'}")
    upgrade(store)
    return Inbox(store)


@pytest.fixture
def endpoint(inbox: Inbox) -> Iterator[str]:
    app = FastAPI()
    app.include_router(
        salesforce_cdc_router(lambda: SECRET, inbox, max_body_bytes=10 * 1024 * 1024)
    )
    with serving(app) as base:
        yield base + URL_PATH


def post(url: str, body: bytes, signature: str | None = "sign") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        signature = sign_relay_body(SECRET, body)
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(url, content=body, headers=headers, timeout=30)


def rejected(reason: str) -> float:
    return (
        REGISTRY.get_sample_value(
            "handoff_webhook_rejected_total", {"source": "salesforce", "reason": reason}
        )
        or 0.0
    )


def test_signed_events_are_stored_and_replays_are_duplicates(endpoint: str, inbox: Inbox) -> None:
    body = json.dumps([event(1), event(2, record="0068d0000000002AAA")]).encode()
    first = post(endpoint, body)
    assert first.status_code == 200 and first.json()["accepted"] == 2
    stored = inbox.list(source="salesforce")
    assert {e.kind for e in stored} == {"Opportunity.UPDATE"}
    assert {e.entity_key for e in stored} == {
        "salesforce:Opportunity:0068d0000000001AAA",
        "salesforce:Opportunity:0068d0000000002AAA",
    }
    replay = post(endpoint, json.dumps(event(1)).encode())
    assert replay.status_code == 200
    assert replay.json() == {
        "accepted": 0,
        "duplicates": 1,
        "inbox_ids": [first.json()["inbox_ids"][0]],
    }
    assert len(inbox.list(source="salesforce")) == 2


@pytest.mark.parametrize(
    ("body", "signature", "status", "reason"),
    [
        (b"{not json", "sign", 400, "malformed_json"),
        (json.dumps([event()]).encode(), None, 401, "missing_signature"),
        (json.dumps([event()]).encode(), "sha256=" + "0" * 64, 401, "bad_signature"),
        (json.dumps([event(entity="Lead")]).encode(), "sign", 422, "unknown_entity"),
        (json.dumps([{"payload": {}}]).encode(), "sign", 400, "bad_event"),
        (json.dumps([event(recordIds=[])]).encode(), "sign", 400, "bad_event"),
        (json.dumps([event(changeType="MERGE")]).encode(), "sign", 400, "bad_event"),
        (b"[]", "sign", 400, "empty"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    endpoint: str, inbox: Inbox, body: bytes, signature: str | None, status: int, reason: str
) -> None:
    before = rejected(reason)
    # A valid event in the same body must not slip through either.
    response = post(endpoint, body, signature)
    assert response.status_code == status
    assert response.json()["error"] == reason and response.json()["detail"]
    assert inbox.list(source="salesforce") == []
    assert rejected(reason) == before + 1


def test_one_bad_event_refuses_the_whole_body(endpoint: str, inbox: Inbox) -> None:
    response = post(endpoint, json.dumps([event(1), event(2, entity="Case")]).encode())
    assert response.status_code == 422
    assert inbox.list(source="salesforce") == []


def test_oversized_body_is_refused(endpoint: str, inbox: Inbox) -> None:
    big = json.dumps([event(n) for n in range(40_000)]).encode()
    assert len(big) > 10 * 1024 * 1024
    response = post(endpoint, big)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert inbox.list(source="salesforce") == []


def test_sandbox_relays_closed_won_to_the_endpoint(endpoint: str, inbox: Inbox) -> None:
    with running_salesforce_sandbox(seed=True, cdc_url=endpoint, cdc_secret=SECRET) as sandbox:
        sandbox.flush_cdc()
        seeded = len(inbox.list(source="salesforce", limit=500))
        opportunity = next(
            r for r in sandbox.store.records("Opportunity") if r["StageName"] != "Closed Won"
        )
        with sandbox.store.transaction() as tx:
            sandbox.store.update(tx, "Opportunity", opportunity["Id"], {"StageName": "Closed Won"})
        assert sandbox.flush_cdc()
        wait_for(lambda: len(inbox.list(source="salesforce", limit=500)) == seeded + 1, 10)
    latest = inbox.list(source="salesforce", limit=1)[0]
    assert latest.kind == "Opportunity.UPDATE"
    assert latest.entity_key == f"salesforce:Opportunity:{opportunity['Id']}"
    header = latest.payload["ChangeEventHeader"]
    assert {"StageName", "IsWon", "IsClosed"} <= set(header["changedFields"])
    assert latest.payload["StageName"] == "Closed Won" and latest.payload["IsWon"] is True
