"""The delivered world fixture for the delivery-to-cash tests (see world.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.engine import flows
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.sandbox.hubspot.testing import running_hubspot_sandbox
from handoff.sandbox.odoo.testing import running_odoo_sandbox
from invoicing.world import CONFIG, STRIPE_SECRET, World
from support.delivery import DELIVERY_PROPERTIES, PRODUCTS


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_odoo_sandbox() as odoo_box, running_hubspot_sandbox() as hub_box:
        monkeypatch.setenv("TEST_ODOO_PASSWORD", odoo_box.password)
        monkeypatch.setenv("TEST_HUBSPOT_TOKEN", hub_box.token)
        monkeypatch.setenv("TEST_STRIPE_SECRET", STRIPE_SECRET)
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
            ]
            + [
                {
                    "name": "Staged fee",
                    "default_code": "SVC-STAGED",
                    "list_price": 100.0,
                    **required_product_setup(BillingModel.FIXED_FEE, scheduled=True),
                }
            ],
        )
        # Time & materials sold by the Day (Odoo's own unit) and by a custom Working Time unit.
        [days] = [u["id"] for u in odoo.search_read("uom.uom", [["name", "=", "Days"]], ["id"])]
        half_day = odoo.create(
            "uom.uom",
            {"name": "Half-day", "category_id": 3, "uom_type": "smaller", "factor": 2.0},
        )
        odoo.create_many(
            "product.product",
            [
                {
                    "name": f"Consulting by {unit_name}",
                    "default_code": code,
                    "list_price": 1000.0,
                    "uom_id": unit,
                    "uom_po_id": unit,
                    **required_product_setup(BillingModel.TIME_AND_MATERIALS),
                }
                for code, unit, unit_name in (
                    ("SVC-TM-DAY", days, "the day"),
                    ("SVC-TM-HALF-DAY", half_day, "the half-day"),
                )
            ],
        )
        employee_id = odoo.create("hr.employee", {"name": "Ada Consultant"})
        hubspot = HubSpotAdapter(HubSpotClient(hub_box.token, base_url=hub_box.url))
        hubspot.ensure_properties(("deals",), DELIVERY_PROPERTIES)
        [company] = hubspot.create(
            "companies", [{"name": "Acme Analytics", "domain": "acme.example"}]
        )
        assert company.record is not None
        config = CONFIG.format(store=store_url, odoo=odoo_box.url, hubspot=hub_box.url)
        settings = parse_settings(config)
        hub = start_hub(settings)
        hub.launch(executor_id="invoicing-test")
        try:
            yield World(hub, hubspot, odoo, company.record.id, employee_id, config)
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)
