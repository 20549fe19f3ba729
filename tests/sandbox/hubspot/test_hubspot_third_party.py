"""What third-party HubSpot connectors (Singer taps, Airbyte, dlt) call, over real HTTP.

Standard object types the sandbox keeps no records of read as an account that has none (200,
empty), scopes a token lacks answer 403 MISSING_SCOPES, and owners, users and custom object
schemas are served in HubSpot's shapes; the official client reads them unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.objects import PublicObjectSearchRequest

from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox

UNSTORED = [
    "calls", "emails", "meetings", "notes", "tasks", "communications", "postal_mail", "tickets",
    "quotes", "feedback_submissions", "goal_targets", "leads", "0-48", "note",
]  # fmt: skip


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningHubSpotSandbox]:
    # Many searches in a row: lift the 5-per-second search limit, which is not under test here.
    with running_hubspot_sandbox(seed=True, search_per_second=1000) as running:
        yield running


@pytest.fixture()
def http(sandbox: RunningHubSpotSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=sandbox.url, headers={"Authorization": f"Bearer {sandbox.token}"}
    ) as client:
        yield client


@pytest.fixture()
def api(sandbox: RunningHubSpotSandbox) -> HubSpot:
    return HubSpot(access_token=sandbox.token, host=sandbox.url)


@pytest.mark.parametrize("object_type", UNSTORED)
def test_standard_types_read_as_an_account_with_none(http: httpx.Client, object_type: str) -> None:
    listed = http.get(f"/crm/v3/objects/{object_type}", params={"limit": 10})
    assert listed.status_code == 200, listed.text
    assert listed.json() == {"results": []}
    searched = http.post(f"/crm/v3/objects/{object_type}/search", json={"limit": 10})
    assert searched.status_code == 200 and searched.json() == {"total": 0, "results": []}
    missing = http.get(f"/crm/v3/objects/{object_type}/123")
    assert missing.status_code == 404 and missing.json()["category"] == "OBJECT_NOT_FOUND"
    properties = http.get(f"/crm/v3/properties/{object_type}")
    assert properties.status_code == 200
    assert {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"} <= {
        p["name"] for p in properties.json()["results"]
    }


def test_batch_read_and_associations_of_unstored_types(http: httpx.Client) -> None:
    read = http.post("/crm/v3/objects/calls/batch/read", json={"inputs": [{"id": "7"}]})
    assert read.status_code == 207
    assert read.json()["errors"][0]["category"] == "OBJECT_NOT_FOUND"
    deal_id = http.get("/crm/v3/objects/deals", params={"limit": 1}).json()["results"][0]["id"]
    to_notes = http.get(f"/crm/v4/objects/deals/{deal_id}/associations/notes")
    assert to_notes.status_code == 200 and to_notes.json() == {"results": []}
    batch = http.post(
        "/crm/v4/associations/deals/meetings/batch/read", json={"inputs": [{"id": deal_id}]}
    )
    assert batch.status_code == 200
    assert batch.json()["results"] == [{"from": {"id": deal_id}, "to": []}]


def test_only_truly_unknown_types_are_unknown(http: httpx.Client) -> None:
    unknown = http.get("/crm/v3/objects/spaceships")
    assert unknown.status_code == 400
    assert unknown.json()["subCategory"] == "UNKNOWN_OBJECT_TYPE"
    # Writing a type the sandbox keeps no records of is refused in plain words.
    write = http.post("/crm/v3/objects/notes", json={"properties": {"hs_note_body": "x"}})
    assert write.status_code == 400 and "keeps no notes records" in write.json()["message"]


def test_missing_scopes_answer_403_in_hubspots_shape(
    sandbox: RunningHubSpotSandbox, http: httpx.Client
) -> None:
    sandbox.configure(token_scopes=["crm.objects.deals.read", "crm.objects.owners.read"])
    try:
        assert http.get("/crm/v3/objects/deals").status_code == 200
        assert http.get("/crm/v3/owners").status_code == 200
        for path, scope in [
            ("/crm/v3/objects/calls", "crm.objects.contacts.read"),
            ("/crm/v3/objects/tickets", "tickets"),
            ("/crm/v3/objects/contacts", "crm.objects.contacts.read"),
            ("/settings/v3/users", "settings.users.read"),
            ("/crm/v3/schemas", "crm.schemas.custom.read"),
        ]:
            refused = http.get(path)
            assert refused.status_code == 403, path
            body: dict[str, Any] = refused.json()
            assert body["status"] == "error" and body["category"] == "MISSING_SCOPES"
            assert body["message"].startswith("This app hasn't been granted all required scopes")
            assert body["errors"] == [
                {
                    "message": "One or more of the following scopes are required.",
                    "context": {"requiredGranularScopes": [scope]},
                }
            ]
            assert body["links"] == {"scopes": "https://developers.hubspot.com/scopes"}
            assert body["correlationId"]
        write = http.patch("/crm/v3/objects/deals/1", json={"properties": {}})
        assert write.status_code == 403
        assert write.json()["errors"][0]["context"]["requiredGranularScopes"] == [
            "crm.objects.deals.write"
        ]
        # An unknown type is still a validation error, not a scope problem.
        assert http.get("/crm/v3/objects/spaceships").status_code == 400
    finally:
        sandbox.configure(clear_token_scopes=True)
    assert http.get("/crm/v3/objects/calls").status_code == 200


def test_owners_page_with_after_and_filter_by_email(http: httpx.Client) -> None:
    first = http.get("/crm/v3/owners", params={"limit": 2})
    assert first.status_code == 200
    body = first.json()
    assert len(body["results"]) == 2
    after = body["paging"]["next"]["after"]
    assert body["paging"]["next"]["link"].endswith(f"?after={after}")
    rest = http.get("/crm/v3/owners", params={"limit": 2, "after": after}).json()
    assert "paging" not in rest
    owners = body["results"] + rest["results"]
    assert [o["id"] for o in owners] == ["81000001", "81000002", "81000003"]
    maya = owners[0]
    assert maya["email"] == "maya.chen@northwind-advisory.example"
    assert maya["type"] == "PERSON" and maya["firstName"] == "Maya" and maya["archived"] is False
    assert isinstance(maya["userId"], int) and maya["teams"][0]["primary"] is True
    by_email = http.get("/crm/v3/owners", params={"email": maya["email"]}).json()
    assert [o["id"] for o in by_email["results"]] == ["81000001"]
    by_user = http.get(f"/crm/v3/owners/{maya['userId']}", params={"idProperty": "userId"})
    assert by_user.json()["id"] == "81000001"
    assert http.get("/crm/v3/owners/999").status_code == 404
    assert http.get("/crm/v3/owners", params={"archived": "true"}).json() == {"results": []}


def test_owners_own_the_seeded_deals(http: httpx.Client) -> None:
    owner_ids = {o["id"] for o in http.get("/crm/v3/owners").json()["results"]}
    deals = http.get(
        "/crm/v3/objects/deals", params={"limit": 100, "properties": "hubspot_owner_id"}
    ).json()["results"]
    used = {d["properties"].get("hubspot_owner_id") for d in deals} - {None, ""}
    assert used and used <= owner_ids


def test_users_and_schemas(http: httpx.Client) -> None:
    users = http.get("/settings/v3/users", params={"limit": 1}).json()
    assert len(users["results"]) == 1 and users["paging"]["next"]["after"] == "1"
    user = users["results"][0]
    assert user["id"] == "91000001" and user["email"].startswith("maya.chen@")
    assert user["roleIds"] == [] and user["superAdmin"] is False
    by_email = http.get(f"/settings/v3/users/{user['email']}", params={"idProperty": "EMAIL"})
    assert by_email.json()["id"] == "91000001"
    assert http.get("/crm/v3/schemas").json() == {"results": []}


def test_unseeded_sandbox_has_no_owners() -> None:
    with running_hubspot_sandbox() as empty:
        response = httpx.get(
            f"{empty.url}/crm/v3/owners", headers={"Authorization": f"Bearer {empty.token}"}
        )
        assert response.status_code == 200 and response.json() == {"results": []}


# -- the official client, unchanged -----------------------------------------------------------


def test_official_client_reads_owners_users_and_schemas(api: HubSpot) -> None:
    owners = api.crm.owners.get_all()
    assert [o.id for o in owners] == ["81000001", "81000002", "81000003"]
    assert owners[0].email.startswith("maya.chen@") and owners[0].teams[0].primary is True
    one = api.crm.owners.owners_api.get_by_id(owner_id=81000002)
    assert one.first_name == "Tom"
    page = api.settings.users.users_api.get_page(limit=2)
    assert [u.id for u in page.results] == ["91000001", "91000002"]
    assert page.paging.next.after == "2"
    assert api.crm.schemas.core_api.get_all().results == []


def test_official_client_reads_engagements_and_tickets(api: HubSpot) -> None:
    assert api.crm.objects.calls.basic_api.get_page(limit=10).results == []
    assert api.crm.objects.notes.basic_api.get_page(limit=100, archived=False).results == []
    found = api.crm.objects.meetings.search_api.do_search(
        public_object_search_request=PublicObjectSearchRequest(limit=10)
    )
    assert found.total == 0 and found.results == []
    assert api.crm.tickets.basic_api.get_page(limit=5).results == []
    assert api.crm.objects.basic_api.get_page("tasks", limit=5).results == []
