"""Deal to delivery over real HTTP: HubSpot sandbox -> hub (durable flow) -> Odoo sandbox.

Every deal is created in the HubSpot sandbox through its API; the Odoo reference data (products
per billing model) through the Odoo adapter; the flow runs on the durable engine in-process."""

from __future__ import annotations

import json
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
from handoff_sandbox.hubspot.testing import running_hubspot_sandbox
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from support.delivery import DELIVERY_PROPERTIES, PRODUCTS
from support.waiting import wait_for


def config_text(store_url: str, odoo_url: str, hubspot_url: str) -> str:
    return f"""
version: 1
store: {{url: "{store_url}"}}
systems:
  odoo: {{kind: odoo, url: "{odoo_url}", database: psa, username: admin,
          credentials: {{password: "${{TEST_ODOO_PASSWORD}}"}}}}
  hubspot: {{kind: hubspot, url: "{hubspot_url}", credentials: {{token: "${{TEST_HUBSPOT_TOKEN}}"}}}}
retry: {{max_attempts: 3, initial_delay_seconds: 0.05, max_delay_seconds: 1}}
delivery:
  legal_entities: {{"Northwind US": My Company}}
  payment_terms: {{"Net 30": 30 Days}}
  tax_profiles: {{standard: ["15%"], reduced: ["7% Reduced"]}}
  rate_card: {{roles: {{consultant: {{USD: 150.0}}}}}}
  service_catalog:
    by_sku:
      CONSULTING-HOUR: {{product: SVC-TM, role: consultant}}
      IMPLEMENTATION: SVC-FIXED
      PHASED-DELIVERY: SVC-MILESTONE
      RETAINER-MONTH: SVC-RETAINER
  project_templates:
    standard: {{project_name: "{{order}} - {{deal}}", tasks: [Kick-off, Delivery, Handover]}}
  currencies: [USD]
  amendments: order_lines
  require_account_owner: false
"""


@dataclass
class World:
    hub: Hub
    hubspot: HubSpotAdapter
    odoo: OdooAdapter
    company_id: str

    def deal(
        self,
        name: str,
        model: BillingModel,
        lines: list[tuple[str, float, float]],
        *,
        stage: str = "closedwon",
        milestones: list[dict[str, Any]] | None = None,
        **properties: str,
    ) -> str:
        props = {
            "dealname": name,
            "pipeline": "default",
            "dealstage": stage,
            "amount": str(sum(q * p for _, q, p in lines)),
            "deal_currency_code": "USD",
            "handoff_contract_type": model.value,
            "handoff_legal_entity": "Northwind US",
            "handoff_payment_terms": "Net 30",
            "handoff_tax_profile": "standard",
            "handoff_project_template": "standard",
        } | properties
        if milestones:
            props["handoff_milestones"] = json.dumps(milestones)
        [created] = self.hubspot.create("deals", [props])
        assert created.record is not None, created.error
        deal_id = created.record.id
        self.hubspot.associate_default("deals", deal_id, "companies", self.company_id)
        items = self.hubspot.create(
            "line_items",
            [
                {"name": sku, "hs_sku": sku, "quantity": str(q), "price": str(p)}
                for sku, q, p in lines
            ],
        )
        for item in items:
            assert item.record is not None, item.error
            self.hubspot.associate_default("deals", deal_id, "line_items", item.record.id)
        return deal_id

    def won(self, *deal_ids: str, event_suffix: str = "") -> None:
        events = [
            IncomingEvent(
                source_event_id=f"{deal_id}-won{event_suffix}",
                entity_key=f"hubspot:deal:{deal_id}",
                kind="deal.propertyChange",
                payload={"objectId": deal_id, "propertyName": "dealstage"},
            )
            for deal_id in deal_ids
        ]
        flows.submit(self.hub, "hubspot", route("hubspot", events))

    def orders(self, deal_id: str) -> list[dict[str, Any]]:
        return self.odoo.search_read(
            "sale.order",
            [["client_order_ref", "=", f"hubspot:{deal_id}"]],
            ["name", "state", "order_line", "partner_id"],
        )

    def settled(self, count: int) -> Callable[[], bool]:
        def check() -> bool:
            statuses = [e.status for e in self.hub.inbox.list(limit=1000)]
            return sum(s in ("done", "failed") for s in statuses) >= count

        return check


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
        [company] = hubspot.create(
            "companies", [{"name": "Acme Analytics, Inc.", "domain": "acme.example"}]
        )
        assert company.record is not None
        settings = parse_settings(config_text(store_url, odoo_box.url, hub_box.url))
        hub = start_hub(settings)
        launcher.launch(hub, executor_id="flow-test")
        try:
            yield World(hub, hubspot, odoo, company.record.id)
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)


def test_won_deals_of_every_contract_type_become_one_customer_order_and_project(
    world: World,
) -> None:
    tm = world.deal(
        "Data platform discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)]
    )
    fixed = world.deal("ERP rollout", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 48000)])
    phased = world.deal(
        "Finance transformation",
        BillingModel.MILESTONE,
        [("PHASED-DELIVERY", 1, 100000)],
        milestones=[
            {"name": "Design", "amount": "30000", "due_date": "2027-01-28"},
            {"name": "Build", "amount": "50000", "due_date": "2027-03-28"},
            {"name": "Go-live", "amount": "20000", "due_date": "2027-05-28"},
        ],
    )
    retainer = world.deal(
        "Managed services",
        BillingModel.RETAINER,
        [("RETAINER-MONTH", 12, 6500)],
        handoff_retainer_monthly_amount="6500",
        handoff_retainer_hours="40",
    )
    world.won(tm, fixed, phased, retainer)
    world.won(tm, fixed, event_suffix="")  # a redelivered webhook changes nothing
    wait_for(world.settled(4), timeout=60, what="4 flows")
    assert world.hub.exceptions.list() == []

    partners = world.odoo.search_read(
        "res.partner", [["is_company", "=", True], ["name", "ilike", "acme"]], ["name"]
    )
    assert len(partners) == 1  # four deals of one customer: one partner
    for deal_id, model in (
        (tm, "time_materials"),
        (fixed, "fixed_fee"),
        (phased, "milestone"),
        (retainer, "retainer"),
    ):
        [order] = world.orders(deal_id)
        assert order["state"] == "sale", model
        assert order["partner_id"][0] == partners[0]["id"]
        projects = world.odoo.search_read(
            "project.project", [["sale_order_id", "=", order["id"]]], ["name", "task_ids"]
        )
        assert len(projects) == 1, model
        tasks = world.odoo.search_read(
            "project.task", [["project_id", "=", projects[0]["id"]]], ["name"]
        )
        assert {"Kick-off", "Delivery", "Handover"} <= {t["name"] for t in tasks}
        written = world.hubspot.read("deals", [deal_id], ["handoff_odoo_order"])[0].record
        assert written is not None and written.properties["handoff_odoo_order"] == order["name"]

    [order] = world.orders(phased)
    milestones = world.odoo.search_read(
        "project.milestone",
        [["sale_line_id", "in", order["order_line"]]],
        ["name", "quantity_percentage"],
    )
    assert sorted((m["name"], round(m["quantity_percentage"], 2)) for m in milestones) == [
        ("Build", 0.5),
        ("Design", 0.3),
        ("Go-live", 0.2),
    ]
    [tm_order] = world.orders(tm)
    [tm_line] = world.odoo.read(
        "sale.order.line", tm_order["order_line"], ["price_unit", "product_uom_qty"]
    )
    assert (tm_line["product_uom_qty"], tm_line["price_unit"]) == (40, 150)
    audit = world.hub.audit.search(system="odoo", limit=500)
    assert {e.model for e in audit} >= {"res.partner", "sale.order", "project.milestone"}
    assert all(e.correlation_id for e in audit)


def test_a_deal_with_bad_data_becomes_one_exception_listing_every_problem(world: World) -> None:
    deal_id = world.deal(
        "Mystery project",
        BillingModel.FIXED_FEE,
        [("NO-SUCH-SKU", 1, 1000)],
        handoff_legal_entity="Atlantis Ltd",
        handoff_payment_terms="Net 999",
    )
    world.won(deal_id)
    wait_for(world.settled(1), timeout=60, what="the flow to fail")
    [record] = world.hub.exceptions.list()
    assert record.rule == "deal_validation"
    text = record.message + json.dumps(record.context)
    for expected in ("NO-SUCH-SKU", "Atlantis Ltd", "Net 999"):
        assert expected in text
    assert world.orders(deal_id) == []  # nothing was written to Odoo
    assert world.odoo.search_read("res.partner", [["name", "ilike", "acme"]], ["id"]) == []


def test_lines_added_after_won_amend_the_order_and_reopening_raises_an_exception(
    world: World,
) -> None:
    deal_id = world.deal(
        "Data platform discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)]
    )
    world.won(deal_id)
    wait_for(world.settled(1), timeout=60, what="delivery")
    [item] = world.hubspot.create(
        "line_items",
        [{"name": "extra", "hs_sku": "CONSULTING-HOUR", "quantity": "10", "price": "150"}],
    )
    assert item.record is not None
    world.hubspot.associate_default("deals", deal_id, "line_items", item.record.id)
    world.won(deal_id, event_suffix="-amended")
    wait_for(world.settled(2), timeout=60, what="the amendment")
    [order] = world.orders(deal_id)
    assert len(order["order_line"]) == 2
    assert world.hub.exceptions.list() == []

    world.hubspot.update("deals", {deal_id: {"dealstage": "closedlost"}})
    world.won(deal_id, event_suffix="-lost")
    wait_for(world.settled(3), timeout=60, what="the reopened deal")
    [record] = world.hub.exceptions.list()
    assert record.rule == "reopened_after_won"
    assert order["name"] in record.message
    [still] = world.orders(deal_id)
    assert still["state"] == "sale"  # nothing in Odoo is deleted or cancelled automatically


def test_a_gated_deal_waits_visibly_and_continues_when_approved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from handoff import services

    delivery = world.hub.settings.delivery.model_copy(update={"gates": ["approval"]})
    monkeypatch.setattr(
        world.hub, "settings", world.hub.settings.model_copy(update={"delivery": delivery})
    )
    deal_id = world.deal("Audit", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 9000)])
    world.won(deal_id)
    wait_for(lambda: len(world.hub.gates.list()) == 1, timeout=60, what="the deal to wait")
    [gate] = world.hub.gates.list()
    assert (gate.deal_key, gate.gate, gate.deal_name) == (
        f"hubspot:deal:{deal_id}",
        "approval",
        "Audit",
    )
    assert world.orders(deal_id) == []  # waiting, not failed: nothing written yet
    assert world.hub.exceptions.list() == []
    services.approve(world.hub, gate.id, by="finance@northwind")
    wait_for(world.settled(1), timeout=60, what="delivery after approval")
    [order] = world.orders(deal_id)
    assert order["state"] == "sale"


def test_an_ambiguous_customer_waits_for_a_person_and_is_never_duplicated(world: World) -> None:
    from handoff import services

    first, second = world.odoo.create_many(
        "res.partner",
        [
            {"name": "ACME Analytics Inc", "is_company": True},
            {"name": "Acme Analytics LLC", "is_company": True},
        ],
    )
    deal_id = world.deal("Discovery", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 5000)])
    world.won(deal_id)
    wait_for(world.settled(1), timeout=60, what="the ambiguous match")
    [record] = world.hub.exceptions.list()
    assert record.rule == "customer_match_ambiguous"
    assert str(first) in record.message and str(second) in record.message
    assert "handoff customers bind" in (record.suggested_fix or "")

    services.bind_customer(world.hub, "hubspot", world.company_id, second, by="ops@northwind")
    services.retry_exception(world.hub, record.id)
    wait_for(lambda: world.orders(deal_id) != [], timeout=60, what="delivery after the decision")
    [order] = world.orders(deal_id)
    assert order["partner_id"][0] == second
    companies = world.odoo.search_read(
        "res.partner", [["is_company", "=", True], ["name", "ilike", "acme"]], ["id"]
    )
    assert sorted(c["id"] for c in companies) == sorted([first, second])  # no third partner


def test_retry_after_the_missing_tax_is_created_in_odoo_reads_it_and_creates_one_order(
    world: World,
) -> None:
    """The retry of a validation exception reads the reference data again: the tax a person
    created in Odoo after the exception is on the order (not the replayed, earlier read)."""
    from handoff import services

    deal_id = world.deal(
        "Reduced-rate audit",
        BillingModel.FIXED_FEE,
        [("IMPLEMENTATION", 1, 20000)],
        handoff_tax_profile="reduced",
    )
    world.won(deal_id)
    wait_for(world.settled(1), timeout=60, what="the validation exception")
    [record] = world.hub.exceptions.list()
    assert record.rule == "deal_validation"
    assert "7% Reduced" in record.message + json.dumps(record.context)
    assert world.orders(deal_id) == []

    # The suggested fix, done by a person in Odoo (over RPC here).
    [standard] = world.odoo.search_read(
        "account.tax",
        [["name", "=", "15%"], ["type_tax_use", "=", "sale"]],
        ["company_id", "tax_group_id", "country_id"],
    )
    tax_id = world.odoo.create(
        "account.tax",
        {
            "name": "7% Reduced",
            "amount": 7.0,
            "amount_type": "percent",
            "type_tax_use": "sale",
            "company_id": standard["company_id"][0],
            "tax_group_id": standard["tax_group_id"][0],
            "country_id": standard["country_id"][0],
        },
    )

    services.retry_exception(world.hub, record.id)
    wait_for(
        lambda: world.hub.exceptions.get(record.id).status == "resolved",  # type: ignore[union-attr]
        timeout=60,
        what="the retried delivery",
    )
    [order] = world.orders(deal_id)  # exactly one order
    [line] = world.odoo.read("sale.order.line", order["order_line"], ["tax_id"])
    assert line["tax_id"] == [tax_id]


def test_two_deals_of_one_client_won_together_survive_a_concurrent_update_inside_load(
    world: World,
) -> None:
    """Real Odoo answers a load that raced another transaction with a serialization failure
    inside load's result; the step retries it (the sandbox answers the next load that way)."""
    import httpx

    odoo_url = str(world.hub.settings.systems["odoo"].url).rstrip("/")
    httpx.post(f"{odoo_url}/sandbox/control", json={"load_conflicts": 1}).raise_for_status()
    first = world.deal("Cloud migration", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 9000)])
    second = world.deal("Cost review", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 4000)])
    world.won(first, second)
    wait_for(world.settled(2), timeout=60, what="both deliveries")
    assert world.hub.exceptions.list() == []
    assert httpx.get(f"{odoo_url}/sandbox/control").json()["load_conflicts"] == 0  # it was met
    partners = world.odoo.search_read(
        "res.partner", [["is_company", "=", True], ["name", "ilike", "acme"]], ["id"]
    )
    assert len(partners) == 1
    for deal_id in (first, second):
        [order] = world.orders(deal_id)
        assert order["partner_id"][0] == partners[0]["id"]


def test_a_webhook_about_a_deal_whose_data_cannot_be_mapped_becomes_an_exception(
    world: World,
) -> None:
    deal_id = world.deal(
        "Odd deal",
        BillingModel.FIXED_FEE,
        [("IMPLEMENTATION", 1, 100)],
        handoff_contract_type="pay-what-you-want",
    )
    world.won(deal_id)
    wait_for(world.settled(1), timeout=60, what="the flow to fail")
    [record] = world.hub.exceptions.list()
    assert record.rule == "invalid_value"
    assert "pay-what-you-want" in record.message and record.suggested_fix
    assert record.record == f"hubspot:deal:{deal_id}"
    assert world.orders(deal_id) == []


def test_a_deposit_paid_through_stripe_lifts_the_deposit_gate(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    delivery = world.hub.settings.delivery.model_copy(update={"gates": ["deposit_paid"]})
    monkeypatch.setattr(
        world.hub, "settings", world.hub.settings.model_copy(update={"delivery": delivery})
    )
    deal_id = world.deal("Audit", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 9000)])
    world.won(deal_id)
    wait_for(lambda: len(world.hub.gates.list()) == 1, timeout=60, what="the deal to wait")
    deposit = {
        "id": "evt_deposit_1",
        "type": "payment_intent.succeeded",
        "created": 1795000000,
        "data": {
            "object": {
                "id": "pi_deposit_1",
                "object": "payment_intent",
                "amount": 270000,
                "amount_received": 270000,
                "currency": "usd",
                "customer": "cus_acme",
                "metadata": {"handoff_deal": f"hubspot:{deal_id}"},
            }
        },
    }
    flows.submit(
        world.hub,
        "stripe",
        [
            IncomingEvent(
                source_event_id="evt_deposit_1",
                entity_key="stripe:payment:pi_deposit_1",
                kind="payment_intent.succeeded",
                flow="stripe_payment",
                payload=deposit,
            )
        ],
    )
    wait_for(lambda: world.orders(deal_id) != [], timeout=60, what="delivery after the deposit")
    [gate] = world.hub.gates.list(status=None)
    assert (gate.gate, gate.status, gate.satisfied_by) == ("deposit_paid", "satisfied", "stripe")
    assert gate.evidence["payment"] == "pi_deposit_1"


def test_polling_hubspot_starts_the_flow_for_deals_changed_since_the_last_poll(
    world: World,
) -> None:
    from handoff.flows.polling import poll_hubspot_deals

    deal_id = world.deal("Polled", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 4000)])
    wait_for(lambda: poll_hubspot_deals_now(world) >= 1, timeout=30, what="the poll to see it")
    wait_for(lambda: world.orders(deal_id) != [], timeout=60, what="delivery after the poll")
    # Polling again (our own write-back also changed the deal) never delivers it twice.
    poll_hubspot_deals(world.hub)
    wait_for(world.settled(len(world.hub.inbox.list(limit=1000))), timeout=60, what="settle")
    assert len(world.orders(deal_id)) == 1


def poll_hubspot_deals_now(world: World) -> int:
    from handoff.flows.polling import poll_hubspot_deals

    return poll_hubspot_deals(world.hub)
