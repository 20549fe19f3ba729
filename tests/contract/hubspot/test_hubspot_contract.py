"""One contract for HubSpot, run against the sandbox and, when configured, a live account.

Live: set HANDOFF_TEST_HUBSPOT_TOKEN (a private-app / static token of a *test* account with CRM
scopes; HANDOFF_TEST_HUBSPOT_BASE_URL defaults to https://api.hubapi.com). Every record the suite
creates carries a unique marker and is archived at the end.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pytest

from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff_sandbox.hubspot.testing import running_hubspot_sandbox

LIVE_TOKEN = os.environ.get("HANDOFF_TEST_HUBSPOT_TOKEN")
LIVE_URL = os.environ.get("HANDOFF_TEST_HUBSPOT_BASE_URL", "https://api.hubapi.com")
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
T = TypeVar("T")


@dataclass
class Target:
    name: str
    url: str
    token: str
    created: list[tuple[str, str]] = field(default_factory=list)

    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )


@pytest.fixture(scope="module", params=["sandbox", "live"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    if request.param == "live":
        if not LIVE_TOKEN:
            pytest.skip("HANDOFF_TEST_HUBSPOT_TOKEN is not set: live HubSpot contract not run")
        found = Target("live", LIVE_URL, LIVE_TOKEN)
        yield found
        _cleanup(found)
        return
    with running_hubspot_sandbox(seed=True) as sandbox:
        yield Target("sandbox", sandbox.url, sandbox.token)


def _cleanup(target: Target) -> None:
    with target.http() as http:
        for object_type, object_id in target.created:
            http.delete(f"/crm/v3/objects/{object_type}/{object_id}")


@pytest.fixture
def http(target: Target) -> Iterator[httpx.Client]:
    with target.http() as client:
        yield client


def marker() -> str:
    return f"handoff-contract-{uuid.uuid4().hex[:10]}"


def eventually(check: Callable[[], T | None], timeout: float = 30.0) -> T:
    """Search lags writes on real HubSpot: poll until the answer shows up."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the timeout")
        time.sleep(1.0)


def create(
    http: httpx.Client, target: Target, object_type: str, properties: dict[str, Any]
) -> dict[str, Any]:
    response = http.post(f"/crm/v3/objects/{object_type}", json={"properties": properties})
    assert response.status_code == 201, response.text
    body = response.json()
    target.created.append((object_type, body["id"]))
    return body


def assert_error_body(response: httpx.Response, status: int, category: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error" and body["category"] == category
    assert body["message"] and body["correlationId"]


def test_record_shape_and_crud(http: httpx.Client, target: Target) -> None:
    name = marker()
    company = create(http, target, "companies", {"name": name, "city": "Ghent"})
    assert isinstance(company["id"], str) and company["id"].isdigit()
    assert ISO.match(company["createdAt"]) and ISO.match(company["updatedAt"])
    assert company["archived"] is False
    fetched = http.get(
        f"/crm/v3/objects/companies/{company['id']}",
        params={"properties": "name,city,numberofemployees"},
    )
    assert fetched.status_code == 200
    assert fetched.json()["properties"]["name"] == name
    assert fetched.json()["properties"]["numberofemployees"] is None
    patched = http.patch(
        f"/crm/v3/objects/companies/{company['id']}", json={"properties": {"numberofemployees": 12}}
    )
    assert patched.status_code == 200 and patched.json()["properties"]["numberofemployees"] == "12"
    assert http.delete(f"/crm/v3/objects/companies/{company['id']}").status_code == 204
    assert http.get(f"/crm/v3/objects/companies/{company['id']}").status_code == 404


def test_validation_errors(http: httpx.Client) -> None:
    unknown = http.post(
        "/crm/v3/objects/companies", json={"properties": {"handoff_no_such_property_x": "1"}}
    )
    assert_error_body(unknown, 400, "VALIDATION_ERROR")
    too_many = http.post(
        "/crm/v3/objects/companies/batch/read",
        json={"inputs": [{"id": str(n)} for n in range(1, 102)], "properties": []},
    )
    assert_error_body(too_many, 400, "VALIDATION_ERROR")
    assert_error_body(
        http.post("/crm/v3/objects/deals/search", json={"limit": 201}), 400, "VALIDATION_ERROR"
    )


def test_batch_read_partial_failure(http: httpx.Client, target: Target) -> None:
    company = create(http, target, "companies", {"name": marker()})
    response = http.post(
        "/crm/v3/objects/companies/batch/read",
        json={"inputs": [{"id": company["id"]}, {"id": "1"}], "properties": ["name"]},
    )
    assert response.status_code == 207
    body = response.json()
    assert body["status"] == "COMPLETE" and body["numErrors"] == 1
    assert [r["id"] for r in body["results"]] == [company["id"]]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"


def test_search_paging_shape(http: httpx.Client, target: Target) -> None:
    name = marker()
    for n in range(3):
        create(http, target, "companies", {"name": f"{name} {n}"})

    def page(after: str | None = None) -> dict[str, Any] | None:
        request: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "name", "operator": "CONTAINS_TOKEN", "value": f"{name}*"}
                    ]
                }
            ],
            "properties": ["name"],
            "limit": 2,
        }
        if after:
            request["after"] = after
        response = http.post("/crm/v3/objects/companies/search", json=request)
        assert response.status_code == 200, response.text
        body = response.json()
        return body if body["total"] == 3 else None

    first = eventually(page)
    assert len(first["results"]) == 2 and first["paging"]["next"]["after"]
    second = eventually(lambda: page(first["paging"]["next"]["after"]))
    assert len(second["results"]) == 1 and "paging" not in second


def test_default_pipeline_has_closedwon(http: httpx.Client) -> None:
    pipelines = http.get("/crm/v3/pipelines/deals").json()["results"]
    default = next(p for p in pipelines if p["id"] == "default")
    won = next(s for s in default["stages"] if s["id"] == "closedwon")
    assert won["metadata"]["probability"] == "1.0" and won["metadata"]["isClosed"] == "true"
    assert all("probability" in s["metadata"] for p in pipelines for s in p["stages"])


def test_associations_v4_default_types(http: httpx.Client, target: Target) -> None:
    company = create(http, target, "companies", {"name": marker()})
    deal = create(
        http,
        target,
        "deals",
        {"dealname": marker(), "pipeline": "default", "dealstage": "appointmentscheduled"},
    )
    answer = http.put(
        f"/crm/v4/objects/deals/{deal['id']}/associations/default/companies/{company['id']}"
    )
    assert answer.status_code == 200, answer.text
    listed = http.get(f"/crm/v4/objects/deals/{deal['id']}/associations/companies").json()[
        "results"
    ]
    assert str(listed[0]["toObjectId"]) == company["id"]
    assert 341 in {t["typeId"] for t in listed[0]["associationTypes"]}
    back = http.get(f"/crm/v4/objects/companies/{company['id']}/associations/deals").json()[
        "results"
    ]
    assert 342 in {t["typeId"] for r in back for t in r["associationTypes"]}


def test_rate_limit_headers(http: httpx.Client) -> None:
    response = http.get("/crm/v3/objects/companies", params={"limit": 1})
    assert response.status_code == 200
    for header in (
        "X-HubSpot-RateLimit-Max",
        "X-HubSpot-RateLimit-Remaining",
        "X-HubSpot-RateLimit-Interval-Milliseconds",
    ):
        assert response.headers.get(header, "").isdigit(), header


def test_connector_roundtrip(target: Target) -> None:
    with HubSpotClient(target.token, base_url=target.url) as client:
        adapter = HubSpotAdapter(client)
        email = f"{marker()}@example.com"
        upserted = adapter.upsert("contacts", "email", {email: {"firstname": "Contract"}})
        assert upserted[0].record is not None and upserted[0].record.new is True
        target.created.append(("contacts", upserted[0].record.id))
        read = adapter.read("contacts", [email], ["firstname"], id_property="email")
        assert read[0].record is not None and read[0].record.properties["firstname"] == "Contract"
        book = adapter.pipelines()
        assert book.is_won("default", "closedwon")


def test_standard_types_owners_and_schemas_read(http: httpx.Client) -> None:
    # Connectors read engagements, owners and custom schemas; each answers in HubSpot's shape
    # (records may exist on a live account, none in the sandbox).
    for object_type in ("calls", "notes", "tasks", "meetings", "emails"):
        listed = http.get(f"/crm/v3/objects/{object_type}", params={"limit": 1})
        assert listed.status_code in (200, 403), (object_type, listed.text)
        if listed.status_code == 403:
            assert listed.json()["category"] == "MISSING_SCOPES"
            continue
        assert isinstance(listed.json()["results"], list)
    owners = http.get("/crm/v3/owners", params={"limit": 1})
    assert owners.status_code == 200, owners.text
    for owner in owners.json()["results"]:
        assert {"id", "email", "type", "userId", "createdAt", "archived"} <= set(owner)
    if "paging" in owners.json():
        assert owners.json()["paging"]["next"]["after"]
    schemas = http.get("/crm/v3/schemas")
    assert schemas.status_code in (200, 403), schemas.text
    if schemas.status_code == 200:
        assert isinstance(schemas.json()["results"], list)
    unknown = http.get("/crm/v3/objects/handoff_no_such_type_x")
    assert unknown.status_code in (400, 404)


def test_batch_read_of_deals_with_properties(http: httpx.Client, target: Target) -> None:
    deals = [
        create(http, target, "deals", {"dealname": marker(), "pipeline": "default",
                                       "dealstage": "closedwon", "amount": "1200"})
        for _ in range(2)
    ]  # fmt: skip
    response = http.post(
        "/crm/v3/objects/deals/batch/read",
        json={
            "inputs": [{"id": d["id"]} for d in deals],
            "properties": ["dealname", "amount", "dealstage"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "COMPLETE" and ISO.match(body["completedAt"])
    assert "errors" not in body and "numErrors" not in body
    by_id = {r["id"]: r for r in body["results"]}
    assert set(by_id) == {d["id"] for d in deals}
    for deal in deals:
        record = by_id[deal["id"]]
        assert record["properties"]["amount"] == "1200"  # every value is a string
        assert record["properties"]["dealstage"] == "closedwon"
        assert ISO.match(record["updatedAt"]) and record["archived"] is False


def test_association_batch_read_shape(http: httpx.Client, target: Target) -> None:
    company = create(http, target, "companies", {"name": marker()})
    deal = create(
        http,
        target,
        "deals",
        {"dealname": marker(), "pipeline": "default", "dealstage": "closedwon"},
    )
    lines = [create(http, target, "line_items", {"name": marker(), "quantity": "1"}) for _ in "ab"]
    for to_type, to_id in [("companies", company["id"])] + [("line_items", x["id"]) for x in lines]:
        answer = http.put(
            f"/crm/v4/objects/deals/{deal['id']}/associations/default/{to_type}/{to_id}"
        )
        assert answer.status_code == 200, answer.text
    response = http.post(
        "/crm/v4/associations/deals/line_items/batch/read", json={"inputs": [{"id": deal["id"]}]}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "COMPLETE"
    [result] = body["results"]
    assert result["from"] == {"id": deal["id"]}
    assert sorted(str(t["toObjectId"]) for t in result["to"]) == sorted(x["id"] for x in lines)
    for target_link in result["to"]:
        assert isinstance(target_link["toObjectId"], int)
        [kind] = target_link["associationTypes"]
        assert kind["category"] == "HUBSPOT_DEFINED" and kind["typeId"] == 19  # deal -> line item
    companies = http.post(
        "/crm/v4/associations/deals/companies/batch/read", json={"inputs": [{"id": deal["id"]}]}
    ).json()
    type_ids = {
        t["typeId"] for r in companies["results"] for x in r["to"] for t in x["associationTypes"]
    }
    assert 341 in type_ids  # deal -> company, unlabelled (the default association)
    too_many = http.post(
        "/crm/v4/associations/deals/companies/batch/read",
        json={"inputs": [{"id": str(n)} for n in range(1, 1002)]},
    )
    assert_error_body(too_many, 400, "VALIDATION_ERROR")


def test_batch_update_shape_and_partial_failure(http: httpx.Client, target: Target) -> None:
    deal = create(
        http,
        target,
        "deals",
        {"dealname": marker(), "pipeline": "default", "dealstage": "closedwon"},
    )
    done = http.post(
        "/crm/v3/objects/deals/batch/update",
        json={"inputs": [{"id": deal["id"], "properties": {"description": "delivered"}}]},
    )
    assert done.status_code == 200, done.text
    [result] = done.json()["results"]
    assert result["id"] == deal["id"] and result["properties"]["description"] == "delivered"
    partial = http.post(
        "/crm/v3/objects/deals/batch/update",
        json={
            "inputs": [
                {"id": deal["id"], "properties": {"description": "again"}},
                {"id": "1", "properties": {"description": "nobody"}},
            ]
        },
    )
    assert partial.status_code == 207, partial.text
    body = partial.json()
    assert body["numErrors"] == 1 and [r["id"] for r in body["results"]] == [deal["id"]]
    assert body["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    assert "1" in body["errors"][0]["context"]["ids"]
