"""The hub's API mounts the CRM webhook endpoints for the CRM systems in handoff.yaml, and what
they accept lands in the hub's own inbox."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from handoff.config import SecretRef, Settings, StoreConfig, SystemConfig
from handoff.engine.runtime import Hub
from handoff.ingress.hubspot import sign_v3
from handoff.ingress.salesforce import SIGNATURE_HEADER, sign_relay_body
from support.servers import serving_hub


@pytest.fixture
def api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    monkeypatch.setenv("HS_SECRET", "hs-secret")
    monkeypatch.setenv("SF_SECRET", "sf-secret")
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "hubspot": SystemConfig(
                kind="hubspot",
                url="https://api.hubapi.com",
                webhook_secret=SecretRef("${HS_SECRET}"),
            ),
            "salesforce": SystemConfig(
                kind="salesforce",
                url="https://example.my.salesforce.com",
                webhook_secret=SecretRef("${SF_SECRET}"),
            ),
        },
    )
    with serving_hub(settings) as running:
        yield running


def test_signed_hubspot_events_reach_the_hub_inbox_once(api: tuple[str, Hub]) -> None:
    base, hub = api
    event = {
        "eventId": 101,
        "subscriptionId": 1,
        "portalId": 7,
        "appId": 3,
        "occurredAt": int(time.time() * 1000),
        "subscriptionType": "deal.propertyChange",
        "attemptNumber": 0,
        "objectId": 555,
        "changeSource": "CRM",
        "changeFlag": "UPDATED",
        "propertyName": "dealstage",
        "propertyValue": "closedwon",
    }
    body = json.dumps([event]).encode()
    for _ in range(2):  # HubSpot redelivers
        stamp = str(int(time.time() * 1000))
        url = f"{base}/webhooks/hubspot"
        response = httpx.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/json",
                "X-HubSpot-Signature-v3": sign_v3("hs-secret", "POST", url, body, stamp),
                "X-HubSpot-Request-Timestamp": stamp,
            },
        )
        assert response.status_code == 200, response.text
    [stored] = hub.inbox.list(source="hubspot")
    assert stored.source_event_id == "101" and "555" in stored.entity_key

    wrong = httpx.post(
        f"{base}/webhooks/hubspot",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": "bad",
            "X-HubSpot-Request-Timestamp": str(int(time.time() * 1000)),
        },
    )
    assert wrong.status_code == 401 and wrong.json()["error"]


def test_salesforce_cdc_relay_reaches_the_hub_inbox(api: tuple[str, Hub]) -> None:
    base, hub = api
    body = json.dumps(
        [
            {
                "schema": "s1",
                "payload": {
                    "ChangeEventHeader": {
                        "entityName": "Opportunity",
                        "changeType": "UPDATE",
                        "recordIds": ["006000000000001AAA"],
                        "transactionKey": "tx-1",
                        "commitTimestamp": int(time.time() * 1000),
                        "changedFields": ["StageName"],
                        "sequenceNumber": 1,
                        "commitNumber": 1,
                        "commitUser": "005x",
                        "changeOrigin": "",
                        "diffFields": [],
                        "nulledFields": [],
                    },
                    "StageName": "Closed Won",
                },
                "event": {"replayId": 42},
            }
        ]
    ).encode()
    response = httpx.post(
        f"{base}/webhooks/salesforce/cdc",
        content=body,
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_relay_body("sf-secret", body),
        },
    )
    assert response.status_code in (200, 202), response.text
    [stored] = hub.inbox.list(source="salesforce")
    assert "006000000000001AAA" in stored.entity_key
