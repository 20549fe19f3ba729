"""The CRM sources read and write many deals with batch requests, over real HTTP against the
HubSpot and Salesforce sandboxes; the prefetcher and the write-back batcher on top of them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.salesforce.adapter import SalesforceAdapter
from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff.crm.batching import SnapshotPrefetcher, Waiting, WriteBackBatcher
from handoff.crm.sources import (
    DealNotFound,
    DealSnapshot,
    DeliveryStatus,
    HubSpotSource,
    SalesforceSource,
    WriteBackRefused,
)
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox


@pytest.fixture
def hubspot() -> Iterator[tuple[RunningHubSpotSandbox, HubSpotAdapter]]:
    with (
        running_hubspot_sandbox() as sandbox,
        HubSpotClient(sandbox.token, base_url=sandbox.url) as client,
    ):
        yield sandbox, HubSpotAdapter(client)


def make_deals(adapter: HubSpotAdapter, count: int) -> list[str]:
    [company] = adapter.create("companies", [{"name": "Globex", "domain": "globex.example"}])
    [contact] = adapter.create("contacts", [{"email": "hank@globex.example"}])
    assert company.record is not None and contact.record is not None
    deals = adapter.create(
        "deals",
        [
            {"dealname": f"Deal {n}", "pipeline": "default", "dealstage": "closedwon"}
            for n in range(count)
        ],
    )
    lines = adapter.create(
        "line_items", [{"name": f"Line {n}", "quantity": "2", "price": "10"} for n in range(count)]
    )
    ids = []
    for deal, line in zip(deals, lines, strict=True):
        assert deal.record is not None and line.record is not None
        ids.append(deal.record.id)
        adapter.associate_default("deals", deal.record.id, "companies", company.record.id)
        adapter.associate_default("deals", deal.record.id, "contacts", contact.record.id)
        adapter.associate_default("deals", deal.record.id, "line_items", line.record.id)
    return ids


def test_hubspot_snapshots_of_many_deals_take_eight_batch_requests(
    hubspot: tuple[RunningHubSpotSandbox, HubSpotAdapter],
) -> None:
    sandbox, adapter = hubspot
    ids = make_deals(adapter, 30)
    source = HubSpotSource(adapter)
    adapter.pipelines()  # the account's pipelines, read once per adapter
    sandbox.reset_stats()

    outcomes = source.fetch_deals([*ids, "999999"])

    stats = sandbox.stats()
    assert stats["total_calls"] == 8, stats["calls"]
    assert all(name.startswith("POST ") and "batch/read" in name for name in stats["calls"])
    assert isinstance(outcomes["999999"], DealNotFound)  # the missing deal fails alone
    for deal_id in ids:
        snapshot = outcomes[deal_id]
        assert isinstance(snapshot, DealSnapshot)
        assert snapshot.deal.external_id == deal_id and snapshot.deal.is_won
        assert snapshot.customer is not None and snapshot.customer.name == "Globex"
        assert [c.email for c in snapshot.contacts] == ["hank@globex.example"]
        assert [(line.quantity, line.unit_price) for line in snapshot.deal.lines] == [(2, 10)]
    # One deal alone reads the same way (the per-deal role is a batch of one).
    assert source.fetch_deal(ids[0]) == outcomes[ids[0]]


def test_hubspot_write_back_of_many_deals_is_one_batch_update_and_per_deal_errors(
    hubspot: tuple[RunningHubSpotSandbox, HubSpotAdapter],
) -> None:
    sandbox, adapter = hubspot
    ids = make_deals(adapter, 5)
    source = HubSpotSource(adapter)
    adapter.ensure_properties()
    sandbox.reset_stats()

    refused = source.write_back_many(
        {
            **{d: DeliveryStatus(odoo_order=f"S{d}", sync_status="delivered") for d in ids},
            "999999": DeliveryStatus(odoo_order="S0", sync_status="delivered"),
        }
    )

    assert list(refused) == ["999999"] and isinstance(refused["999999"], WriteBackRefused)
    assert sandbox.stats()["calls"] == {"POST /crm/v3/objects/deals/batch/update": 1}
    written = adapter.read("deals", ids, ["handoff_odoo_order"])
    assert [o.record.properties["handoff_odoo_order"] for o in written if o.record] == [
        f"S{d}" for d in ids
    ]


def test_prefetched_snapshots_serve_later_runs_only_when_read_after_their_event(
    hubspot: tuple[RunningHubSpotSandbox, HubSpotAdapter],
) -> None:
    sandbox, adapter = hubspot
    first, second, third = make_deals(adapter, 3)
    source = HubSpotSource(adapter)
    adapter.pipelines()
    prefetcher = SnapshotPrefetcher()
    before = datetime.now(UTC) - timedelta(seconds=1)
    waiting = [Waiting(1, first), Waiting(2, second), Waiting(3, third)]
    sandbox.reset_stats()

    got = prefetcher.snapshot(source, first, event=1, received_at=before, pending=lambda: waiting)
    assert got.deal.external_id == first
    assert sandbox.stats()["total_calls"] == 8  # one batch read for the three deals
    # The second deal's event came before the read: its run is served without a request.
    served = prefetcher.snapshot(source, second, event=2, received_at=before)
    assert served.deal.external_id == second
    assert sandbox.stats()["total_calls"] == 8
    # The third deal changed after the read (its event is newer): it is read again.
    adapter.update("deals", {third: {"dealname": "Renamed"}})
    sandbox.reset_stats()
    fresh = prefetcher.snapshot(source, third, event=4, received_at=datetime.now(UTC))
    assert fresh.deal.name == "Renamed"
    assert sandbox.stats()["total_calls"] == 8
    # A snapshot is handed out once: a second run of the same deal reads again.
    sandbox.reset_stats()
    prefetcher.snapshot(source, second, event=5, received_at=before)
    assert sandbox.stats()["total_calls"] == 8
    assert prefetcher.stats.served_from_batch == 1


def test_concurrent_write_backs_go_out_as_one_batch_each_with_its_own_outcome(
    hubspot: tuple[RunningHubSpotSandbox, HubSpotAdapter],
) -> None:
    sandbox, adapter = hubspot
    ids = make_deals(adapter, 6)
    source = HubSpotSource(adapter)
    adapter.ensure_properties()
    batcher = WriteBackBatcher(linger=0.5)
    sandbox.reset_stats()
    errors: dict[str, BaseException | None] = {}

    def write(deal_id: str) -> None:
        try:
            batcher.write(source, deal_id, DeliveryStatus(odoo_order="S1", sync_status="ok"))
            errors[deal_id] = None
        except BaseException as error:
            errors[deal_id] = error

    threads = [threading.Thread(target=write, args=(d,)) for d in [*ids, "999999"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sandbox.stats()["calls"] == {"POST /crm/v3/objects/deals/batch/update": 1}
    assert {d: e for d, e in errors.items() if e is not None}.keys() == {"999999"}
    assert isinstance(errors["999999"], WriteBackRefused)
    assert all(errors[d] is None for d in ids)
    # A refusal reaches the writer as its own error (its run's step records it).
    sandbox.fail_next("POST", "/crm/v3/objects/deals/batch/update", status=400, times=10)
    with pytest.raises(WriteBackRefused):
        batcher.write(source, ids[0], DeliveryStatus(sync_status="again"))


def test_salesforce_snapshots_and_write_back_of_many_opportunities() -> None:
    with running_salesforce_sandbox(seed=True) as sandbox:
        settings = SalesforceSettings(**sandbox.connector_settings())
        with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
            ids = [
                r["Id"]
                for r in client.query(
                    "SELECT Id FROM Opportunity WHERE IsWon = true AND AccountId != null "
                    "ORDER BY Name LIMIT 5"
                )
            ]
            assert len(ids) >= 2
            source = SalesforceSource(SalesforceAdapter(client))
            before = sandbox.api_usage
            outcomes = source.fetch_deals([*ids, "006000000000000AAA"])
            # The opportunities with their lines (a relationship subquery), then the accounts.
            assert sandbox.api_usage - before == 2
            assert isinstance(outcomes["006000000000000AAA"], DealNotFound)
            for deal_id in ids:
                snapshot = outcomes[deal_id]
                assert isinstance(snapshot, DealSnapshot)
                assert snapshot.customer is not None
                assert snapshot.customer.external_id == snapshot.deal.customer_external_id
                assert snapshot.deal.lines  # every seeded won opportunity has lines
            before = sandbox.api_usage
            refused = source.write_back_many(
                {
                    **{d: DeliveryStatus(odoo_order="S7", sync_status="delivered") for d in ids},
                    "006000000000000AAA": DeliveryStatus(sync_status="delivered"),
                }
            )
            assert sandbox.api_usage - before == 1  # one sObject Collections update
            assert list(refused) == ["006000000000000AAA"]
            assert {client.get("Opportunity", d)["Handoff_Odoo_Order__c"] for d in ids} == {"S7"}
