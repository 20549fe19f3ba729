"""The delivered world fixture for the delivery-to-cash tests (see world.py)."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.engine import flows, launcher
from handoff.engine.runtime import set_current_hub, start_hub
from handoff_sandbox.hubspot.testing import running_hubspot_sandbox
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from invoicing.world import CONFIG, STRIPE_SECRET, World
from support.delivery import DELIVERY_PROPERTIES, PRODUCTS


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_odoo_sandbox() as odoo_box:
        target = OdooTarget(odoo_box.url, odoo_box.db, odoo_box.login, odoo_box.password)
        with _world(target, store_url, monkeypatch) as built:
            yield built


@pytest.fixture
def odoo_world(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """The world on a real Odoo when HANDOFF_TEST_ODOO_URL/_DB/_USER/_KEY are set (its products
    and units found or created once per database), else on the sandbox like ``world``."""
    live = live_odoo()
    if live is None:
        with running_odoo_sandbox() as odoo_box:
            target = OdooTarget(odoo_box.url, odoo_box.db, odoo_box.login, odoo_box.password)
            with _world(target, store_url, monkeypatch) as built:
                yield built
        return
    with _world(live, store_url, monkeypatch) as built:
        yield built


@dataclass(frozen=True)
class OdooTarget:
    url: str
    db: str
    login: str
    password: str
    live: bool = False


def live_odoo() -> OdooTarget | None:
    names = (
        "HANDOFF_TEST_ODOO_URL",
        "HANDOFF_TEST_ODOO_DB",
        "HANDOFF_TEST_ODOO_USER",
        "HANDOFF_TEST_ODOO_KEY",
    )
    values = [os.environ.get(name) or "" for name in names]
    if not all(values):
        return None
    url, db, login, key = values
    return OdooTarget(url.rstrip("/"), db, login, key, live=True)


def _find_or_create(
    odoo: OdooAdapter, model: str, key: str, rows: list[dict[str, Any]]
) -> list[int]:
    """Create the rows whose ``key`` value the database does not have yet (a live database keeps
    them from an earlier run); ids in the order of ``rows``."""
    found = {
        row[key]: row["id"]
        for row in odoo.search_read(model, [[key, "in", [r[key] for r in rows]]], [key])
    }
    missing = [r for r in rows if r[key] not in found]
    if missing:
        found.update(zip([r[key] for r in missing], odoo.create_many(model, missing), strict=True))
    return [found[r[key]] for r in rows]


def _fresh_crm_ids(path: Path) -> None:
    """On a live Odoo that keeps earlier runs' orders, deals get ids no earlier run used (the
    order of a deal is found by the deal's id)."""
    start = 20_000_000 + time.time_ns() // 1_000_000 % 10**9 * 100
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "INSERT INTO meta(key, value) VALUES('next_id', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(start),),
        )


@contextmanager
def _world(target: OdooTarget, store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    with running_hubspot_sandbox() as hub_box:
        if target.live:
            _fresh_crm_ids(hub_box.db_path)
        monkeypatch.setenv("TEST_ODOO_PASSWORD", target.password)
        monkeypatch.setenv("TEST_HUBSPOT_TOKEN", hub_box.token)
        monkeypatch.setenv("TEST_STRIPE_SECRET", STRIPE_SECRET)
        odoo = OdooAdapter(OdooClient(target.url, target.db, target.login, target.password))
        _find_or_create(
            odoo,
            "product.product",
            "default_code",
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
        [days, half_day] = _find_or_create(
            odoo,
            "uom.uom",
            "name",
            [
                {"name": "Days", "category_id": 3, "uom_type": "reference", "factor": 1.0},
                {"name": "Half-day", "category_id": 3, "uom_type": "smaller", "factor": 2.0},
            ],
        )
        _find_or_create(
            odoo,
            "product.product",
            "default_code",
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
        config = CONFIG.format(store=store_url, odoo=target.url, hubspot=hub_box.url).replace(
            "database: psa, username: admin,", f"database: {target.db}, username: {target.login},"
        )
        settings = parse_settings(config)
        hub = start_hub(settings)
        launcher.launch(hub, executor_id="invoicing-test")
        try:
            yield World(hub, hubspot, odoo, company.record.id, employee_id, config)
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)
