"""What Odoo needs before it can invoice an order, checked before the invoice run tries.

A company created without a chart of accounts has no sale journal: Odoo refuses every invoice
for it ("No journal could be found in company … for any of those types: sale", recorded on a real
Odoo 18 in hub_calls_refused_by_real_odoo.json). An invoice line also needs an income account
(the product's, its category's, or the sale journal's default account) and the order's taxes must
belong to the order's company. Each gap becomes a problem of severity ``exception`` on the
proposal (flow ``billing_run``): a person sees it in ``handoff exceptions list`` with what to set
up in Odoo, instead of a bare ``failed`` proposal.
"""

from __future__ import annotations

from typing import Any

from handoff.connectors.odoo.adapter import OdooAdapter

from .deliverables import m2o
from .proposals import BillingProblem

NO_SALE_JOURNAL = "no_sale_journal"
NO_INCOME_ACCOUNT = "no_income_account"
TAX_OF_ANOTHER_COMPANY = "tax_of_another_company"
SETUP_RULES = (NO_SALE_JOURNAL, NO_INCOME_ACCOUNT, TAX_OF_ANOTHER_COMPANY)


class InvoiceSetupError(Exception):
    """Odoo cannot invoice the order yet: what is missing, per problem."""

    def __init__(self, problems: list[BillingProblem]) -> None:
        super().__init__("; ".join(problem.message for problem in problems))
        self.problems = problems


def _has_field(odoo: OdooAdapter, model: str, name: str) -> bool:
    fields = odoo.call(model, "fields_get", [[name]], {"attributes": ["type"]})
    return name in (fields or {})


def invoicing_gaps(odoo: OdooAdapter, order_id: int) -> list[BillingProblem]:
    """What keeps Odoo from invoicing the order (empty: nothing found)."""
    [order] = odoo.read("sale.order", [order_id], ["name", "company_id", "order_line"])
    company_id, company = m2o(order["company_id"])
    if company_id is None:
        return []
    name = order["name"]
    journals = odoo.search_read(
        "account.journal",
        [["type", "=", "sale"], ["company_id", "=", company_id]],
        ["default_account_id"],
        limit=1,
    )
    if not journals:
        return [
            BillingProblem(
                rule=NO_SALE_JOURNAL,
                severity="exception",
                message=f"{company} has no sale journal (no chart of accounts): Odoo cannot "
                f"invoice {name}",
                value=company,
                suggested_fix=f"In Odoo, load a chart of accounts for {company} (Invoicing > "
                "Configuration > Settings > Fiscal Localization), which creates its Customer "
                "Invoices journal and income accounts; then run the invoice run again.",
            )
        ]
    lines = odoo.read("sale.order.line", list(order["order_line"]), ["product_id", "tax_id"])
    problems: list[BillingProblem] = []
    if not m2o(journals[0].get("default_account_id"))[0]:
        problems += _income_accounts(odoo, lines, company_id, company or "", name)
    taxes = sorted({tax for line in lines for tax in line.get("tax_id") or []})
    if taxes:
        foreign = [
            row
            for row in odoo.read("account.tax", taxes, ["name", "company_id"])
            if m2o(row["company_id"])[0] not in (None, company_id)
        ]
        if foreign:
            names = ", ".join(f"{row['name']} ({m2o(row['company_id'])[1]})" for row in foreign)
            problems.append(
                BillingProblem(
                    rule=TAX_OF_ANOTHER_COMPANY,
                    severity="exception",
                    message=f"{name} is in {company} but its lines carry taxes of another "
                    f"company: {names}",
                    value=names,
                    suggested_fix=f"In Odoo, replace those taxes on {name} with {company}'s own "
                    "(or create them for it); then run the invoice run again.",
                )
            )
    return problems


def _income_accounts(
    odoo: OdooAdapter, lines: list[dict[str, Any]], company_id: int, company: str, order: str
) -> list[BillingProblem]:
    """Without a default account on the sale journal, every product needs an income account of
    its own or of its category (company-dependent fields, read as the order's company)."""
    if not (
        _has_field(odoo, "product.product", "property_account_income_id")
        and _has_field(odoo, "product.category", "property_account_income_categ_id")
    ):
        return []  # the server cannot say (no accounting fields): let Odoo decide
    products = sorted({pid for line in lines if (pid := m2o(line["product_id"])[0])})
    if not products:
        return []
    context = {"allowed_company_ids": [company_id], "company_id": company_id}
    rows = odoo.call(
        "product.product",
        "read",
        [products, ["display_name", "property_account_income_id", "categ_id"]],
        {"context": context},
    )
    categories = sorted({cid for row in rows if (cid := m2o(row["categ_id"])[0])})
    with_account = {
        row["id"]
        for row in odoo.call(
            "product.category",
            "read",
            [categories, ["property_account_income_categ_id"]],
            {"context": context},
        )
        if row["property_account_income_categ_id"]
    }
    missing = [
        row["display_name"]
        for row in rows
        if not row["property_account_income_id"] and m2o(row["categ_id"])[0] not in with_account
    ]
    if not missing:
        return []
    return [
        BillingProblem(
            rule=NO_INCOME_ACCOUNT,
            severity="exception",
            message=f"no income account for {', '.join(missing)} in {company}: Odoo cannot "
            f"invoice {order}",
            value=", ".join(missing),
            suggested_fix=f"In Odoo, set an income account on those products or their category "
            f"for {company} (or a default account on its sale journal); then run the invoice "
            "run again.",
        )
    ]
