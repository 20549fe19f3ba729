"""Companies in the Odoo sandbox as real Odoo 18 has them (runs against a real server too when
HANDOFF_TEST_ODOO_* are set): an order's project belongs to the order's company."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract.odoo.conftest import live_or_sandbox_adapter
from handoff.connectors.odoo import OdooAdapter
from handoff_sandbox import demo_firm, odoo_firm


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooAdapter]:
    with live_or_sandbox_adapter() as adapter:
        yield adapter


def test_an_orders_project_belongs_to_the_orders_company(odoo: OdooAdapter) -> None:
    """sale_project creates the project (and its analytic account) in the order's company."""
    seed = odoo_firm.seed_odoo(odoo)
    company = seed.companies["Northwind Advisory Ltd"]
    [product] = odoo.search_read(
        "product.product", [["default_code", "=", demo_firm.SERVICES[0].odoo_code]], ["id"]
    )
    partner = odoo.create("res.partner", {"name": "Company probe client", "is_company": True})
    order = odoo.create("sale.order", {
        "partner_id": partner, "company_id": company,
        "order_line": [[0, 0, {"product_id": product["id"], "product_uom_qty": 5}]],
    })  # fmt: skip
    odoo.call("sale.order", "action_confirm", [[order]])
    [project] = odoo.search_read(
        "project.project", [["sale_order_id", "=", order]], ["company_id", "account_id"]
    )
    assert project["company_id"][0] == company
    [account] = odoo.read("account.analytic.account", [project["account_id"][0]], ["company_id"])
    assert account["company_id"] and account["company_id"][0] == company
