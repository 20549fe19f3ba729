"""Systems by name (issue 11, deliverable 4), over real HTTP against independent sandboxes.

One hub holds two Odoo databases (``erp_eu``, ``erp_us``) and two HubSpot portals
(``hubspot_eu`` feeding ``erp_eu``, ``hubspot_us`` feeding ``erp_us``). Each portal posts its own
signed webhooks to ``/webhooks/hubspot/<name>``; each won deal lands in its own Odoo only, its
bindings stored under that Odoo's name, its run on that Odoo's DBOS queue (concurrency and rate
from its own settings) behind that Odoo's circuit breaker; polls keep a cursor per portal name.
And a hub whose one Odoo is called ``erp`` works end to end."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from dbos import DBOS
from prometheus_client import REGISTRY

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.engine import launcher
from handoff.engine.runtime import Hub
from handoff.flows.invoicing import poll_invoices
from handoff.flows.polling import hub_schedules, poll_hubspot_deals
from handoff.ingress.hubspot import sign_v3
from handoff.invoicing.monitors import run_monitors
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox
from support.delivery import DELIVERY_PROPERTIES, PRODUCTS
from support.servers import serving_hub
from support.waiting import wait_for

DELIVERY = """
retry: {max_attempts: 8, initial_delay_seconds: 0.05, max_delay_seconds: 0.5}
delivery:
  legal_entities: {"Northwind US": My Company}
  payment_terms: {"Net 30": 30 Days}
  tax_profiles: {standard: ["15%"]}
  rate_card: {roles: {consultant: {USD: 150.0}}}
  service_catalog:
    by_sku:
      CONSULTING-HOUR: {product: SVC-TM, role: consultant}
      IMPLEMENTATION: SVC-FIXED
  project_templates:
    standard: {project_name: "{order} - {deal}", tasks: [Kick-off, Delivery]}
  currencies: [USD]
  require_account_owner: false
"""


def _odoo_yaml(name: str, box: RunningSandbox, extra: str) -> str:
    return (
        f'  {name}: {{kind: odoo, url: "{box.url}", database: {box.db}, username: {box.login}, '
        f'credentials: {{password: "${{TEST_PW_{name.upper()}}}"}}, {extra}}}\n'
    )


def _hubspot_yaml(name: str, box: RunningHubSpotSandbox, extra: str) -> str:
    return (
        f'  {name}: {{kind: hubspot, url: "{box.url}", '
        f'credentials: {{token: "${{TEST_TOKEN_{name.upper()}}}"}}, '
        f'webhook_secret: "${{TEST_SECRET_{name.upper()}}}", {extra}}}\n'
    )


@dataclass
class Portal:
    """One HubSpot portal (its own sandbox) and what the tests create in it."""

    name: str
    box: RunningHubSpotSandbox
    adapter: HubSpotAdapter
    company_id: str
    secret: str

    def won_deal(self, name: str, hours: float = 10) -> str:
        props = {
            "dealname": name,
            "pipeline": "default",
            "dealstage": "closedwon",
            "amount": str(hours * 150),
            "deal_currency_code": "USD",
            "handoff_contract_type": BillingModel.TIME_AND_MATERIALS.value,
            "handoff_legal_entity": "Northwind US",
            "handoff_payment_terms": "Net 30",
            "handoff_tax_profile": "standard",
            "handoff_project_template": "standard",
        }
        [created] = self.adapter.create("deals", [props])
        assert created.record is not None, created.error
        deal_id = created.record.id
        self.adapter.associate_default("deals", deal_id, "companies", self.company_id)
        [item] = self.adapter.create(
            "line_items",
            [{"name": "Consulting", "hs_sku": "CONSULTING-HOUR", "quantity": str(hours),
              "price": "150"}],
        )  # fmt: skip
        assert item.record is not None, item.error
        self.adapter.associate_default("deals", deal_id, "line_items", item.record.id)
        return deal_id

    def settle(self, *deal_ids: str) -> None:
        """Date the deals' last change a minute back: a poll reads up to 5 s before now (the
        search index's lag), as it does against HubSpot."""
        self.box.touch("deals", list(deal_ids), int(time.time() * 1000) - 60_000)

    def send_webhooks(self, hub_url: str) -> int:
        """Point the portal at its route and deliver what it queued, signed with its secret."""
        self.box.configure(webhook_url=f"{hub_url}/webhooks/hubspot/{self.name}")
        return int(self.box.flush_webhooks().get("delivered", 0))


@dataclass
class Erp:
    """One Odoo database (its own sandbox)."""

    name: str
    box: RunningSandbox
    adapter: OdooAdapter

    def orders(self, reference: str) -> list[dict[str, Any]]:
        return self.adapter.search_read(
            "sale.order", [["client_order_ref", "=", reference]], ["name", "state"]
        )


@dataclass
class World:
    hub: Hub
    url: str
    portals: dict[str, Portal]
    erps: dict[str, Erp]

    def runs(self, key: str) -> list[Any]:
        return [
            run
            for run in DBOS.list_workflows(name="deal_to_delivery", load_output=False)
            if run.input and run.input["args"][0]["entity_key"] == key
        ]

    def delivered(self, key: str) -> Callable[[], bool]:
        def check() -> bool:
            runs = self.runs(key)
            return bool(runs) and all(str(run.status) == "SUCCESS" for run in runs)

        return check


def _calls(system: str) -> float:
    """Orders created through ``system``'s steps (``handoff.engine.steps.call``) so far."""
    labels = {"system": system, "operation": "create_order"}
    return REGISTRY.get_sample_value("handoff_calls_total", labels) or 0.0


def _seed_odoo(box: RunningSandbox) -> OdooAdapter:
    odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
    odoo.create_many(
        "product.product",
        [
            {"name": f"Service {code}", "default_code": code, "list_price": 100.0,
             **required_product_setup(model)}
            for model, code in PRODUCTS.items()
        ],
    )  # fmt: skip
    return odoo


def _portal(name: str, box: RunningHubSpotSandbox, secret: str) -> Portal:
    adapter = HubSpotAdapter(HubSpotClient(box.token, base_url=box.url))
    adapter.ensure_properties(("deals",), DELIVERY_PROPERTIES)
    [company] = adapter.create("companies", [{"name": f"Acme {name}", "domain": f"{name}.example"}])
    assert company.record is not None
    # Webhooks queue up until the test flushes them (the hub's URL is known only then).
    box.configure(
        webhook_url="http://127.0.0.1:9/not-yet",
        webhook_secret=secret,
        webhook_auto_deliver=False,
        webhook_properties={"deals": ["dealstage"]},
    )
    return Portal(name, box, adapter, company.record.id, secret)


def _world(
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    odoos: dict[str, str],
    portals: dict[str, str],
    extra: str = "",
) -> Iterator[World]:
    """``odoos``: name -> its settings; ``portals``: name -> its settings (``odoo: ...``)."""
    with ExitStack() as stack:
        erps: dict[str, Erp] = {}
        text = f'version: 1\nstore: {{url: "{store_url}"}}\nsystems:\n'
        for name, settings in odoos.items():
            box = stack.enter_context(running_odoo_sandbox())
            monkeypatch.setenv(f"TEST_PW_{name.upper()}", box.password)
            erps[name] = Erp(name, box, _seed_odoo(box))
            text += _odoo_yaml(name, box, settings)
        made: dict[str, Portal] = {}
        for name, settings in portals.items():
            box = stack.enter_context(running_hubspot_sandbox())
            secret = f"secret-of-{name}"
            for variable, value in (("TOKEN", box.token), ("SECRET", secret)):
                monkeypatch.setenv(f"TEST_{variable}_{name.upper()}", value)
            made[name] = _portal(name, box, secret)
            text += _hubspot_yaml(name, box, settings)
        settings_ = parse_settings(text + DELIVERY + extra)
        base, hub = stack.enter_context(serving_hub(settings_))
        launcher.launch(hub, executor_id="names-test")
        yield World(hub, base, made, erps)


@pytest.fixture
def two(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(
        store_url,
        monkeypatch,
        odoos={
            "erp_eu": "concurrency: 3, rate_limit: {calls: 40, per_seconds: 2}, "
            "circuit_breaker: {failure_threshold: 2, cooldown_seconds: 1}",
            "erp_us": "concurrency: 5, circuit_breaker: {failure_threshold: 2, cooldown_seconds: 1}",
        },
        portals={"hubspot_eu": "odoo: erp_eu", "hubspot_us": "odoo: erp_us"},
    )


def test_two_portals_feed_two_odoos_each_with_its_own_queue_bindings_and_route(two: World) -> None:
    eu, us = two.portals["hubspot_eu"], two.portals["hubspot_us"]
    deal_eu = eu.won_deal("EU rollout", hours=10)
    deal_us = us.won_deal("US rollout", hours=20)
    before = {system: _calls(system) for system in ("erp_eu", "erp_us", "odoo")}
    # Two independent portals: the same deal id may well exist in both, and stays two deals.
    assert eu.send_webhooks(two.url) > 0
    assert us.send_webhooks(two.url) > 0
    key_eu, key_us = f"hubspot_eu:deal:{deal_eu}", f"hubspot_us:deal:{deal_us}"
    wait_for(two.delivered(key_eu), timeout=60, what="the EU deal delivered")
    wait_for(two.delivered(key_us), timeout=60, what="the US deal delivered")
    assert two.hub.exceptions.list() == []

    # Each deal in its own Odoo only, referenced by its portal's name.
    erp_eu, erp_us = two.erps["erp_eu"], two.erps["erp_us"]
    assert [o["state"] for o in erp_eu.orders(f"hubspot_eu:{deal_eu}")] == ["sale"]
    assert erp_us.orders(f"hubspot_eu:{deal_eu}") == []
    assert [o["state"] for o in erp_us.orders(f"hubspot_us:{deal_us}")] == ["sale"]
    assert erp_eu.orders(f"hubspot_us:{deal_us}") == []
    partners_eu = erp_eu.adapter.search_read("res.partner", [["is_company", "=", True]], ["name"])
    assert "Acme hubspot_eu" in {p["name"] for p in partners_eu}
    assert "Acme hubspot_us" not in {p["name"] for p in partners_eu}

    # Bindings under each Odoo's name.
    for key, odoo in ((key_eu, "erp_eu"), (key_us, "erp_us")):
        bound = two.hub.bindings.for_canonical("deal", key)
        assert {b.system for b in bound} == {odoo}
        assert {b.model for b in bound} >= {"sale.order", "project.project"}

    # Each run on its Odoo's queue, recorded with its target; each queue with its own limits.
    for key, odoo in ((key_eu, "erp_eu"), (key_us, "erp_us")):
        runs = two.runs(key)
        assert {run.queue_name for run in runs} == {odoo}
        assert {run.input["args"][0]["target"] for run in runs} == {odoo}
    queue_eu, queue_us = DBOS.retrieve_queue("erp_eu"), DBOS.retrieve_queue("erp_us")
    assert queue_eu is not None and queue_us is not None
    assert (queue_eu.global_concurrency, queue_us.global_concurrency) == (3, 5)
    assert queue_eu.limiter == {"limit": 40, "period": 2.0} and queue_us.limiter is None
    # Calls went through each Odoo's own breaker and retry, by name (none under the kind).
    assert _calls("erp_eu") == before["erp_eu"] + 1
    assert _calls("erp_us") == before["erp_us"] + 1
    assert _calls("odoo") == before["odoo"]
    assert not two.hub.breakers.is_open("erp_eu") and not two.hub.breakers.is_open("erp_us")

    # Each route is verified with its own portal's secret, and names only a HubSpot system.
    body = json.dumps(
        [{"eventId": 9001, "subscriptionType": "deal.propertyChange", "occurredAt": 1,
          "objectId": deal_eu, "propertyName": "dealstage"}]
    ).encode()  # fmt: skip

    def post(path: str, secret: str) -> httpx.Response:
        url = f"{two.url}{path}"
        stamp = str(int(time.time() * 1000))
        return httpx.post(url, content=body, headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sign_v3(secret, "POST", url, body, stamp),
            "X-HubSpot-Request-Timestamp": stamp,
        })  # fmt: skip

    assert post("/webhooks/hubspot/hubspot_eu", us.secret).status_code == 401
    assert post("/webhooks/hubspot/erp_eu", eu.secret).status_code == 404
    assert post("/webhooks/hubspot/nobody", eu.secret).status_code == 404
    # Two portals, neither named "hubspot": the kind's own path serves neither.
    assert post("/webhooks/hubspot", eu.secret).status_code == 404
    stored = post("/webhooks/hubspot/hubspot_eu", eu.secret)
    assert stored.status_code == 200, stored.text
    [row] = [e for e in two.hub.inbox.list(source="hubspot_eu") if e.source_event_id == "9001"]
    assert row.entity_key == key_eu
    assert [e for e in two.hub.inbox.list(source="hubspot_us") if e.source_event_id == "9001"] == []


def test_one_odoo_down_opens_only_its_breaker_and_the_other_keeps_delivering(two: World) -> None:
    eu, us = two.portals["hubspot_eu"], two.portals["hubspot_us"]
    erp_eu = two.erps["erp_eu"]
    erp_eu.box.set_faults(fail_next=10_000, fail_status=503)  # EU's Odoo is down
    deal_eu = eu.won_deal("EU during the outage")
    deal_us = us.won_deal("US during the EU outage")
    eu.send_webhooks(two.url)
    wait_for(lambda: two.hub.breakers.is_open("erp_eu"), timeout=30, what="EU's circuit open")
    us.send_webhooks(two.url)

    key_eu, key_us = f"hubspot_eu:deal:{deal_eu}", f"hubspot_us:deal:{deal_us}"
    wait_for(two.delivered(key_us), timeout=60, what="the US deal delivered while EU is down")
    assert two.erps["erp_us"].orders(f"hubspot_us:{deal_us}") != []
    assert not two.hub.breakers.is_open("erp_us")
    assert two.hub.breakers.view("erp_us").consecutive_failures == 0
    assert not two.delivered(key_eu)()  # EU waits on its circuit: no order, no exception
    assert two.hub.exceptions.list() == []

    # EU comes back: after the cool-down its probe succeeds and its deal is delivered too.
    erp_eu.box.set_faults(reset=True)
    wait_for(two.delivered(key_eu), timeout=60, what="the EU deal delivered after the outage")
    assert [o["state"] for o in erp_eu.orders(f"hubspot_eu:{deal_eu}")] == ["sale"]
    assert not two.hub.breakers.is_open("erp_eu")
    assert two.hub.exceptions.list() == []


def test_polls_keep_a_cursor_per_portal_name(two: World) -> None:
    eu, us = two.portals["hubspot_eu"], two.portals["hubspot_us"]
    deal_eu = eu.won_deal("EU found by the poll")
    deal_us = us.won_deal("US found by the poll")
    eu.settle(deal_eu)
    us.settle(deal_us)

    assert poll_hubspot_deals(two.hub, "hubspot_eu") >= 1
    assert two.hub.cursors.get("hubspot_eu", "deals") != {}
    assert two.hub.cursors.get("hubspot_us", "deals") == {}  # the other portal's is untouched
    assert two.hub.cursors.get("hubspot", "deals") == {}  # nothing under the kind
    polled = [e for e in two.hub.inbox.list(source="hubspot_eu") if e.kind == "deal.polled"]
    assert f"hubspot_eu:deal:{deal_eu}" in {e.entity_key for e in polled}
    assert poll_hubspot_deals(two.hub, "hubspot_us") >= 1
    assert two.hub.cursors.get("hubspot_us", "deals") != {}

    wait_for(two.delivered(f"hubspot_eu:deal:{deal_eu}"), timeout=60, what="EU polled deal")
    wait_for(two.delivered(f"hubspot_us:deal:{deal_us}"), timeout=60, what="US polled deal")
    assert two.erps["erp_eu"].orders(f"hubspot_eu:{deal_eu}") != []
    assert two.erps["erp_us"].orders(f"hubspot_us:{deal_us}") != []

    # The invoice poll and the monitors run per Odoo, on their own circuits and cursors.
    assert poll_invoices(two.hub) == 0  # nothing invoiced yet, in either Odoo
    for odoo in ("erp_eu", "erp_us"):
        assert run_monitors(two.hub, odoo=odoo).skipped is None


def test_schedules_poll_each_portal_by_name(two: World) -> None:
    text = """
systems:
  erp_eu: {kind: odoo, url: "http://127.0.0.1:1", database: a, username: u}
  erp_us: {kind: odoo, url: "http://127.0.0.1:2", database: b, username: u}
  hubspot_eu: {kind: hubspot, url: "http://127.0.0.1:3", odoo: erp_eu}
  hubspot_us: {kind: hubspot, url: "http://127.0.0.1:4", odoo: erp_us}
flows:
  deals_eu: {trigger: {poll: {system: hubspot_eu, interval_seconds: 30}}}
  deals_us: {trigger: {poll: {system: hubspot_us, interval_seconds: 60}}}
"""
    schedules = {s.name: s for s in hub_schedules(parse_settings(text))}
    assert schedules["poll.deals_eu"].args == {"system": "hubspot_eu"}
    assert schedules["poll.deals_us"].args == {"system": "hubspot_us"}


@pytest.fixture
def erp(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    yield from _world(
        store_url,
        monkeypatch,
        odoos={"erp": "concurrency: 4"},
        portals={"hubspot": ""},  # one portal named like its kind: its URL stays /webhooks/hubspot
    )


def test_a_single_odoo_called_erp_works_end_to_end(erp: World) -> None:
    portal = erp.portals["hubspot"]
    deal = portal.won_deal("Delivered to erp")
    portal.box.configure(webhook_url=f"{erp.url}/webhooks/hubspot")  # today's single-portal URL
    assert portal.box.flush_webhooks().get("delivered", 0) > 0
    key = f"hubspot:deal:{deal}"
    wait_for(erp.delivered(key), timeout=60, what="the deal delivered to erp")
    assert erp.hub.exceptions.list() == []
    assert [o["state"] for o in erp.erps["erp"].orders(f"hubspot:{deal}")] == ["sale"]
    assert {b.system for b in erp.hub.bindings.for_canonical("deal", key)} == {"erp"}
    assert {run.queue_name for run in erp.runs(key)} == {"erp"}
    queue = DBOS.retrieve_queue("erp")
    assert queue is not None and queue.global_concurrency == 4
    assert DBOS.retrieve_queue("odoo") is None  # no queue under the kind
    # The polls, monitors and customer decisions find the Odoo by its name too.
    assert poll_invoices(erp.hub) == 0
    assert run_monitors(erp.hub).skipped is None
    portal.settle(deal)
    assert poll_hubspot_deals(erp.hub) >= 1
    assert erp.hub.cursors.get("hubspot", "deals") != {}
