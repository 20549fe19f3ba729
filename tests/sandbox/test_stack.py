"""The demo firm's stack: three sandboxes seeded from one definition and a handoff.yaml that agrees.

Everything goes over real HTTP: the hub's own connectors (built by `connectors_for` from the
written handoff.yaml and the environment the stack sets) read the seeded deals, the hub's own
webhook routers (mounted on the port the stack was told the hub listens on) receive the events a
won deal makes the sandboxes send.

Deals seeded with deliberate defects (``DemoDeal.defect``), each breaking the rules listed:
- HubSpot "Copperleaf — finance transformation": a milestone deal sold as three lines of other
  contract types -> milestone_line_count, product_misconfigured;
- HubSpot "Evergreen — traceability audit": contracted by "Northwind Advisory BV", an entity the
  firm does not have -> legal_entity_unmapped;
- HubSpot "Harbor City — citizen portal": no deal owner -> account_owner_missing;
- Salesforce "Litware Insurance - Retainer 2": billed "Net 90" -> payment_terms_unmapped;
- Salesforce "Proseware Media - Fixed Fee 3": no opportunity owner -> account_owner_missing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from handoff.config import Settings, load_settings, parse_settings
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.registry import Connectors, connectors_for
from handoff.crm.sources import HubSpotSource, SalesforceSource
from handoff.customers import find_partner_candidates, match_customer
from handoff.delivery import load_reference, validate_deal
from handoff.ingress.table import hubspot_webhook_router, salesforce_cdc_router
from handoff.store.inbox import AcceptResult, IncomingEvent
from handoff_sandbox import demo_firm, odoo_firm
from handoff_sandbox.demo_firm import DemoDeal
from handoff_sandbox.stack import Stack, running_stack
from support.servers import serving

EXTRA_DEALS = 4  # generated per CRM, on top of the seed
DEFECTIVE = {
    "Copperleaf — finance transformation": {"milestone_line_count", "product_misconfigured"},
    "Evergreen — traceability audit": {"legal_entity_unmapped"},
    "Harbor City — citizen portal": {"account_owner_missing"},
    "Litware Insurance - Retainer 2": {"payment_terms_unmapped"},
    "Proseware Media - Fixed Fee 3": {"account_owner_missing"},
}


class RecordingInbox:
    """Stands in for the hub's inbox behind its real webhook routers: keeps what arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, IncomingEvent]] = []
        self._ids = count(1)
        self._lock = threading.Lock()

    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        with self._lock:
            self.events += [(source, event) for event in events]
            return [
                AcceptResult(inbox_id=next(self._ids), duplicate=False, correlation_id="test")
                for _ in events
            ]

    def wait_for(self, source: str, entity: str, timeout: float = 15.0) -> list[IncomingEvent]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                found = [e for s, e in self.events if s == source and entity in e.entity_key]
            if found:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {source} event for {entity} within {timeout}s: {self.events}")


class World:
    def __init__(self, stack: Stack, inbox: RecordingInbox) -> None:
        self.stack = stack
        self.inbox = inbox
        self.settings = load_settings(stack.config_path)

    @property
    def connectors(self) -> Connectors:
        return connectors_for(self.settings)

    def fresh(self) -> World:
        """The same world seen by a new hub process: new settings, so new clients whose
        client-side HubSpot limiter (100 calls per 10 s) starts empty."""
        return World(self.stack, self.inbox)


@pytest.fixture(scope="module")
def stack_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    inbox = RecordingInbox()
    holder: dict[str, Settings] = {}

    def secret(name: str) -> Any:
        def provide() -> str | None:
            ref = holder["settings"].system(name).webhook_secret
            return ref.reveal() if ref else None

        return provide

    app = FastAPI()
    app.include_router(hubspot_webhook_router(secret("hubspot"), inbox))
    app.include_router(salesforce_cdc_router(secret("salesforce"), inbox))
    with serving(app) as hub_url:
        port = int(hub_url.rsplit(":", 1)[1])
        # Each test reads through new clients; together they may pass a Pro account's 190
        # calls per 10 s, and waiting out the window is not what this file tests.
        with running_stack(
            tmp_path_factory.mktemp("stack"),
            hub_port=port,
            hubspot_settings={"ten_secondly_max": 1000},
            extra_deals=EXTRA_DEALS,
        ) as stack:
            holder["settings"] = load_settings(stack.config_path)
            yield World(stack, inbox)


@pytest.fixture
def world(stack_world: World) -> World:
    return stack_world.fresh()


def test_the_stack_starts_seeded_and_sets_what_its_config_references(world: World) -> None:
    stack = world.stack
    assert stack.config_path == stack.folder / "handoff.yaml"
    assert {name: os.environ.get(name) for name in stack.env} == stack.env
    assert len(stack.deals) == len(demo_firm.HUBSPOT_DEALS) + 24 + 2 * EXTRA_DEALS
    assert len({stack.crm_id(deal.key) for deal in stack.deals}) == len(stack.deals)
    odoo = world.connectors.odoo().odoo
    companies = odoo.search_read("res.company", [], ["name", "currency_id"])
    assert {row["name"]: row["currency_id"][1] for row in companies}.items() >= {
        "Northwind Advisory Inc.": "USD",
        "Northwind Advisory Ltd": "GBP",
        "Northwind Advisory GmbH": "EUR",
    }.items()
    active = odoo.search_read("res.currency", [["active", "=", True]], ["name"])
    assert {row["name"] for row in active} >= {"USD", "EUR", "GBP"}
    # The hub writes each new customer's country: every client's must exist in Odoo.
    codes = sorted({client.country_code for client in demo_firm.CLIENTS})
    countries = odoo.search_read("res.country", [["code", "in", codes]], ["code"])
    assert sorted(row["code"] for row in countries) == codes


def test_the_written_handoff_yaml_passes_config_check(world: World) -> None:
    handoff = Path(sys.executable).with_name("handoff")
    result = subprocess.run(
        [str(handoff), "config", "check", str(world.stack.config_path)],
        env={**os.environ, **world.stack.env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "valid (6 systems, 2 flows" in result.stdout
    assert "warning" not in result.stderr  # every referenced secret is set


def test_hub_config_needs_no_stack_to_be_valid() -> None:
    urls = demo_firm.SystemUrls(
        odoo="http://odoo.internal:8069",
        hubspot="https://api.hubapi.com",
        salesforce="https://northwind.my.salesforce.com",
    )
    import yaml

    settings = parse_settings(yaml.safe_dump(demo_firm.hub_config(urls)))
    assert settings.systems["hubspot"].webhook_secret is not None
    assert settings.systems["hubspot"].webhook_secret.reference == (
        "${HANDOFF_DEMO_HUBSPOT_CLIENT_SECRET}"
    )
    assert settings.flows["deal_to_delivery"].queue == "odoo"
    delivery = settings.delivery
    assert set(delivery.legal_entities.values()) == {e.name for e in demo_firm.LEGAL_ENTITIES}
    assert delivery.odoo_product_codes() == {s.odoo_code for s in demo_firm.SERVICES}
    assert delivery.is_won("hubspot", "87654321", "110382976", crm_says_won=False)


def problems_of(world: World, deals: list[DemoDeal]) -> dict[str, set[str]]:
    """Deal name -> the validation rules it breaks, for deals read through the hub's sources."""
    reference = load_reference(world.connectors.odoo().odoo, world.settings.delivery)
    sources = {
        "hubspot": HubSpotSource(world.connectors.hubspot()),
        "salesforce": SalesforceSource(world.connectors.salesforce()),
    }
    found: dict[str, set[str]] = {}
    for deal in deals:
        snapshot = sources[deal.crm].fetch_deal(world.stack.crm_id(deal.key))
        assert snapshot.deal.name == deal.name and snapshot.customer is not None
        assert snapshot.customer.name == deal.client
        assert [line.sku for line in snapshot.deal.lines] == [line.sku for line in deal.lines]
        problems = validate_deal(
            snapshot.deal, snapshot.customer, world.settings.delivery, reference
        )
        if problems:
            found[deal.name] = {problem.rule for problem in problems}
    return found


def test_every_seeded_deal_validates_except_the_deliberately_defective_ones(world: World) -> None:
    seeded = [d for d in world.stack.deals if not d.lost and "-bulk-" not in d.key]
    assert len(seeded) >= 30
    assert problems_of(world, seeded) == DEFECTIVE
    assert {d.name: set(d.expected_problems) for d in world.stack.deals if d.defect} == DEFECTIVE


def test_generated_deals_are_open_and_valid_in_both_crms(world: World) -> None:
    generated = [d for d in world.stack.deals if "-bulk-" in d.key]
    assert (
        sorted(d.crm for d in generated) == ["hubspot"] * EXTRA_DEALS + ["salesforce"] * EXTRA_DEALS
    )
    assert all(d in world.stack.winnable_deals() for d in generated)
    assert problems_of(world, generated) == {}


def test_every_contract_type_is_seeded_in_both_crms_and_some_can_still_be_won(world: World) -> None:
    for crm in ("hubspot", "salesforce"):
        valid = [d for d in world.stack.deals if d.crm == crm and not d.defect and not d.lost]
        assert {d.billing_model for d in valid} == set(demo_firm.CONTRACT_TYPE_LABELS)
        assert world.stack.winnable_deals(crm)


def test_the_seeded_globex_is_the_crm_s_globex_corp(world: World) -> None:
    deal = next(d for d in world.stack.deals if d.client == "GLOBEX corp.")
    snapshot = HubSpotSource(world.connectors.hubspot()).fetch_deal(world.stack.crm_id(deal.key))
    assert snapshot.customer is not None and snapshot.customer.name == "GLOBEX corp."
    emails = [c.email for c in snapshot.contacts if c.email]
    odoo = world.connectors.odoo().odoo
    candidates = find_partner_candidates(odoo, snapshot.customer, emails)
    match = match_customer(snapshot.customer, candidates, contact_emails=emails)
    assert world.stack.odoo_seed is not None
    assert (match.outcome, match.partner_id) == ("matched", world.stack.odoo_seed.globex_partner_id)


def test_seeding_odoo_again_creates_nothing(world: World) -> None:
    odoo = world.stack.odoo
    models = ["res.company", "res.partner", "account.tax", "account.payment.term",
              "product.template", "hr.employee", "res.currency"]  # fmt: skip
    with OdooClient(odoo.url, odoo.db, odoo.login, odoo.password) as client:
        adapter = OdooAdapter(client)
        before = {m: adapter.call(m, "search_count", [[]]) for m in models}
        again = odoo_firm.seed_odoo(adapter)
        after = {m: adapter.call(m, "search_count", [[]]) for m in models}
    assert after == before
    assert again == world.stack.odoo_seed


def test_winning_deals_sends_signed_events_to_the_hub(world: World) -> None:
    stack = world.stack
    hubspot_deal = stack.winnable_deals("hubspot")[0]
    salesforce_deal = stack.winnable_deals("salesforce")[0]
    stack.win(hubspot_deal.key)
    stack.win(salesforce_deal.key)
    hubspot_events = world.inbox.wait_for("hubspot", stack.crm_id(hubspot_deal.key))
    salesforce_events = world.inbox.wait_for("salesforce", stack.crm_id(salesforce_deal.key))
    time.sleep(1.0)  # a few delivery rounds (every 0.2 s): anything else would have come
    hubspot_events = world.inbox.wait_for("hubspot", stack.crm_id(hubspot_deal.key))
    # Winning sets the stage and the close date: one event for each property the app
    # subscribes to, none for what HubSpot derives from them.
    assert sorted((e.kind, e.payload.get("propertyName")) for e in hubspot_events) == [
        ("deal.propertyChange", "closedate"),
        ("deal.propertyChange", "dealstage"),
    ]
    assert any(e.kind.startswith("Opportunity.") for e in salesforce_events)
    won = HubSpotSource(world.connectors.hubspot()).fetch_deal(stack.crm_id(hubspot_deal.key))
    assert world.settings.delivery.is_won("hubspot", won.deal.pipeline, won.deal.stage, False)
    opportunity = SalesforceSource(world.connectors.salesforce()).fetch_deal(
        stack.crm_id(salesforce_deal.key)
    )
    assert opportunity.deal.is_won
