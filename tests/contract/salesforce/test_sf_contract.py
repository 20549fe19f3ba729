"""Behaviour Handoff relies on, checked the same way against the sandbox and a live org."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from handoff.connectors.salesforce.client import (
    SalesforceClient,
    SalesforceError,
    SalesforceNotFound,
)


@pytest.fixture
def marker(contract_client: SalesforceClient) -> Iterator[str]:
    tag = f"handoff-contract-{uuid.uuid4().hex[:10]}"
    yield tag
    leftovers = contract_client.query(
        f"SELECT Id FROM Account WHERE Handoff_External_Id__c LIKE '{tag}%'"
    )
    for record in leftovers:
        contract_client.delete("Account", record["Id"])


def test_limit_info_reported(contract_client: SalesforceClient) -> None:
    contract_client.count("SELECT COUNT() FROM Account")
    ratio = contract_client.budget.usage_ratio
    assert ratio is not None and 0 <= ratio <= 1


def test_upsert_reports_created_then_updated(
    contract_client: SalesforceClient, marker: str
) -> None:
    first = contract_client.upsert("Account", "Handoff_External_Id__c", marker, {"Name": marker})
    second = contract_client.upsert(
        "Account", "Handoff_External_Id__c", marker, {"Name": marker + "!"}
    )
    assert first.created is True and second.created is False and first.id == second.id
    assert contract_client.get("Account", first.id, ["Name"])["Name"] == marker + "!"


def test_collection_results_are_per_record_and_in_order(
    contract_client: SalesforceClient, marker: str
) -> None:
    records = [
        {"Handoff_External_Id__c": f"{marker}-a", "Name": "A"},
        {"Handoff_External_Id__c": f"{marker}-b"},  # no Name: REQUIRED_FIELD_MISSING
        {"Handoff_External_Id__c": f"{marker}-c", "Name": "C"},
    ]
    results = contract_client.upsert_many("Account", "Handoff_External_Id__c", records)
    assert [r.success for r in results] == [True, False, True]
    assert results[1].errors[0]["statusCode"] == "REQUIRED_FIELD_MISSING"


def test_soql_datetime_filter_and_modstamp_order(
    contract_client: SalesforceClient, marker: str
) -> None:
    contract_client.upsert("Account", "Handoff_External_Id__c", marker, {"Name": marker})
    since = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    rows = list(
        contract_client.query(
            f"SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > {since} "
            f"AND Handoff_External_Id__c = '{marker}' ORDER BY SystemModstamp ASC, Id ASC"
        )
    )
    assert len(rows) == 1 and rows[0]["SystemModstamp"].endswith("+0000")


def test_errors_have_salesforce_codes(contract_client: SalesforceClient) -> None:
    with pytest.raises(SalesforceError) as raised:
        list(contract_client.query("SELECT Nope__x FROM Account"))
    assert raised.value.rule == "INVALID_FIELD"
    with pytest.raises(SalesforceError) as raised:
        list(contract_client.query("SELECT Id FROM Account WHERE"))
    assert raised.value.rule == "MALFORMED_QUERY"
    with pytest.raises(SalesforceNotFound):
        contract_client.get("Account", "001000000000000AAA")


def test_soql_datetime_with_microseconds_and_date_literals(
    contract_client: SalesforceClient,
) -> None:
    # Singer taps and Airbyte write bookmarks with six fractional digits; Salesforce takes them.
    for where in (
        "SystemModstamp > 2000-01-01T00:00:00.123456Z",
        "SystemModstamp > 2000-01-01T00:00:00.123456+00:00",
        "CreatedDate = LAST_N_DAYS:30",
        "CreatedDate != THIS_WEEK",
    ):
        contract_client.count(f"SELECT COUNT() FROM Account WHERE {where}")


def test_bulk2_query_job_round_trip(contract_client: SalesforceClient) -> None:
    import csv
    import io
    import time

    created = contract_client.request(
        "POST", "jobs/query", json={"operation": "query", "query": "SELECT Id, Name FROM Account"}
    ).json()
    assert created["id"].startswith("750") and created["state"] == "UploadComplete"
    assert created["object"] == "Account" and created["contentType"] == "CSV"
    deadline = time.monotonic() + 120
    state = created["state"]
    while state != "JobComplete" and time.monotonic() < deadline:
        time.sleep(0.05 if state == "UploadComplete" else 0.5)
        state = contract_client.request("GET", f"jobs/query/{created['id']}").json()["state"]
        assert state in ("UploadComplete", "InProgress", "JobComplete"), state
    assert state == "JobComplete"
    page = contract_client.request(
        "GET", f"jobs/query/{created['id']}/results", params={"maxRecords": 2}
    )
    rows = list(csv.DictReader(io.StringIO(page.text)))
    assert int(page.headers["Sforce-NumberOfRecords"]) == len(rows) <= 2
    assert rows and set(rows[0]) == {"Id", "Name"}
    total = contract_client.count("SELECT COUNT() FROM Account")
    assert (page.headers["Sforce-Locator"] == "null") == (total <= 2)
    contract_client.request("DELETE", f"jobs/query/{created['id']}")


def test_parent_to_child_subquery_nests_related_records(
    contract_client: SalesforceClient, marker: str
) -> None:
    account = contract_client.create(
        "Account", {"Name": "Subquery", "Handoff_External_Id__c": f"{marker}-sub"}
    )
    contact = contract_client.create("Contact", {"LastName": "Nested", "AccountId": account})
    lonely = contract_client.create(
        "Account", {"Name": "Nobody", "Handoff_External_Id__c": f"{marker}-none"}
    )
    try:
        rows = {
            row["Id"]: row
            for row in contract_client.query(
                "SELECT Id, Name, (SELECT Id, LastName FROM Contacts ORDER BY Id) FROM Account "
                f"WHERE Id IN ('{account}', '{lonely}')"
            )
        }
        nested = rows[account]["Contacts"]
        assert nested["totalSize"] == 1 and nested["done"] is True
        [record] = nested["records"]
        assert record["Id"] == contact and record["LastName"] == "Nested"
        assert record["attributes"]["type"] == "Contact"
        assert rows[lonely]["Contacts"] is None  # no related records: null, not an empty list
        with pytest.raises(SalesforceError) as refused:
            list(contract_client.query("SELECT Id, (SELECT Id FROM Nothings) FROM Account"))
        assert refused.value.rule == "INVALID_TYPE"
    finally:
        contract_client.delete("Contact", contact)
