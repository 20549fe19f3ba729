"""Webhook routes per source *name* (``handoff.ingress.table``): two Salesforce orgs and two
Stripe accounts in one hub, each posting to ``<kind's path>/<name>``, verified with its own
secret, stored under its own name (and its deals keyed by it)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from handoff.config import SecretRef, Settings, StoreConfig, SystemConfig, SystemKind
from handoff.engine.runtime import Hub
from handoff.ingress.salesforce import SIGNATURE_HEADER, sign_relay_body
from handoff.ingress.stripe import signature_header
from support.servers import serving_hub


def _system(kind: SystemKind, secret: str) -> SystemConfig:
    return SystemConfig(kind=kind, url="https://example.test", webhook_secret=SecretRef(secret))


@pytest.fixture
def api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name in ("SF_EU", "SF_US", "ST_EU", "ST_US"):
        monkeypatch.setenv(name, f"secret-{name.lower()}")
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "sf_eu": _system("salesforce", "${SF_EU}"),
            "sf_us": _system("salesforce", "${SF_US}"),
            "stripe_eu": _system("stripe", "${ST_EU}"),
            "stripe_us": _system("stripe", "${ST_US}"),
        },
    )
    with serving_hub(settings) as running:
        yield running


def _cdc(record_id: str) -> bytes:
    header = {
        "entityName": "Opportunity", "changeType": "UPDATE", "recordIds": [record_id],
        "transactionKey": f"tx-{record_id}", "commitTimestamp": int(time.time() * 1000),
        "changedFields": ["StageName"], "sequenceNumber": 1, "commitNumber": 1,
        "commitUser": "005x", "changeOrigin": "", "diffFields": [], "nulledFields": [],
    }  # fmt: skip
    event = {"payload": {"ChangeEventHeader": header, "StageName": "Closed Won"},
             "event": {"replayId": 7}}  # fmt: skip
    return json.dumps([event]).encode()


def test_each_salesforce_org_posts_to_its_own_route_with_its_own_secret(
    api: tuple[str, Hub],
) -> None:
    base, hub = api
    body = _cdc("006000000000001AAA")

    def post(name: str, secret: str) -> httpx.Response:
        return httpx.post(f"{base}/webhooks/salesforce/cdc/{name}", content=body, headers={
            "Content-Type": "application/json", SIGNATURE_HEADER: sign_relay_body(secret, body)
        })  # fmt: skip

    assert post("sf_eu", "secret-sf_us").status_code == 401  # the other org's secret
    assert post("stripe_eu", "secret-st_eu").status_code == 404  # not a Salesforce system
    assert post("sf_eu", "secret-sf_eu").status_code in (200, 202)
    assert post("sf_us", "secret-sf_us").status_code in (200, 202)
    [eu] = hub.inbox.list(source="sf_eu")
    [us] = hub.inbox.list(source="sf_us")
    # One record id in two orgs: two deals, each under its org's name.
    assert eu.entity_key == "sf_eu:deal:006000000000001AAA"
    assert us.entity_key == "sf_us:deal:006000000000001AAA"
    # Two orgs, neither named "salesforce": the kind's own path serves neither.
    legacy = httpx.post(f"{base}/webhooks/salesforce/cdc", content=body, headers={
        SIGNATURE_HEADER: sign_relay_body("secret-sf_eu", body)})  # fmt: skip
    assert legacy.status_code in (404, 405)


def test_each_stripe_account_is_verified_with_its_own_secret(api: tuple[str, Hub]) -> None:
    base, _ = api
    body = json.dumps({"id": "evt_1", "type": "customer.created", "created": int(time.time()),
                       "data": {"object": {"id": "cus_1"}}}).encode()  # fmt: skip

    def post(name: str, secret: str) -> httpx.Response:
        return httpx.post(f"{base}/webhooks/stripe/{name}", content=body, headers={
            "Content-Type": "application/json", "Stripe-Signature": signature_header(secret, body)
        })  # fmt: skip

    assert post("stripe_eu", "secret-st_us").status_code == 400  # Stripe's own answer
    answered = post("stripe_us", "secret-st_us")
    assert answered.status_code == 200 and answered.json()["ignored"] == "customer.created"
    assert post("sf_eu", "secret-sf_eu").status_code == 404
