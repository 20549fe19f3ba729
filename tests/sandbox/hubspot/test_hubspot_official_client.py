"""The official `hubspot-api-client`, unchanged, against the HubSpot sandbox (only the host set)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    AssociationSpec,
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInputUpsert,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInput,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.contacts.exceptions import ApiException as ContactsApiException
from hubspot.crm.deals import PublicObjectSearchRequest
from hubspot.crm.deals import SimplePublicObjectInputForCreate as DealCreate
from hubspot.crm.deals.exceptions import ApiException as DealsApiException

from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningHubSpotSandbox]:
    with running_hubspot_sandbox(seed=True) as running:
        yield running


@pytest.fixture(scope="module")
def api(sandbox: RunningHubSpotSandbox) -> HubSpot:
    return HubSpot(access_token=sandbox.token, host=sandbox.url)


def test_basic_crud(api: HubSpot) -> None:
    created = api.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(
            properties={"email": "crud@example.com", "firstname": "Ada"}
        )
    )
    assert created.id and created.properties["email"] == "crud@example.com"
    fetched = api.crm.contacts.basic_api.get_by_id(created.id, properties=["email", "firstname"])
    assert fetched.properties == {"email": "crud@example.com", "firstname": "Ada"}
    by_email = api.crm.contacts.basic_api.get_by_id("crud@example.com", id_property="email")
    assert by_email.id == created.id
    updated = api.crm.contacts.basic_api.update(
        created.id, SimplePublicObjectInput(properties={"lastname": "Lovelace"})
    )
    assert updated.properties["lastname"] == "Lovelace"
    assert updated.updated_at >= created.updated_at
    api.crm.contacts.basic_api.archive(created.id)
    with pytest.raises(ContactsApiException) as gone:
        api.crm.contacts.basic_api.get_by_id(created.id)
    assert gone.value.status == 404


def test_duplicate_email_conflicts_and_unknown_property_is_refused(api: HubSpot) -> None:
    api.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "dup@example.com"})
    )
    with pytest.raises(ContactsApiException) as conflict:
        api.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"email": "DUP@example.com"})
        )
    assert conflict.value.status == 409
    assert "Existing ID" in conflict.value.body
    with pytest.raises(ContactsApiException) as invalid:
        api.crm.contacts.basic_api.create(
            SimplePublicObjectInputForCreate(properties={"shoe_size": "42"})
        )
    assert invalid.value.status == 400 and "PROPERTY_DOESNT_EXIST" in invalid.value.body


def test_batch_upsert_by_email(api: HubSpot) -> None:
    api.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "known@example.com"})
    )
    batch = BatchInputSimplePublicObjectBatchInputUpsert(
        inputs=[
            SimplePublicObjectBatchInputUpsert(
                id="known@example.com", id_property="email", properties={"jobtitle": "CFO"}
            ),
            SimplePublicObjectBatchInputUpsert(
                id="fresh@example.com", id_property="email", properties={"jobtitle": "CTO"}
            ),
        ]
    )
    result = api.crm.contacts.batch_api.upsert(batch)
    assert result.status == "COMPLETE"
    outcome = {r.properties["email"]: r for r in result.results}
    assert outcome["known@example.com"].new is False
    assert outcome["fresh@example.com"].new is True
    again = api.crm.contacts.batch_api.upsert(batch)
    assert all(r.new is False for r in again.results)  # upsert is idempotent


def test_search_with_paging(api: HubSpot) -> None:
    seen: list[str] = []
    after = None
    while True:
        page = api.crm.deals.search_api.do_search(
            PublicObjectSearchRequest(
                filter_groups=[
                    {"filters": [{"propertyName": "amount", "operator": "GT", "value": "0"}]}
                ],
                sorts=[{"propertyName": "amount", "direction": "DESCENDING"}],
                properties=["dealname", "amount"],
                limit=5,
                after=after,
            )
        )
        seen += [r.id for r in page.results]
        amounts = [float(r.properties["amount"]) for r in page.results]
        assert amounts == sorted(amounts, reverse=True)
        if page.paging is None:
            break
        after = page.paging.next.after
    assert page.total == 12 and len(seen) == len(set(seen)) == 12


def test_search_filter_in_pipeline_of_custom_stage(api: HubSpot) -> None:
    pipelines = api.crm.pipelines.pipelines_api.get_all("deals").results
    services = next(p for p in pipelines if p.label == "Professional services")
    won = [s.id for s in services.stages if s.metadata["probability"] == "1.0"]
    found = api.crm.deals.search_api.do_search(
        PublicObjectSearchRequest(
            filter_groups=[
                {
                    "filters": [
                        {"propertyName": "pipeline", "operator": "EQ", "value": services.id},
                        {"propertyName": "dealstage", "operator": "IN", "values": won},
                    ]
                }
            ],
            properties=["hs_is_closed_won"],
            limit=100,
        )
    )
    assert found.total == 2
    assert {r.properties["hs_is_closed_won"] for r in found.results} == {"true"}


def test_associations_v4_single_and_batch(api: HubSpot) -> None:
    deal = api.crm.deals.basic_api.create(
        DealCreate(
            properties={
                "dealname": "Assoc test",
                "dealstage": "appointmentscheduled",
                "pipeline": "default",
            }
        )
    )
    company = api.crm.companies.basic_api.get_page(limit=1).results[0]
    contact = api.crm.contacts.basic_api.get_page(limit=1).results[0]
    default = api.crm.associations.v4.basic_api.create_default(
        "deals", deal.id, "contacts", contact.id
    )
    assert default.status == "COMPLETE"
    labelled = api.crm.associations.v4.basic_api.create(
        "deals",
        deal.id,
        "companies",
        company.id,
        [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=5)],
    )
    assert labelled.labels == ["Primary"]
    to_companies = api.crm.associations.v4.basic_api.get_page("deals", deal.id, "companies")
    assert to_companies.results[0].to_object_id == company.id
    assert to_companies.results[0].association_types[0].type_id == 5
    back = api.crm.associations.v4.basic_api.get_page("companies", company.id, "deals")
    assert deal.id in {r.to_object_id for r in back.results}
    assert any(
        t.type_id == 6
        for r in back.results
        if r.to_object_id == deal.id
        for t in r.association_types
    )
    batch = api.crm.associations.v4.batch_api.get_page(
        "deals",
        "contacts",
        BatchInputPublicFetchAssociationsBatchRequest(
            inputs=[PublicFetchAssociationsBatchRequest(id=deal.id)]
        ),
    )
    assert batch.results[0].to[0].to_object_id == contact.id
    assert batch.results[0].to[0].association_types[0].type_id == 3
    api.crm.associations.v4.basic_api.archive("deals", deal.id, "contacts", contact.id)
    assert api.crm.associations.v4.basic_api.get_page("deals", deal.id, "contacts").results == []


def test_invalid_association_type_is_refused(api: HubSpot) -> None:
    deal = api.crm.deals.basic_api.get_page(limit=1).results[0]
    contact = api.crm.contacts.basic_api.get_page(limit=1).results[0]
    with pytest.raises(Exception) as refused:
        api.crm.associations.v4.basic_api.create(
            "deals",
            deal.id,
            "contacts",
            contact.id,
            [AssociationSpec(association_category="HUBSPOT_DEFINED", association_type_id=341)],
        )
    assert getattr(refused.value, "status", None) == 400


def test_deal_stage_must_belong_to_its_pipeline(api: HubSpot) -> None:
    with pytest.raises(DealsApiException) as refused:
        api.crm.deals.basic_api.create(
            DealCreate(
                properties={"dealname": "x", "pipeline": "default", "dealstage": "110382976"}
            )
        )
    assert refused.value.status == 400 and "INVALID_OPTION" in refused.value.body
