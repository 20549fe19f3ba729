"""The official simple-salesforce client, unchanged, against the sandbox over HTTPS."""

from __future__ import annotations

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)

from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox


def soap_login(sandbox: RunningSalesforceSandbox) -> Salesforce:
    return Salesforce(
        username=sandbox.username,
        password=sandbox.password,
        security_token=sandbox.security_token,
        domain=sandbox.login_domain,
        session=sandbox.requests_session(),
    )


def test_soap_login_gives_session_and_instance(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    assert sf.sf_instance == sandbox.instance
    assert sf.session_id.startswith(sandbox.config.org_id + "!")
    assert sf.query("SELECT COUNT() FROM Account")["totalSize"] >= 8


def test_wrong_password_is_a_soap_login_fault(sandbox: RunningSalesforceSandbox) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as raised:
        Salesforce(
            username=sandbox.username,
            password="wrong",
            security_token=sandbox.security_token,
            domain=sandbox.login_domain,
            session=sandbox.requests_session(),
        )
    assert raised.value.code == "INVALID_LOGIN"


def test_session_id_mode_and_oauth_password_flow(sandbox: RunningSalesforceSandbox) -> None:
    via_oauth = Salesforce(
        username=sandbox.username,
        password=sandbox.password + sandbox.security_token,
        consumer_key=sandbox.consumer_key,
        consumer_secret=sandbox.consumer_secret,
        domain=sandbox.login_domain,
        session=sandbox.requests_session(),
    )
    direct = Salesforce(
        session_id=via_oauth.session_id,
        instance=sandbox.instance,
        session=sandbox.requests_session(),
    )
    account = direct.query("SELECT Id, Name FROM Account ORDER BY Name LIMIT 1")["records"][0]
    assert account["Name"] == "Adventure Works Cycles"


def test_jwt_bearer_login(sandbox: RunningSalesforceSandbox) -> None:
    sf = Salesforce(
        username=sandbox.username,
        consumer_key=sandbox.consumer_key,
        privatekey=sandbox.private_key_pem,
        domain=sandbox.login_domain,
        session=sandbox.requests_session(),
    )
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] == 24


def test_query_all_iter_follows_next_records_url(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    rows = [
        {"Name": f"Paging {n:03d}", "Handoff_External_Id__c": f"paging-{n}"} for n in range(450)
    ]
    for start in range(0, 450, 200):
        results = sf.restful(
            "composite/sobjects",
            method="POST",
            json={
                "allOrNone": True,
                "records": [
                    {"attributes": {"type": "Account"}, **r} for r in rows[start : start + 200]
                ],
            },
        )
        assert all(result["success"] for result in results)
    used_before = sandbox.api_usage
    names = [
        record["Name"]
        for record in sf.query_all_iter(
            "SELECT Name FROM Account WHERE Name LIKE 'Paging%' ORDER BY Name",
            headers={"Sforce-Query-Options": "batchSize=200"},
        )
    ]
    assert names == [f"Paging {n:03d}" for n in range(450)]
    assert sandbox.api_usage - used_before == 3  # 200 + 200 + 50
    assert sf.api_usage["api-usage"].used == sandbox.api_usage


def test_upsert_by_external_id_creates_then_updates(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    assert sf.Account.upsert("Handoff_External_Id__c/ext-upsert-1", {"Name": "Upserted"}) == 201
    assert sf.Account.upsert("Handoff_External_Id__c/ext-upsert-1", {"Name": "Upserted 2"}) == 200
    record = sf.Account.get_by_custom_id("Handoff_External_Id__c", "ext-upsert-1")
    assert record["Name"] == "Upserted 2"
    found = sf.query("SELECT Id FROM Account WHERE Handoff_External_Id__c = 'ext-upsert-1'")
    assert found["totalSize"] == 1


def test_crud_round_trip(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    created = sf.Contact.create({"LastName": "Hopper", "FirstName": "Grace", "Email": "g@x.test"})
    assert created["success"] is True and created["id"].startswith("003")
    assert sf.Contact.get(created["id"])["Name"] == "Grace Hopper"
    assert sf.Contact.update(created["id"], {"Title": "Rear Admiral"}) == 204
    assert sf.Contact.get(created["id"])["Title"] == "Rear Admiral"
    assert sf.Contact.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(created["id"])
    deleted = sf.query_all(
        f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{created['id']}'", include_deleted=True
    )
    assert deleted["records"][0]["IsDeleted"] is True


def test_errors_arrive_in_salesforce_shapes(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Account.create({"Nmae": "typo"})
    assert raised.value.content[0]["errorCode"] == "INVALID_FIELD"
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Opportunity.create({"Name": "No stage", "CloseDate": "2025-01-01"})
    assert raised.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"
    assert raised.value.content[0]["fields"] == ["StageName"]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query("SELECT Id FROM Account WHERE")
    assert raised.value.content[0]["errorCode"] == "MALFORMED_QUERY"


def test_expired_session_triggers_relogin(sandbox: RunningSalesforceSandbox) -> None:
    sf = soap_login(sandbox)
    first_session = sf.session_id
    logins = sandbox.logins
    sandbox.expire_sessions()
    assert sf.query("SELECT COUNT() FROM Product2")["totalSize"] == 7
    assert sandbox.logins == logins + 1
    assert sf.session_id != first_session


def test_bulk2_query_pages_csv_through_the_official_client(
    sandbox: RunningSalesforceSandbox,
) -> None:
    import csv
    import io

    sf = soap_login(sandbox)
    soql = "SELECT Id, Name, Account.Name FROM Opportunity ORDER BY Name"
    pages = list(sf.bulk2.Opportunity.query(soql, max_records=10, wait=0.01))
    rows = [row for page in pages for row in csv.DictReader(io.StringIO(str(page)))]
    expected = sf.query(soql)["records"]
    assert len(pages) == -(-len(expected) // 10) >= 3
    assert [row["Id"] for row in rows] == [record["Id"] for record in expected]
    assert rows[0]["Account.Name"] == expected[0]["Account"]["Name"]
    everything = list(sf.bulk2.Opportunity.query_all("SELECT Id FROM Opportunity", wait=0.01))
    assert sum(len(list(csv.DictReader(io.StringIO(str(p))))) for p in everything) == len(expected)
    handler = sf.bulk2.Opportunity._client
    job = handler.create_job("query", "SELECT Id FROM Account")
    assert handler.get_job(job["id"], True)["state"] == "InProgress"
    assert handler.abort_job(job["id"], True)["state"] == "Aborted"
