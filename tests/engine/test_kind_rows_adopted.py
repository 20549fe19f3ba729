"""A hub whose one Odoo is named otherwise than ``odoo`` adopts the bindings and cursors stored
under the kind before systems were addressed by name (``handoff.store.names``); a hub that names
it ``odoo`` keeps them as they are."""

from __future__ import annotations

from handoff.config import parse_settings
from handoff.engine import flows
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.store.db import Store
from handoff.store.migrate import upgrade
from handoff.store.repositories import Bindings, Cursors


def _settings(store_url: str, odoo_name: str) -> str:
    return f"""
store: {{url: "{store_url}"}}
systems:
  {odoo_name}: {{kind: odoo, url: "http://127.0.0.1:1", database: db, username: u}}
  crm: {{kind: hubspot, url: "http://127.0.0.1:2"}}
"""


def _seed(store_url: str) -> None:
    store = Store(store_url)
    upgrade(store)
    bindings, cursors = Bindings(store), Cursors(store)
    bindings.bind("odoo", "sale.order", "7", canonical_type="deal", canonical_id="hubspot:deal:1")
    bindings.bind("odoo", "res.partner", "3", canonical_type="customer", canonical_id="c")
    # Already held under the new name (a partial upgrade): never doubled, never overwritten.
    bindings.bind("erp", "res.partner", "3", canonical_type="customer", canonical_id="c-new")
    cursors.advance("odoo", "invoices", {"write_date": "2026-01-01 00:00:00", "id": 1})
    cursors.advance("hubspot", "deals", {"ms": 42})
    store.dispose()


def test_the_one_odoo_called_erp_adopts_what_was_stored_under_odoo(store_url: str) -> None:
    _seed(store_url)
    hub = start_hub(parse_settings(_settings(store_url, "erp")))
    try:
        [order] = [b for b in hub.bindings.for_canonical("deal", "hubspot:deal:1")]
        assert (order.system, order.external_id) == ("erp", "7")
        partner = hub.bindings.find("erp", "res.partner", "3")
        assert partner is not None and partner.canonical_id == "c-new"
        assert hub.bindings.find("odoo", "res.partner", "3") is not None  # left, not doubled
        assert hub.cursors.get("erp", "invoices")["id"] == 1
        assert hub.cursors.get("odoo", "invoices") == {}
        assert hub.cursors.get("crm", "deals") == {"ms": 42}  # the one HubSpot, named crm
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)


def test_an_odoo_named_odoo_keeps_its_rows(store_url: str) -> None:
    _seed(store_url)
    hub = start_hub(parse_settings(_settings(store_url, "odoo")))
    try:
        [order] = [b for b in hub.bindings.for_canonical("deal", "hubspot:deal:1")]
        assert order.system == "odoo"
        assert hub.cursors.get("odoo", "invoices")["id"] == 1
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)
