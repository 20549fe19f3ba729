"""Billing status written back to Salesforce, over real HTTP(S): an Opportunity won in the
Salesforce sandbox is delivered to the Odoo sandbox by deal_to_delivery, invoiced by the invoice
run, partly paid in Odoo; one status poll later its figures (and its Account's) are read back
through the Salesforce REST API."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
from handoff.connectors.registry import connectors_for
from handoff.connectors.salesforce.client import SalesforceClient
from handoff.engine import flows, launcher
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.flows.invoicing import poll_invoices
from handoff.flows.routing import route
from handoff.invoicing.service import run_billing
from handoff.store.inbox import IncomingEvent
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox
from invoicing.world import PERIOD, RULES, SYSTEMS
from support.delivery import PRODUCTS
from support.waiting import wait_for

CONFIG = (
    SYSTEMS.rstrip("\n")
    + """
  salesforce: {{kind: salesforce, url: "{salesforce}", username: "{username}",
                tls_ca_file: "{ca}",
                credentials: {{consumer_key: "${{TEST_SF_KEY}}", consumer_secret: "${{TEST_SF_SECRET}}",
                               password: "${{TEST_SF_PASSWORD}}", security_token: "${{TEST_SF_TOKEN}}"}}}}"""
    + RULES
)
STATUS_FIELDS = [
    "Handoff_Invoiced_To_Date__c",
    "Handoff_Paid_To_Date__c",
    "Handoff_Outstanding__c",
    "Handoff_Sync_Status__c",
    "Handoff_Last_Sync__c",
]


@dataclass
class SalesforceWorld:
    hub: Hub
    salesforce: SalesforceClient
    odoo: OdooAdapter
    employee_id: int


@pytest.fixture
def sf_world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[SalesforceWorld]:
    with running_odoo_sandbox() as odoo_box, running_salesforce_sandbox() as sf_box:
        for name, value in {
            "TEST_ODOO_PASSWORD": odoo_box.password,
            "TEST_SF_KEY": sf_box.consumer_key,
            "TEST_SF_SECRET": sf_box.consumer_secret,
            "TEST_SF_PASSWORD": sf_box.password,
            "TEST_SF_TOKEN": sf_box.security_token,
        }.items():
            monkeypatch.setenv(name, value)
        odoo = OdooAdapter(OdooClient(odoo_box.url, odoo_box.db, odoo_box.login, odoo_box.password))
        odoo.create(
            "product.product",
            {
                "name": "Service SVC-TM",
                "default_code": PRODUCTS[BillingModel.TIME_AND_MATERIALS],
                "list_price": 100.0,
                **required_product_setup(BillingModel.TIME_AND_MATERIALS),
            },
        )
        employee_id = odoo.create("hr.employee", {"name": "Ada Consultant"})
        sf_box.store.ensure_standard_pricebook()
        settings = parse_settings(
            CONFIG.format(
                store=store_url,
                odoo=odoo_box.url,
                salesforce=sf_box.url,
                username=sf_box.username,
                ca=sf_box.ca_path,
            )
        )
        hub = start_hub(settings)
        launcher.launch(hub, executor_id="salesforce-status-test")
        try:
            yield SalesforceWorld(
                hub, connectors_for(settings).salesforce().client, odoo, employee_id
            )
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)


def _won_opportunity(sf: SalesforceClient) -> tuple[str, str]:
    """An Account and a won time & materials Opportunity (40 h at 150), created over REST."""
    [book] = sf.query("SELECT Id FROM Pricebook2 WHERE IsStandard = true")
    product = sf.create("Product2", {"Name": "Consulting hour", "ProductCode": "CONSULTING-HOUR"})
    entry = sf.create(
        "PricebookEntry",
        {"Pricebook2Id": book["Id"], "Product2Id": product, "UnitPrice": 150, "IsActive": True},
    )
    account = sf.create("Account", {"Name": "Globex Consulting Buyers"})
    opportunity = sf.create(
        "Opportunity",
        {
            "Name": "Globex discovery",
            "AccountId": account,
            "StageName": "Closed Won",
            "CloseDate": date.today().isoformat(),
            "Handoff_Contract_Type__c": "Time and Materials",
            "Handoff_Legal_Entity__c": "Northwind US",
            "Handoff_Payment_Terms__c": "Net 30",
            "Handoff_Tax_Profile__c": "standard",
            "Handoff_Project_Template__c": "standard",
        },
    )
    sf.create(
        "OpportunityLineItem",
        {"OpportunityId": opportunity, "PricebookEntryId": entry, "Quantity": 40, "UnitPrice": 150},
    )
    return account, opportunity


def _settled(hub: Hub, flow: str, count: int) -> Any:
    def check() -> bool:
        rows = [e for e in hub.inbox.list(limit=1000) if e.flow == flow]
        return sum(e.status in ("done", "failed") for e in rows) >= count

    return check


def test_a_salesforce_opportunity_gets_its_invoiced_paid_and_outstanding_figures(
    sf_world: SalesforceWorld,
) -> None:
    hub, sf, odoo = sf_world.hub, sf_world.salesforce, sf_world.odoo
    account, opportunity = _won_opportunity(sf)
    event = IncomingEvent(
        source_event_id=f"{opportunity}-won",
        entity_key=f"salesforce:Opportunity:{opportunity}",
        kind="Opportunity.UPDATE",
        payload={"Id": opportunity},
    )
    flows.submit(hub, "salesforce", route("salesforce", [event]))
    wait_for(_settled(hub, "deal_to_delivery", 1), timeout=60, what="delivery")
    assert [e.message for e in hub.exceptions.list()] == []
    [order] = odoo.search_read(
        "sale.order", [["client_order_ref", "=", f"salesforce:{opportunity}"]], ["project_ids"]
    )
    odoo.create(
        "account.analytic.line",
        {
            "project_id": order["project_ids"][0],
            "employee_id": sf_world.employee_id,
            "name": "discovery workshop",
            "unit_amount": 4.0,
            "date": PERIOD.start.isoformat(),
        },
    )
    [[invoice_id]] = run_billing(hub, PERIOD).invoiced.values()
    QuoteToCashAdapter(odoo).register_payment([invoice_id], amount=200.0)
    [invoice] = odoo.read("account.move", [invoice_id], ["name", "amount_total"])
    assert invoice["amount_total"] == 600.0  # 4 h x 150, untaxed order lines: no tax, as real Odoo

    assert poll_invoices(hub) == 1
    wait_for(_settled(hub, "invoice_status", 1), timeout=30, what="status flow")
    assert [e.message for e in hub.exceptions.list()] == []
    deal = sf.get("Opportunity", opportunity, [*STATUS_FIELDS, "Handoff_Last_Invoice__c"])
    assert (
        deal["Handoff_Invoiced_To_Date__c"],
        deal["Handoff_Paid_To_Date__c"],
        deal["Handoff_Outstanding__c"],
    ) == (600.0, 200.0, 400.0)
    assert deal["Handoff_Last_Invoice__c"] == invoice["name"]
    assert deal["Handoff_Sync_Status__c"] == "Partially Paid" and deal["Handoff_Last_Sync__c"]
    customer = sf.get("Account", account, STATUS_FIELDS)
    assert (
        customer["Handoff_Invoiced_To_Date__c"],
        customer["Handoff_Paid_To_Date__c"],
        customer["Handoff_Outstanding__c"],
        customer["Handoff_Sync_Status__c"],
    ) == (600.0, 200.0, 400.0, "Partially Paid")
