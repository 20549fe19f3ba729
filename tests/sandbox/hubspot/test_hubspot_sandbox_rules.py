"""The HubSpot sandbox's limits, error bodies, OAuth and webhook delivery, over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from handoff.ingress.hubspot import verify_signature
from handoff_sandbox.hubspot.testing import (
    RunningHubSpotSandbox,
    running_hubspot_sandbox,
    serve_app_in_thread,
)

ERROR_KEYS = {"status", "message", "correlationId", "category"}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningHubSpotSandbox]:
    with running_hubspot_sandbox(seed=True) as running:
        yield running


@pytest.fixture
def http(sandbox: RunningHubSpotSandbox) -> Iterator[httpx.Client]:
    sandbox.reset_limits()
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}
    ) as client:
        yield client


@pytest.fixture
def fast_search(sandbox: RunningHubSpotSandbox) -> Iterator[None]:
    """Lift the 5 searches/s limit for tests about search semantics, not its rate."""
    sandbox.configure(search_per_second=1000)
    yield
    sandbox.configure(search_per_second=5)


def _error(response: httpx.Response, status: int, category: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= ERROR_KEYS and body["status"] == "error" and body["category"] == category
    return body


def test_every_4xx_has_a_hubspot_error_body(
    http: httpx.Client, sandbox: RunningHubSpotSandbox
) -> None:
    _error(httpx.get(f"{sandbox.url}/crm/v3/objects/deals"), 401, "INVALID_AUTHENTICATION")
    _error(http.get("/crm/v3/objects/deals/999999999"), 404, "OBJECT_NOT_FOUND")
    _error(http.get("/crm/v3/objects/tickets_of_doom"), 400, "VALIDATION_ERROR")
    _error(http.post("/crm/v3/objects/deals", content=b"{nope"), 400, "VALIDATION_ERROR")
    body = _error(
        http.post(
            "/crm/v3/objects/deals", json={"properties": {"hs_object_id": "1", "amount": "lots"}}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert {e["code"] for e in body["errors"]} == {"READ_ONLY_VALUE", "INVALID_DECIMAL"}
    too_many = {"inputs": [{"properties": {"name": f"c{n}"}} for n in range(101)]}
    _error(
        http.post("/crm/v3/objects/companies/batch/create", json=too_many), 400, "VALIDATION_ERROR"
    )
    _error(http.get("/crm/v3/nothing/here"), 404, "OBJECT_NOT_FOUND")


def test_batch_partial_failure_is_207_with_errors(http: httpx.Client) -> None:
    deals = http.get("/crm/v3/objects/deals", params={"limit": 2}).json()["results"]
    response = http.post(
        "/crm/v3/objects/deals/batch/read",
        json={"inputs": [{"id": deals[0]["id"]}, {"id": "424242"}], "properties": ["dealname"]},
    )
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert body["errors"][0]["context"]["ids"] == ["424242"]
    assert [r["id"] for r in body["results"]] == [deals[0]["id"]]
    created = http.post(
        "/crm/v3/objects/deals/batch/create",
        json={"inputs": [{"properties": {"dealname": "b1", "dealstage": "closedwon"}}]},
    )
    assert created.status_code == 201
    assert created.json()["results"][0]["properties"]["dealname"] == "b1"
    assert (
        http.post(
            "/crm/v3/objects/deals/batch/archive",
            json={"inputs": [{"id": created.json()["results"][0]["id"]}]},
        ).status_code
        == 204
    )


def test_search_limits(
    http: httpx.Client, sandbox: RunningHubSpotSandbox, fast_search: None
) -> None:
    url = "/crm/v3/objects/deals/search"
    _error(http.post(url, json={"limit": 201}), 400, "VALIDATION_ERROR")
    _error(
        http.post(url, json={"sorts": [{"propertyName": "amount"}, {"propertyName": "dealname"}]}),
        400,
        "VALIDATION_ERROR",
    )
    groups = [{"filters": [{"propertyName": "amount", "operator": "GT", "value": "0"}]}] * 6
    _error(http.post(url, json={"filterGroups": groups}), 400, "VALIDATION_ERROR")
    seven = [{"propertyName": "amount", "operator": "GT", "value": "0"}] * 7
    _error(http.post(url, json={"filterGroups": [{"filters": seven}]}), 400, "VALIDATION_ERROR")
    _error(
        http.post(
            url,
            json={
                "filterGroups": [
                    {"filters": [{"propertyName": "amount", "operator": "LIKE", "value": "1"}]}
                ]
            },
        ),
        400,
        "VALIDATION_ERROR",
    )
    sandbox.configure(search_result_cap=5)
    try:
        first = http.post(url, json={"limit": 4})
        assert first.status_code == 200 and first.json()["total"] > 5
        past_cap = http.post(
            url, json={"limit": 4, "after": first.json()["paging"]["next"]["after"]}
        )
        _error(past_cap, 400, "VALIDATION_ERROR")
    finally:
        sandbox.configure(search_result_cap=10_000)


def test_search_operators(http: httpx.Client, fast_search: None) -> None:
    def total(*filters: dict[str, Any]) -> int:
        response = http.post(
            "/crm/v3/objects/deals/search", json={"filterGroups": [{"filters": list(filters)}]}
        )
        assert response.status_code == 200, response.text
        return response.json()["total"]

    everything = total()
    assert total({"propertyName": "dealname", "operator": "CONTAINS_TOKEN", "value": "acme"}) == 2
    assert (
        total({"propertyName": "dealname", "operator": "NOT_CONTAINS_TOKEN", "value": "acme"})
        == everything - 2
    )
    assert (
        total(
            {
                "propertyName": "amount",
                "operator": "BETWEEN",
                "value": "10000",
                "highValue": "30000",
            }
        )
        >= 1
    )
    assert total({"propertyName": "hubspot_owner_id", "operator": "NOT_HAS_PROPERTY"}) == 1
    assert (
        total(
            {
                "propertyName": "dealstage",
                "operator": "NOT_IN",
                "values": ["closedwon", "closedlost"],
            }
        )
        == everything - 3
    )
    assert total({"propertyName": "closedate", "operator": "LT", "value": "2025-02-01"}) == 1
    assert (
        total(
            {
                "propertyName": "hs_lastmodifieddate",
                "operator": "GTE",
                "value": str(int(time.time() * 1000) + 60_000),
            }
        )
        == 0
    )


def test_ten_secondly_limit_answers_429_with_policy_and_headers(
    http: httpx.Client, sandbox: RunningHubSpotSandbox
) -> None:
    sandbox.configure(ten_secondly_max=3)
    try:
        ok = [http.get("/crm/v3/pipelines/deals") for _ in range(3)]
        assert [r.headers["X-HubSpot-RateLimit-Remaining"] for r in ok] == ["2", "1", "0"]
        assert ok[0].headers["X-HubSpot-RateLimit-Max"] == "3"
        assert ok[0].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert "X-HubSpot-RateLimit-Daily-Remaining" in ok[0].headers
        limited = http.get("/crm/v3/pipelines/deals")
        assert limited.status_code == 429
        body = limited.json()
        assert body["errorType"] == "RATE_LIMIT" and body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        assert "Retry-After" not in limited.headers
        sandbox.configure(retry_after_seconds=2)
        assert http.get("/crm/v3/pipelines/deals").headers["Retry-After"] == "2"
    finally:
        sandbox.configure(ten_secondly_max=190, retry_after_seconds=None)


def test_search_secondly_limit(http: httpx.Client) -> None:
    answers = [http.post("/crm/v3/objects/deals/search", json={"limit": 1}) for _ in range(8)]
    limited = [a for a in answers if a.status_code == 429]
    assert limited, "eight searches back to back must exceed 5 per second"
    assert limited[0].json()["message"] == "You have reached your secondly limit."
    assert limited[0].json()["policyName"] == "SECONDLY"


def test_daily_limit(http: httpx.Client, sandbox: RunningHubSpotSandbox) -> None:
    sandbox.configure(daily_max=2)
    try:
        assert http.get("/crm/v3/pipelines/deals").status_code == 200
        assert http.get("/crm/v3/pipelines/deals").status_code == 200
        refused = http.get("/crm/v3/pipelines/deals")
        assert refused.status_code == 429 and refused.json()["policyName"] == "DAILY"
    finally:
        sandbox.configure(daily_max=1_000_000)


def test_oauth_refresh_and_client_credentials(sandbox: RunningHubSpotSandbox) -> None:
    grant = sandbox.issue_refresh_token()
    token = httpx.post(
        f"{sandbox.url}/oauth/v1/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": grant["refresh_token"],
            "client_id": grant["client_id"],
            "client_secret": grant["client_secret"],
        },
    )
    assert token.status_code == 200
    body = token.json()
    assert (
        body["token_type"] == "bearer"
        and body["expires_in"] == 1800
        and body["refresh_token"] == grant["refresh_token"]
    )
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert httpx.get(f"{sandbox.url}/crm/v3/objects/deals", headers=headers).status_code == 200
    sandbox.expire_access_tokens()
    expired = httpx.get(f"{sandbox.url}/crm/v3/objects/deals", headers=headers)
    _error(expired, 401, "EXPIRED_AUTHENTICATION")
    bad = httpx.post(
        f"{sandbox.url}/oauth/v3/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "nope",
            "client_id": grant["client_id"],
            "client_secret": grant["client_secret"],
        },
    )
    assert bad.status_code == 400 and bad.json()["status"] == "BAD_REFRESH_TOKEN"
    machine = httpx.post(
        f"{sandbox.url}/oauth/v3/token",
        data={
            "grant_type": "client_credentials",
            "client_id": grant["client_id"],
            "client_secret": grant["client_secret"],
        },
    )
    assert machine.status_code == 200 and "refresh_token" not in machine.json()


def test_custom_properties_api(http: httpx.Client) -> None:
    definition = {
        "name": "handoff_test_flag",
        "label": "Flag",
        "type": "string",
        "fieldType": "text",
        "groupName": "dealinformation",
    }
    created = http.post("/crm/v3/properties/deals", json=definition)
    assert created.status_code == 201 and created.json()["hubspotDefined"] is False
    assert http.post("/crm/v3/properties/deals", json=definition).status_code == 409
    assert http.get("/crm/v3/properties/deals/handoff_test_flag").json()["label"] == "Flag"
    _error(http.get("/crm/v3/properties/deals/nope_nope"), 404, "OBJECT_NOT_FOUND")
    deal = http.get("/crm/v3/objects/deals", params={"limit": 1}).json()["results"][0]
    patched = http.patch(
        f"/crm/v3/objects/deals/{deal['id']}", json={"properties": {"handoff_test_flag": "yes"}}
    )
    assert patched.json()["properties"]["handoff_test_flag"] == "yes"


# -- webhook delivery ---------------------------------------------------------------------------
class Receiver:
    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.verified: list[str] = []
        self.fail_next = 0


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        state.verified.append(
            verify_signature(
                secret="s3cret", method="POST", uri=str(request.url), body=body, headers=headers
            )
        )
        if state.fail_next:
            state.fail_next -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        state.batches.append(json.loads(body))
        return JSONResponse({"ok": True})

    with serve_app_in_thread(app) as url:
        yield state, f"{url}/hook"


def test_changes_are_delivered_as_signed_batches(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    with running_hubspot_sandbox(
        seed=True,
        webhook_url=url,
        webhook_secret="s3cret",
        webhook_auto_deliver=False,
        webhook_retry_delay_seconds=0,
    ) as sandbox:
        sandbox.flush_webhooks()  # the seed's own creations
        state.batches.clear()
        with httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}
        ) as http:
            deal = http.get(
                "/crm/v3/objects/deals", params={"limit": 1, "properties": "dealstage"}
            ).json()["results"][0]
            http.patch(
                f"/crm/v3/objects/deals/{deal['id']}",
                json={"properties": {"dealstage": "closedlost"}},
            )
            new = http.post(
                "/crm/v3/objects/companies", json={"properties": {"name": "Webhook Co"}}
            ).json()
        state.fail_next = 1
        first = sandbox.flush_webhooks()
        assert first["delivered"] == 0 and first["pending"] > 0  # 503: kept for retry
        assert sandbox.flush_webhooks()["pending"] == 0
        events = [e for batch in state.batches for e in batch]
        kinds = {(e["subscriptionType"], e.get("propertyName")) for e in events}
        assert ("deal.propertyChange", "dealstage") in kinds
        assert ("company.creation", None) in kinds
        stage_event = next(e for e in events if e.get("propertyName") == "dealstage")
        assert stage_event["propertyValue"] == "closedlost" and stage_event["objectId"] == int(
            deal["id"]
        )
        assert stage_event["attemptNumber"] == 1  # second attempt, as HubSpot counts
        assert any(e["objectId"] == int(new["id"]) for e in events)
        assert set(state.verified) == {"v3"}


def test_duplicate_and_reorder_switches(receiver: tuple[Receiver, str]) -> None:
    state, url = receiver
    with running_hubspot_sandbox(
        webhook_url=url, webhook_secret="s3cret", webhook_auto_deliver=False
    ) as sandbox:
        sandbox.configure(webhook_duplicate=True, webhook_reorder=True)
        state.batches.clear()
        with httpx.Client(
            base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}
        ) as http:
            http.post(
                "/crm/v3/objects/companies/batch/create",
                json={"inputs": [{"properties": {"name": f"C{n}"}} for n in range(20)]},
            )
        sandbox.flush_webhooks()
        assert len(state.batches) == 2
        first, second = ([e["eventId"] for e in batch] for batch in state.batches)
        assert sorted(first) == sorted(second) and len(set(first)) == 20
        assert first != second  # same events, delivered twice, in another order
