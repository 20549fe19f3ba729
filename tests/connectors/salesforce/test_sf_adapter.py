"""Incremental sync into canonical records and billing write-back, against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from handoff.connectors.salesforce.adapter import (
    CustomerBillingStatus,
    DealBillingStatus,
    SalesforceAdapter,
)
from handoff.connectors.salesforce.client import SalesforceClient
from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox

FUTURE = timedelta(seconds=5)


def now_plus() -> datetime:
    return datetime.now(UTC) + FUTURE


def test_full_then_incremental_sync_of_deals(
    client: SalesforceClient, sandbox: RunningSalesforceSandbox
) -> None:
    adapter = SalesforceAdapter(client)
    batches = list(adapter.changed_deals(None, until=now_plus()))
    deals = [deal for batch in batches for deal in batch.records]
    assert len(deals) == 24 and not any(batch.rejected for batch in batches)
    won = next(d for d in deals if d.name == "Contoso Pharmaceuticals - Fixed Fee 1")
    assert won.is_won and won.stage == "Closed Won" and won.source == "salesforce"
    assert won.amount == sum((line.amount or 0) for line in won.lines)
    assert won.amount is not None and won.amount >= Decimal("29500")
    assert {line.sku for line in won.lines} == {"IMPL-FIXED", "TRN-WS"}
    assert won.customer_external_id and won.customer_external_id.startswith("001")
    cursor = batches[-1].cursor

    assert list(adapter.changed_deals(cursor, until=now_plus())) == []
    # A line item change rolls up into its Opportunity, so polling Opportunities catches it.
    line = next(
        client.query(
            f"SELECT Id FROM OpportunityLineItem WHERE OpportunityId = '{won.external_id}' AND ProductCode = 'TRN-WS'"
        )
    )
    client.update("OpportunityLineItem", line["Id"], {"Quantity": 10})
    changed = [d for b in adapter.changed_deals(cursor, until=now_plus()) for d in b.records]
    assert [d.external_id for d in changed] == [won.external_id]
    assert changed[0].amount == Decimal("25000") + 10 * Decimal("4500")


def test_cursor_ties_on_the_same_millisecond_are_not_skipped(
    sandbox: RunningSalesforceSandbox,
) -> None:
    from handoff.connectors.salesforce.client import SalesforceSettings

    frozen = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)
    with_clock = sandbox.store
    with_clock.clock = lambda: frozen  # every write below shares one SystemModstamp
    ids = with_clock.insert_many("Account", [{"Name": f"Tie {n}"} for n in range(5)])
    settings = SalesforceSettings(**sandbox.connector_settings(query_batch_size=200))
    with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
        adapter = SalesforceAdapter(client)
        first = next(iter(adapter.changed_customers(None, until=frozen)))
        tie_cursor = first.cursor.model_copy(update={"last_id": sorted(ids)[1]})
        rest = [
            c.external_id
            for b in adapter.changed_customers(tie_cursor, until=frozen)
            for c in b.records
        ]
    assert rest == sorted(ids)[2:]


def test_unmappable_record_is_rejected_not_fatal(client: SalesforceClient, tmp_path: Path) -> None:
    override = tmp_path / "deal.yaml"
    override.write_text(
        Path(__file__)
        .parents[3]
        .joinpath("src/handoff/mappings/salesforce_deal.yaml")
        .read_text()
        .replace(
            "close_date: {from: CloseDate, type: date}",
            "close_date: {from: Description, type: date}",
        )
    )
    opportunity = client.query("SELECT Id FROM Opportunity LIMIT 1").__next__()["Id"]
    client.update("Opportunity", opportunity, {"Description": "not a date"})
    adapter = SalesforceAdapter(client, mapping_overrides={"salesforce_deal": override})
    batches = list(adapter.changed_deals(None, until=now_plus()))
    assert sum(len(b.records) for b in batches) == 23
    rejected = [r for b in batches for r in b.rejected]
    assert [(r.external_id, r.rule) for r in rejected] == [(opportunity, "invalid_value")]
    assert "Description" in rejected[0].message


def test_write_back_billing_status(client: SalesforceClient) -> None:
    adapter = SalesforceAdapter(client)
    deal = next(client.query("SELECT Id, AccountId FROM Opportunity WHERE IsWon = true LIMIT 1"))
    results = adapter.write_back_deals(
        [
            DealBillingStatus(
                deal_external_id=deal["Id"],
                odoo_order="S00042",
                invoiced_to_date=Decimal("12500.00"),
                paid_to_date=Decimal("5000"),
                outstanding=Decimal("7500"),
                last_invoice="INV/2026/0007",
                sync_status="Partially Paid",
            ),
            DealBillingStatus(deal_external_id="006000000000000AAA", odoo_order="S1"),
        ]
    )
    assert [r.success for r in results] == [True, False]
    assert results[1].error
    written = client.get("Opportunity", deal["Id"])
    assert written["Handoff_Odoo_Order__c"] == "S00042"
    assert written["Handoff_Outstanding__c"] == 7500.0
    assert written["Handoff_Sync_Status__c"] == "Partially Paid"
    assert written["Handoff_Last_Sync__c"]
    account = adapter.write_back_customers(
        [
            CustomerBillingStatus(
                customer_external_id=deal["AccountId"],
                odoo_partner="res.partner,7",
                outstanding=Decimal("7500"),
            )
        ]
    )
    assert account[0].success
    assert client.get("Account", deal["AccountId"])["Handoff_Odoo_Partner__c"] == "res.partner,7"


def test_updated_ids_and_deals_by_ids(
    client: SalesforceClient, sandbox: RunningSalesforceSandbox
) -> None:
    adapter = SalesforceAdapter(client)
    now = datetime.now(UTC)
    touched = [r["Id"] for r in client.query("SELECT Id FROM Opportunity ORDER BY Name LIMIT 3")]
    sandbox.store.clock = lambda: now - timedelta(minutes=3)
    for record_id in touched:
        client.update("Opportunity", record_id, {"Description": "touched"})
    sandbox.store.clock = lambda: datetime.now(UTC)
    # /updated covers whole minutes up to latestDateCovered: the seed (this minute) is not in.
    updated = adapter.updated_ids("Opportunity", now - timedelta(minutes=10), now)
    assert sorted(updated.ids) == sorted(touched)
    assert updated.latest_date_covered <= now
    batch = adapter.deals_by_ids(updated.ids)
    assert sorted(d.external_id for d in batch.records) == sorted(touched)
