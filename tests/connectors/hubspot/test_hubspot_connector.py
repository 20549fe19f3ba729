"""The HubSpot connector against the HubSpot sandbox over real HTTP: batches, per-record errors,
OAuth refresh, 429 handling, client-side limits, incremental search windows, pipelines, write-back."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from handoff.canonical.errors import BusinessRuleError, TransientError
from handoff.connectors.hubspot.adapter import BillingStatus, HubSpotAdapter
from handoff.connectors.hubspot.client import (
    ClientLimits,
    HubSpotClient,
    HubSpotRateLimited,
    OAuthRefresh,
)
from handoff.connectors.hubspot.mapping import HubSpotMappers, MappingContext, load_mappings
from handoff.mapping import MappingSpec, describe_mapping, diff_mappings, load_mapping_file
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningHubSpotSandbox]:
    with running_hubspot_sandbox(seed=True) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningHubSpotSandbox) -> Iterator[HubSpotClient]:
    sandbox.reset_limits()
    with HubSpotClient(sandbox.token, base_url=sandbox.url) as hub:
        yield hub


@pytest.fixture
def adapter(client: HubSpotClient) -> HubSpotAdapter:
    return HubSpotAdapter(client)


def test_batches_go_in_chunks_of_100_with_one_outcome_per_input(
    adapter: HubSpotAdapter, client: HubSpotClient
) -> None:
    before = client.calls
    created = adapter.create("companies", [{"name": f"Chunked {n}"} for n in range(250)])
    assert client.calls - before == 3
    assert [o.key for o in created] == [str(n) for n in range(250)]
    assert all(o.ok for o in created)
    assert (
        created[249].record is not None and created[249].record.properties["name"] == "Chunked 249"
    )
    ids = [o.record.id for o in created if o.record]
    updated = adapter.update("companies", {i: {"city": "Ghent"} for i in ids[:150]})
    assert len(updated) == 150 and all(o.ok for o in updated)
    read = adapter.read("companies", [*ids[:120], "999999991"], ["name", "city"])
    assert sum(o.ok for o in read) == 120
    missing = next(o for o in read if o.key == "999999991")
    assert missing.error is not None and missing.error.category == "OBJECT_NOT_FOUND"


def test_partial_failures_are_per_record(adapter: HubSpotAdapter) -> None:
    adapter.create("contacts", [{"email": "taken@example.com"}])
    outcomes = adapter.create(
        "contacts",
        [
            {"email": "free1@example.com"},
            {"email": "taken@example.com"},
            {"email": "free2@example.com"},
        ],
    )
    assert [o.ok for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None and outcomes[1].error.category == "CONFLICT"
    # A chunk refused as a whole for one bad input is split until the bad input stands alone.
    mixed = adapter.create(
        "companies",
        [{"name": "Good A"}, {"name": "Bad", "numberofemployees": "many"}, {"name": "Good B"}],
    )
    assert [o.ok for o in mixed] == [True, False, True]
    assert mixed[1].error is not None and "INVALID_DECIMAL" in mixed[1].error.message
    updated = adapter.update("companies", {"424242": {"city": "Nowhere"}})
    assert updated[0].error is not None and updated[0].error.category == "OBJECT_NOT_FOUND"


def test_upsert_by_unique_property(adapter: HubSpotAdapter) -> None:
    first = adapter.upsert(
        "contacts", "email", {"up1@example.com": {"firstname": "Up"}, "up2@example.com": {}}
    )
    assert [o.record.new for o in first if o.record] == [True, True]
    second = adapter.upsert("contacts", "email", {"up1@example.com": {"firstname": "Again"}})
    assert second[0].record is not None and second[0].record.new is False
    assert second[0].record.id == first[0].record.id  # type: ignore[union-attr]
    assert second[0].record.properties["firstname"] == "Again"


def test_oauth_refreshes_before_expiry_and_after_401(sandbox: RunningHubSpotSandbox) -> None:
    grant = sandbox.issue_refresh_token()
    now = [1_000_000.0]
    auth = OAuthRefresh(
        grant["client_id"], grant["client_secret"], grant["refresh_token"], clock=lambda: now[0]
    )
    with HubSpotClient(auth, base_url=sandbox.url) as hub:
        hub.get("/crm/v3/pipelines/deals")
        hub.get("/crm/v3/pipelines/deals")
        assert auth.refreshes == 1
        now[0] += 1800 - 59  # inside the refresh margin of expires_in: refresh before calling
        hub.get("/crm/v3/pipelines/deals")
        assert auth.refreshes == 2
        sandbox.expire_access_tokens()  # revoked server-side: 401 EXPIRED_AUTHENTICATION
        hub.get("/crm/v3/pipelines/deals")
        assert auth.refreshes == 3


def test_bad_refresh_token_is_a_permanent_auth_error(sandbox: RunningHubSpotSandbox) -> None:
    grant = sandbox.issue_refresh_token()
    auth = OAuthRefresh(grant["client_id"], grant["client_secret"], "revoked-token")
    with HubSpotClient(auth, base_url=sandbox.url) as hub, pytest.raises(Exception) as refused:
        hub.get("/crm/v3/pipelines/deals")
    assert not isinstance(refused.value, TransientError)
    assert "BAD_REFRESH_TOKEN" in str(refused.value)


def test_429_ten_secondly_raises_retryable_error_with_retry_after(
    sandbox: RunningHubSpotSandbox,
) -> None:
    sandbox.reset_limits()
    sandbox.configure(ten_secondly_max=2)
    try:
        with HubSpotClient(
            sandbox.token, base_url=sandbox.url, limits=ClientLimits(max_retries=0)
        ) as hub:
            hub.get("/crm/v3/pipelines/deals")
            hub.get("/crm/v3/pipelines/deals")
            assert hub.rate_limit is not None and hub.rate_limit.remaining == 0
            with pytest.raises(HubSpotRateLimited) as limited:
                hub.get("/crm/v3/pipelines/deals")
            assert isinstance(limited.value, TransientError)
            assert limited.value.policy == "TEN_SECONDLY_ROLLING"
            assert limited.value.retry_after == 10.0  # X-HubSpot-RateLimit-Interval-Milliseconds
            sandbox.configure(retry_after_seconds=3)
            with pytest.raises(HubSpotRateLimited) as with_header:
                hub.get("/crm/v3/pipelines/deals")
            assert with_header.value.retry_after == 3.0  # Retry-After wins when present
    finally:
        sandbox.configure(ten_secondly_max=190, retry_after_seconds=None)
        sandbox.reset_limits()


def test_429_secondly_search_is_waited_out_then_succeeds(sandbox: RunningHubSpotSandbox) -> None:
    sandbox.reset_limits()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        time.sleep(seconds)

    # The client's own limiter is set too loose on purpose, so the sandbox has to refuse.
    limits = ClientLimits(searches_per_second=50, max_retries=3)
    with HubSpotClient(sandbox.token, base_url=sandbox.url, limits=limits, sleep=sleep) as hub:
        for _ in range(7):
            hub.post("/crm/v3/objects/deals/search", {"limit": 1})
        assert hub.rate_limited >= 1
        assert 1.0 in slept  # SECONDLY policy: wait one second


def test_client_side_limiter_keeps_searches_under_5_per_second(
    sandbox: RunningHubSpotSandbox,
) -> None:
    sandbox.reset_limits()
    sandbox.reset_stats()
    with HubSpotClient(sandbox.token, base_url=sandbox.url) as hub:
        started = time.monotonic()
        for _ in range(11):
            hub.post("/crm/v3/objects/deals/search", {"limit": 1})
        elapsed = time.monotonic() - started
    assert elapsed >= 2.0
    assert sandbox.stats()["rejections"].get("SECONDLY", 0) == 0


def test_window_splitting_past_the_search_cap() -> None:
    # The cap is 500 here to keep the test fast; benchmarks/hubspot_sync.py runs it at 10,000.
    with running_hubspot_sandbox(search_result_cap=500, search_per_second=100) as sandbox:
        start = int(time.time() * 1000) - 3_600_000
        sandbox.bulk_load("deals", 1_700, modified_from_ms=start, modified_to_ms=start + 1_000_000)
        limits = ClientLimits(searches_per_second=100, requests_per_ten_seconds=1000)
        with HubSpotClient(sandbox.token, base_url=sandbox.url, limits=limits) as hub:
            adapter = HubSpotAdapter(hub, search_result_cap=500)
            seen = [
                r.id
                for page in adapter.iter_modified("deals", start, start + 1_000_001, ["dealname"])
                for r in page
            ]
            assert len(seen) == len(set(seen)) == 1_700
            assert adapter.window_splits >= 1
            # Records sharing one millisecond beyond the cap cannot be split in time: paged by id.
            crowd = seen[:700]
            sandbox.touch("deals", crowd, start + 2_000_000)
            same_ms = [
                r.id
                for page in adapter.iter_modified("deals", start + 2_000_000, start + 2_000_001)
                for r in page
            ]
            assert sorted(same_ms) == sorted(crowd)
        assert sandbox.stats()["rejections"] == {}


def test_incremental_sync_stops_short_of_the_index_lag(
    adapter: HubSpotAdapter, sandbox: RunningHubSpotSandbox
) -> None:
    sandbox.configure(search_per_second=100)
    try:
        cursor = int(time.time() * 1000) - 60_000
        created = adapter.create("deals", [{"dealname": "Fresh", "dealstage": "closedwon"}])[
            0
        ].record
        assert created is not None
        run = adapter.sync_modified("deals", cursor, ["dealname"], lag_ms=5_000)
        assert created.id not in {r.id for page in run.pages for r in page}
        later = adapter.sync_modified(
            "deals", run.next_cursor_ms, ["dealname"], lag_ms=0, now_ms=int(time.time() * 1000) + 10
        )
        assert created.id in {r.id for page in later.pages for r in page}
    finally:
        sandbox.configure(search_per_second=5)


def test_pipelines_are_read_not_hard_coded(adapter: HubSpotAdapter, client: HubSpotClient) -> None:
    created = client.post(
        "/crm/v3/pipelines/deals",
        {
            "label": "Renewals",
            "displayOrder": 3,
            "stages": [
                {"label": "Due", "metadata": {"probability": "0.5"}},
                {"label": "Renewed", "metadata": {"probability": "1.0", "isClosed": "true"}},
            ],
        },
    )
    book = adapter.pipelines(refresh=True)
    renewals = book.pipelines[created["id"]]
    assert [s.label for s in renewals.won_stages] == ["Renewed"]
    assert book.is_won("default", "closedwon") and not book.is_won("default", "contractsent")
    assert not book.is_won("default", "closedlost")


def test_write_back_creates_properties_and_writes_billing_status(
    adapter: HubSpotAdapter, client: HubSpotClient
) -> None:
    created = adapter.ensure_properties()
    assert len(created) == 18
    assert adapter.ensure_properties() == []
    deal_id = client.get("/crm/v3/objects/deals", limit=1)["results"][0]["id"]
    company_id = client.get("/crm/v3/objects/companies", limit=1)["results"][0]["id"]
    status = BillingStatus(
        odoo_order="S00042",
        odoo_project_url="https://odoo.example/odoo/project/7",
        invoiced_to_date=Decimal("12000"),
        paid_to_date=Decimal("8000.5"),
        outstanding=Decimal("3999.5"),
        overdue=Decimal("0"),
        last_invoice_number="INV/2025/00017",
        last_invoice_date="2025-03-31",
        sync_status="synced",
    )
    assert all(o.ok for o in adapter.write_back("deals", {deal_id: status}))
    assert all(o.ok for o in adapter.write_back("companies", {company_id: status}))
    names = [f"handoff_{n}" for n in BillingStatus.model_fields]
    deal = adapter.get("deals", deal_id, names)
    assert deal.properties["handoff_odoo_order"] == "S00042"
    assert deal.properties["handoff_paid_to_date"] == "8000.50"
    assert deal.properties["handoff_last_invoice_date"] == "2025-03-31"
    assert (
        adapter.get("companies", company_id, names).properties["handoff_outstanding"] == "3999.50"
    )


def test_seeded_deals_map_to_canonical_with_lines(
    adapter: HubSpotAdapter, sandbox: RunningHubSpotSandbox
) -> None:
    sandbox.configure(search_per_second=100)
    try:
        mappers = HubSpotMappers()
        deals = [
            r
            for page in adapter.iter_modified("deals", 0, 2**42, mappers.deal.spec.properties())
            for r in page
        ]
        context = MappingContext(pipelines=adapter.pipelines(refresh=True))
        canonical = {
            d.name: d
            for d in (mappers.deal.to_canonical(x, context) for x in adapter.expand_deals(deals))
        }
    finally:
        sandbox.configure(search_per_second=5)
    copperleaf = canonical["Copperleaf — finance transformation"]
    assert copperleaf.is_won and copperleaf.stage_label == "SOW signed"  # custom pipeline stage id
    assert copperleaf.customer_external_id is not None and len(copperleaf.lines) == 3
    assert sum(line.quantity * line.unit_price for line in copperleaf.lines) == copperleaf.amount
    assert not canonical["Fjord — fleet reporting"].is_won  # closed lost
    assert canonical["Acme — WMS rollout"].currency == "EUR"


def test_mapping_errors_name_record_rule_and_value() -> None:
    mappers = HubSpotMappers()
    with pytest.raises(BusinessRuleError) as missing:
        mappers.deal.to_canonical(
            {"id": "7", "properties": {"dealstage": "closedwon"}}, MappingContext()
        )
    assert missing.value.rule == "missing_required" and "dealname" in str(missing.value)
    with pytest.raises(BusinessRuleError) as bad_amount:
        mappers.deal.to_canonical({"id": "8", "properties": {"dealname": "x", "amount": "lots"}})
    assert bad_amount.value.rule == "invalid_value" and bad_amount.value.value == "lots"
    with pytest.raises(BusinessRuleError) as no_pipelines:
        mappers.deal.to_canonical({"id": "9", "properties": {"dealname": "x"}})
    assert no_pipelines.value.rule == "pipelines_unavailable"


def test_mapping_files_are_versioned_and_validated(tmp_path: Path) -> None:
    specs = load_mappings()
    assert {s.version for s in specs.values()} == {1}
    assert "dealname" in specs["hubspot_deal"].properties()
    broken = tmp_path / "deal.yaml"
    broken.write_text(
        "name: x\nversion: 1\nobject: deals\ncanonical: Deal\nfields:\n  colour: properties.c\n"
    )
    with pytest.raises(ValueError, match="colour"):
        load_mapping_file(broken)
    override = tmp_path / "company.yaml"
    override.write_text(
        "name: hubspot_company\nversion: 2\nobject: companies\ncanonical: Customer\n"
        "constants: {source: hubspot}\nfields:\n  external_id: id\n  name: properties.domain\n"
    )
    replaced = load_mappings({"hubspot_company": override})
    assert replaced["hubspot_company"].version == 2
    customer = HubSpotMappers(replaced).customer.to_canonical(
        {"id": "1", "properties": {"domain": "a.example"}}
    )
    assert customer.name == "a.example"
    assert isinstance(specs["hubspot_line_item"], MappingSpec)


def test_transport_is_injectable() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer t"
        return httpx.Response(200, json={"results": []})

    with HubSpotClient("t", transport=httpx.MockTransport(answer)) as hub:
        assert hub.get("/crm/v3/pipelines/deals") == {"results": []}


def test_describe_and_diff_mappings(tmp_path: Path) -> None:
    specs = load_mappings()
    shown = describe_mapping(specs["hubspot_deal"])
    assert shown[0] == "hubspot_deal v1: HubSpot deals -> Deal"
    assert "  amount <- properties.amount (as decimal)" in shown
    assert "  lines <- line_items via hubspot_line_item" in shown
    proposed = specs["hubspot_company"].model_copy(deep=True)
    proposed.fields["name"] = proposed.fields["domain"]
    changes = diff_mappings(
        specs["hubspot_company"],
        proposed,
        [{"id": "5", "properties": {"name": "Acme", "domain": "acme.example"}}],
    )
    assert changes[0].startswith("version stays 1")
    assert "record 5: name 'Acme' -> 'acme.example'" in changes
