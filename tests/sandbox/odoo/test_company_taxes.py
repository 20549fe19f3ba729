"""A line's default taxes are its document's company's (account.tax `_filter_taxes_by_company`,
used by sale's `_compute_tax_id` and account's `_get_computed_taxes`): a product shared by every
company carries a tax per company, and an order or invoice of the German company takes only the
German one. The sandbox gave every company's taxes, so an overage line added to a GmbH order
carried My Company's 15 %. Runs against a real Odoo 18 too (HANDOFF_TEST_ODOO_*)."""

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


def _sale_tax(odoo: OdooAdapter, company: int) -> int:
    found = odoo.search_read("account.tax", [["company_id", "=", company],
                                             ["type_tax_use", "=", "sale"]], ["id"])  # fmt: skip
    assert found, f"company {company} has no sale tax"
    return int(found[0]["id"])


def test_order_and_invoice_lines_take_their_companys_taxes_of_a_shared_product(
    odoo: OdooAdapter,
) -> None:
    seed = odoo_firm.seed_odoo(odoo)
    gmbh = seed.companies[demo_firm.GMBH.name]
    main = min(seed.companies.values())
    ours, theirs = _sale_tax(odoo, gmbh), _sale_tax(odoo, main)
    product = odoo.create("product.product", {
        "name": "Overage hour (shared)", "type": "service", "invoice_policy": "order",
        "list_price": 100.0, "taxes_id": [[6, 0, [theirs, ours]]]})  # fmt: skip
    partner = odoo.create("res.partner", {"name": "Company taxes probe", "is_company": True})
    order = odoo.create("sale.order", {
        "partner_id": partner, "company_id": gmbh,
        "order_line": [[0, 0, {"product_id": product, "product_uom_qty": 1}]],
    })  # fmt: skip
    [line] = odoo.search_read("sale.order.line", [["order_id", "=", order]], ["tax_id"])
    assert line["tax_id"] == [ours]

    invoice = odoo.create("account.move", {
        "move_type": "out_invoice", "partner_id": partner, "company_id": gmbh,
        "invoice_line_ids": [[0, 0, {"product_id": product, "quantity": 1}]],
    })  # fmt: skip
    [move_line] = odoo.search_read(
        "account.move.line", [["move_id", "=", invoice], ["display_type", "=", "product"]],
        ["tax_ids"])  # fmt: skip
    assert move_line["tax_ids"] == [ours]
