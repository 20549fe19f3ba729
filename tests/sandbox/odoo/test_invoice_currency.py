"""The invoice wizard keeps the order's currency and company (issue 10, defect 13): sale's
``_prepare_invoice`` gives the invoice the order's ``currency_id`` and ``company_id``; the
sandbox's invoice builder left both to the defaults, so a EUR order of the German company was
invoiced in USD under the main company. Runs against a real Odoo 18 too (HANDOFF_TEST_ODOO_*)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract.odoo.conftest import live_or_sandbox_adapter
from handoff.connectors.odoo import OdooAdapter
from handoff.connectors.odoo.quote_to_cash import InvoiceRequest, QuoteToCashAdapter
from handoff_sandbox import demo_firm, odoo_firm


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooAdapter]:
    with live_or_sandbox_adapter() as adapter:
        yield adapter


def test_an_eur_order_of_the_german_company_is_invoiced_in_eur_by_that_company(
    odoo: OdooAdapter,
) -> None:
    seed = odoo_firm.seed_odoo(odoo)
    company = seed.companies[demo_firm.GMBH.name]
    [eur] = odoo.search_read("res.currency", [["name", "=", "EUR"]], ["id"])
    product = {
        "id": odoo.create(
            "product.product",
            {
                "name": "Workshop day (fixed)",
                "type": "service",
                "invoice_policy": "order",
                "list_price": 100.0,
            },
        )
    }
    partner = odoo.create("res.partner", {"name": "Invoice currency probe", "is_company": True})
    order = odoo.create("sale.order", {
        "partner_id": partner, "company_id": company,
        "order_line": [[0, 0, {"product_id": product["id"], "product_uom_qty": 2,
                               "price_unit": 100.0, "tax_id": [[6, 0, []]]}]],
    })  # fmt: skip
    [placed] = odoo.read("sale.order", [order], ["currency_id", "company_id"])
    assert (placed["currency_id"][0], placed["company_id"][0]) == (eur["id"], company)
    odoo.call("sale.order", "action_confirm", [[order]])
    [invoice_id] = QuoteToCashAdapter(odoo).invoice_orders([order], InvoiceRequest())
    [invoice] = odoo.read(
        "account.move", [invoice_id], ["currency_id", "company_id", "journal_id", "amount_untaxed"]
    )
    assert invoice["currency_id"][0] == eur["id"]
    assert invoice["company_id"][0] == company
    [journal] = odoo.read("account.journal", [invoice["journal_id"][0]], ["company_id"])
    assert journal["company_id"][0] == company
    assert invoice["amount_untaxed"] == 200.0
