"""The connector's HTTP client against the sandbox over real HTTPS."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from handoff.canonical.errors import PermanentError, TransientError
from handoff.connectors.salesforce.client import (
    BudgetPaused,
    SalesforceAuthError,
    SalesforceClient,
    SalesforceError,
    SalesforceNotFound,
    SalesforceSettings,
)
from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox


def test_password_flow_login(sandbox: RunningSalesforceSandbox) -> None:
    settings = SalesforceSettings(**sandbox.connector_settings("password"))
    with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
        assert client.count("SELECT COUNT() FROM Account") == 8
        assert client.session is not None and client.session.instance_url == sandbox.url


def test_bad_credentials_are_a_permanent_auth_error(sandbox: RunningSalesforceSandbox) -> None:
    settings = SalesforceSettings(**sandbox.connector_settings(username="someone@else.test"))
    with (
        SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client,
        pytest.raises(SalesforceAuthError) as raised,
    ):
        client.count("SELECT COUNT() FROM Account")
    assert isinstance(raised.value, PermanentError)
    assert raised.value.rule == "invalid_grant"


def test_relogin_once_on_invalid_session(
    client: SalesforceClient, sandbox: RunningSalesforceSandbox
) -> None:
    client.count("SELECT COUNT() FROM Account")
    assert client.logins == 1
    sandbox.expire_sessions()
    assert client.count("SELECT COUNT() FROM Contact") == 16
    assert client.logins == 2


def test_query_pages_follow_next_records_url(
    client: SalesforceClient, sandbox: RunningSalesforceSandbox
) -> None:
    records = [{"Name": f"Page {n:04d}"} for n in range(2300)]
    results = client.create_many([{"attributes": {"type": "Account"}, **r} for r in records])
    assert len(results) == 2300 and all(r.success for r in results)
    calls = client.calls
    pages = list(
        client.query_pages("SELECT Id, Name FROM Account WHERE Name LIKE 'Page %' ORDER BY Name")
    )
    assert [len(p) for p in pages] == [2000, 300]
    assert client.calls - calls == 2
    assert pages[1][-1]["Name"] == "Page 2299" and "attributes" not in pages[0][0]


def test_collections_chunk_by_200_with_per_record_results(client: SalesforceClient) -> None:
    calls = client.calls
    records = [{"Handoff_External_Id__c": f"coll-{n}", "Name": f"Coll {n}"} for n in range(401)]
    records[250] = {"Handoff_External_Id__c": "coll-250", "Name": None}  # Name is required
    results = client.upsert_many("Account", "Handoff_External_Id__c", records)
    assert client.calls - calls == 3  # 200 + 200 + 1
    assert [r.success for r in results].count(False) == 1
    assert results[250].errors[0]["statusCode"] == "REQUIRED_FIELD_MISSING"
    assert results[0].created is True
    again = client.upsert_many("Account", "Handoff_External_Id__c", records[:2])
    assert [r.created for r in again] == [False, False]


def test_upsert_get_update_delete(client: SalesforceClient) -> None:
    created = client.upsert("Account", "Handoff_External_Id__c", "ext/with slash", {"Name": "A"})
    assert created.created is True
    updated = client.upsert("Account", "Handoff_External_Id__c", "ext/with slash", {"Name": "B"})
    assert updated == created.model_copy(update={"created": False})
    client.update("Account", created.id, {"Phone": "+41 61 000 00 00"})
    assert client.get("Account", created.id, ["Name", "Phone"]) == {
        "Name": "B",
        "Phone": "+41 61 000 00 00",
    }
    client.delete("Account", created.id)
    with pytest.raises(SalesforceNotFound) as raised:
        client.get("Account", created.id)
    assert raised.value.rule == "ENTITY_IS_DELETED"


def test_salesforce_errors_are_classified(client: SalesforceClient) -> None:
    with pytest.raises(SalesforceError) as raised:
        client.create("Account", {"Name": "x", "NoSuchField__c": 1})
    assert raised.value.rule == "INVALID_FIELD"
    with pytest.raises(SalesforceError) as raised:
        list(client.query("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'"))
    assert raised.value.rule == "INVALID_FIELD"


def _gauge(instance: str) -> float | None:
    return REGISTRY.get_sample_value("handoff_salesforce_api_usage_ratio", {"instance": instance})


def test_budget_floor_pauses_before_exhausting_the_org(sandbox: RunningSalesforceSandbox) -> None:
    sandbox.set_limits(daily_limit=1000, used=880)
    settings = SalesforceSettings(
        **sandbox.connector_settings(budget_floor=0.1, budget_recheck_seconds=300)
    )
    with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
        paused: BudgetPaused | None = None
        while paused is None:
            try:
                client.count("SELECT COUNT() FROM Account")
            except BudgetPaused as error:
                paused = error
        assert sandbox.api_usage == 900  # stopped at 90% used: 10% left for others
        assert isinstance(paused, TransientError) and 0 < (paused.retry_after or 0) <= 300
        assert _gauge(sandbox.url) == pytest.approx(0.9)
        # A re-check after the interval lets one call through to read usage again.
        client.budget.observed_at -= 301
        sandbox.set_limits(used=100)
        assert client.count("SELECT COUNT() FROM Account") == 8
        assert _gauge(sandbox.url) == pytest.approx(0.101)


def test_request_limit_exceeded_becomes_budget_paused(sandbox: RunningSalesforceSandbox) -> None:
    settings = SalesforceSettings(**sandbox.connector_settings(budget_floor=0.0))
    with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
        client.count("SELECT COUNT() FROM Account")
        sandbox.set_limits(daily_limit=50, used=50)
        with pytest.raises(BudgetPaused) as raised:
            client.count("SELECT COUNT() FROM Account")
    assert raised.value.rule == "REQUEST_LIMIT_EXCEEDED"
    assert sandbox.api_usage == 50
