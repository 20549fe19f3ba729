"""The sandbox's SOQL subset: operators, literals, ordering and errors."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from handoff_sandbox.salesforce import soql
from handoff_sandbox.salesforce.errors import SalesforceApiError
from handoff_sandbox.salesforce.seed import seed_demo
from handoff_sandbox.salesforce.store import OrgStore


@pytest.fixture(scope="module")
def store() -> OrgStore:
    org = OrgStore(clock=lambda: datetime(2026, 3, 10, 9, 30, tzinfo=UTC))
    seed_demo(org)
    return org


def names(store: OrgStore, text: str) -> list[str]:
    plan = soql.parse(text, store, today=date(2026, 3, 10))
    return [row["Name"] for row in soql.execute(plan, store, include_deleted=False)]


def test_where_and_or_in_like_and_order(store: OrgStore) -> None:
    found = names(
        store,
        "SELECT Name FROM Account WHERE (BillingCountry IN ('France', 'Italy') OR Name LIKE "
        "'%world%') AND Name != 'Nobody' ORDER BY Name DESC",
    )
    assert found == ["Wide World Importers", "Tailspin Toys", "Proseware Media"]
    assert names(
        store,
        "SELECT Name FROM Account WHERE NOT Name LIKE '_orthwind%' ORDER BY Name LIMIT 2 OFFSET 1",
    ) == [
        "Contoso Pharmaceuticals",
        "Fabrikam Logistics",
    ]


def test_numbers_booleans_nulls_and_dates(store: OrgStore) -> None:
    assert len(names(store, "SELECT Name FROM Opportunity WHERE IsWon = true")) >= 8
    retainers = names(
        store, "SELECT Name FROM Opportunity WHERE Amount >= 36000 AND Amount <= 36000"
    )
    assert len(retainers) == 6 and all("Retainer" in name for name in retainers)
    assert len(names(store, "SELECT Name FROM Contact WHERE AccountId != null")) == 16
    assert len(names(store, "SELECT Name FROM Account WHERE SystemModstamp = TODAY")) == 8
    assert names(store, "SELECT Name FROM Account WHERE CreatedDate > 2026-03-10T09:30:00Z") == []
    assert (
        len(names(store, "SELECT Name FROM Account WHERE CreatedDate >= 2026-03-10T10:30:00+01:00"))
        == 8
    )
    assert names(store, "SELECT Name FROM Opportunity WHERE CloseDate < 2000-01-01") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account LIMIT x", "MALFORMED_QUERY"),
        ("SELECT Id FROM Nope__c", "INVALID_TYPE"),
        ("SELECT Nope FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Account WHERE CreatedDate > '2026-01-01'", "INVALID_FIELD"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = 2026-01-01T00:00:00Z", "INVALID_FIELD"),
    ],
)
def test_errors(store: OrgStore, text: str, code: str) -> None:
    with pytest.raises(SalesforceApiError) as raised:
        soql.parse(text, store)
    assert raised.value.error_code == code


def test_parent_to_child_subquery(store: OrgStore) -> None:
    plan = soql.parse(
        "SELECT Id, (SELECT Id, Quantity FROM OpportunityLineItems ORDER BY Id LIMIT 1) "
        "FROM Opportunity",
        store,
    )
    [child] = plan.children
    assert (child.relationship, child.parent_field) == ("OpportunityLineItems", "OpportunityId")
    assert [ref.path for ref in child.plan.fields] == [["Id"], ["Quantity"]]
    assert child.plan.limit == 1
    with pytest.raises(SalesforceApiError) as error:
        soql.parse("SELECT Id, (SELECT Id FROM Contacts) FROM Opportunity", store)
    assert error.value.error_code == "INVALID_TYPE"
