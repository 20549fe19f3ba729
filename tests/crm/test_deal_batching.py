"""Won deals read and written back across runs with HubSpot's batch endpoints, over real HTTP:
HubSpot sandbox -> hub (durable deal_to_delivery runs) -> Odoo sandbox. The CRM requests are
counted by the HubSpot sandbox (its request log), not by the hub."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.engine import flows, launcher
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.flows.routing import route
from handoff.store.inbox import IncomingEvent
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from support.delivery import DELIVERY_PROPERTIES, PRODUCTS
from support.waiting import wait_for

CONFIG = """
version: 1
store: {{url: "{store_url}"}}
systems:
  odoo: {{kind: odoo, url: "{odoo_url}", database: psa, username: admin,
          credentials: {{password: "${{TEST_ODOO_PASSWORD}}"}}}}
  hubspot: {{kind: hubspot, url: "{hubspot_url}", credentials: {{token: "${{TEST_HUBSPOT_TOKEN}}"}},
            rate_limit: {{calls: 190, per_seconds: 10}}}}
retry: {{max_attempts: 6, initial_delay_seconds: 0.05, max_delay_seconds: 0.5}}
delivery:
  legal_entities: {{"Northwind US": My Company}}
  payment_terms: {{"Net 30": 30 Days}}
  tax_profiles: {{standard: ["15%"]}}
  rate_card: {{roles: {{consultant: {{USD: 150.0}}}}}}
  service_catalog:
    by_sku:
      IMPLEMENTATION: SVC-FIXED
  project_templates:
    standard: {{project_name: "{{order}} - {{deal}}", tasks: [Kick-off, Delivery]}}
  currencies: [USD]
  require_account_owner: false
"""

DEAL_READS = (
    "POST /crm/v3/objects/deals/batch/read",
    "POST /crm/v4/associations/deals/companies/batch/read",
    "POST /crm/v4/associations/deals/contacts/batch/read",
    "POST /crm/v4/associations/deals/line_items/batch/read",
    "POST /crm/v3/objects/line_items/batch/read",
    "POST /crm/v3/objects/companies/batch/read",
)


@dataclass
class World:
    hub: Hub
    sandbox: RunningHubSpotSandbox
    hubspot: HubSpotAdapter
    odoo: OdooAdapter
    company_id: str
    contact_id: str

    def deals(self, count: int, *, bad_line: int | None = None) -> list[str]:
        """``count`` won fixed-fee deals of one company, each with a line item and a contact;
        deal number ``bad_line`` gets a line item of a product the firm does not sell."""
        created = self.hubspot.create(
            "deals",
            [
                {
                    "dealname": f"Rollout {n}",
                    "pipeline": "default",
                    "dealstage": "closedwon",
                    "amount": "1000",
                    "deal_currency_code": "USD",
                    "handoff_contract_type": BillingModel.FIXED_FEE.value,
                    "handoff_legal_entity": "Northwind US",
                    "handoff_payment_terms": "Net 30",
                    "handoff_tax_profile": "standard",
                    "handoff_project_template": "standard",
                }
                for n in range(count)
            ],
        )
        ids = []
        for outcome in created:
            assert outcome.record is not None, outcome.error
            ids.append(outcome.record.id)
        lines = self.hubspot.create(
            "line_items",
            [
                {
                    "name": f"Implementation {n}",
                    "hs_sku": "NO-SUCH-SKU" if n == bad_line else "IMPLEMENTATION",
                    "quantity": "1",
                    "price": "1000",
                }
                for n in range(count)
            ],
        )
        for deal_id, line in zip(ids, lines, strict=True):
            assert line.record is not None, line.error
            self.hubspot.associate_default("deals", deal_id, "companies", self.company_id)
            self.hubspot.associate_default("deals", deal_id, "contacts", self.contact_id)
            self.hubspot.associate_default("deals", deal_id, "line_items", line.record.id)
        return ids

    def won(self, deal_ids: list[str]) -> None:
        """The webhooks of deals won at once (one batch, as HubSpot posts them)."""
        events = [
            IncomingEvent(
                source_event_id=f"{deal_id}-won",
                entity_key=f"hubspot:deal:{deal_id}",
                kind="deal.propertyChange",
                payload={"objectId": deal_id, "propertyName": "dealstage"},
            )
            for deal_id in deal_ids
        ]
        flows.submit(self.hub, "hubspot", route("hubspot", events))

    def orders(self, deal_id: str) -> list[dict[str, Any]]:
        return self.odoo.search_read(
            "sale.order", [["client_order_ref", "=", f"hubspot:{deal_id}"]], ["name", "state"]
        )

    def settled(self, count: int) -> Callable[[], bool]:
        def check() -> bool:
            statuses = [e.status for e in self.hub.inbox.list(limit=1000)]
            return sum(s in ("done", "failed") for s in statuses) >= count

        return check

    def written_back(self, deal_ids: list[str]) -> dict[str, str | None]:
        return {
            o.key: (o.record.properties.get("handoff_odoo_order") if o.record else None)
            for o in self.hubspot.read("deals", deal_ids, ["handoff_odoo_order"])
        }

    def write_backs(self) -> list[str]:
        return [
            str(e.record_id)
            for e in self.hub.audit.search(text="", limit=5000)
            if e.action == "write_back"
        ]


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_odoo_sandbox() as odoo_box, running_hubspot_sandbox() as hub_box:
        monkeypatch.setenv("TEST_ODOO_PASSWORD", odoo_box.password)
        monkeypatch.setenv("TEST_HUBSPOT_TOKEN", hub_box.token)
        odoo = OdooAdapter(OdooClient(odoo_box.url, odoo_box.db, odoo_box.login, odoo_box.password))
        odoo.create_many(
            "product.product",
            [
                {
                    "name": f"Service {code}",
                    "default_code": code,
                    "list_price": 100.0,
                    **required_product_setup(model),
                }
                for model, code in PRODUCTS.items()
            ],
        )
        hubspot = HubSpotAdapter(HubSpotClient(hub_box.token, base_url=hub_box.url))
        hubspot.ensure_properties(("deals",), DELIVERY_PROPERTIES)
        hubspot.ensure_properties()  # the write-back properties, as a deployed hub left them
        [company] = hubspot.create(
            "companies", [{"name": "Acme Analytics, Inc.", "domain": "acme.example"}]
        )
        [contact] = hubspot.create(
            "contacts", [{"email": "ada@acme.example", "firstname": "Ada", "lastname": "Byron"}]
        )
        assert company.record is not None and contact.record is not None
        hubspot.associate_default("contacts", contact.record.id, "companies", company.record.id)
        settings = parse_settings(
            CONFIG.format(store_url=store_url, odoo_url=odoo_box.url, hubspot_url=hub_box.url)
        )
        hub = start_hub(settings)
        launcher.launch(hub, executor_id="deal-batching-test")
        try:
            yield World(hub, hub_box, hubspot, odoo, company.record.id, contact.record.id)
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)


def test_deals_won_at_once_cost_at_most_four_crm_requests_each(world: World) -> None:
    deal_ids = world.deals(12)
    world.sandbox.reset_stats()
    world.won(deal_ids)
    wait_for(world.settled(len(deal_ids)), timeout=120, what="12 deal flows")

    assert world.hub.exceptions.list() == []
    for deal_id in deal_ids:
        [order] = world.orders(deal_id)
        assert order["state"] == "sale"
    written = world.written_back(deal_ids)
    assert all(written[d] for d in deal_ids), written
    assert sorted(world.write_backs()) == sorted(deal_ids)  # each deal written back once

    stats = world.sandbox.stats()
    calls: dict[str, int] = stats["calls"]
    hub_requests = stats["total_calls"] - 1  # the test's own read of the write-back above
    assert hub_requests <= 4 * len(deal_ids), calls
    # The snapshots were read across deals: far fewer reads of each kind than deals.
    for endpoint in DEAL_READS:
        assert 1 <= calls.get(endpoint, 0) < len(deal_ids) / 2, (endpoint, calls)
    # Nothing was read one deal at a time.
    assert not [name for name in calls if name.startswith("GET /crm/v3/objects/deals/")]
    assert calls.get("POST /crm/v3/objects/deals/batch/update", 0) <= len(deal_ids)


def test_a_deal_with_a_bad_line_item_fails_alone(world: World) -> None:
    deal_ids = world.deals(6, bad_line=2)
    bad = deal_ids[2]
    world.won(deal_ids)
    wait_for(world.settled(len(deal_ids)), timeout=120, what="6 deal flows")

    [record] = world.hub.exceptions.list()
    assert record.record == f"hubspot:deal:{bad}"
    assert record.rule == "deal_validation"
    assert "NO-SUCH-SKU" in record.message + str(record.context)
    assert world.orders(bad) == []
    good = [d for d in deal_ids if d != bad]
    for deal_id in good:
        assert len(world.orders(deal_id)) == 1
    written = world.written_back(deal_ids)
    assert written[bad] is None and all(written[d] for d in good)
    assert sorted(world.write_backs()) == sorted(good)


def test_a_failing_batch_read_is_retried_without_losing_or_duplicating_deals(
    world: World,
) -> None:
    deal_ids = world.deals(8)
    # The client retries a 429 inline after Retry-After; past its retries the step retries.
    world.sandbox.configure(retry_after_seconds=0.05)
    world.sandbox.fail_next("POST", "/crm/v3/objects/deals/batch/read", status=429, times=5)
    world.sandbox.fail_next(
        "POST", "/crm/v4/associations/deals/line_items/batch/read", status=503, times=5
    )
    world.sandbox.fail_next("POST", "/crm/v3/objects/deals/batch/update", status=502, times=5)
    world.sandbox.reset_stats()
    world.won(deal_ids)
    wait_for(world.settled(len(deal_ids)), timeout=180, what="8 deal flows")

    stats = world.sandbox.stats()
    assert stats["rejections"].get("TEN_SECONDLY_ROLLING", 0) == 5  # every 429 was met
    assert stats["calls"]["POST /crm/v4/associations/deals/line_items/batch/read"] >= 6
    assert stats["calls"]["POST /crm/v3/objects/deals/batch/update"] >= 6
    assert world.hub.exceptions.list() == []
    for deal_id in deal_ids:
        assert len(world.orders(deal_id)) == 1  # one order per deal: none lost, none twice
    written = world.written_back(deal_ids)
    assert all(written[d] for d in deal_ids), written
    assert sorted(world.write_backs()) == sorted(deal_ids)
    statuses = [e.status for e in world.hub.inbox.list(limit=100)]
    assert statuses.count("done") == len(deal_ids)
