"""The demo firm written into an Odoo (the sandbox, or a staging server) through the hub's Odoo
adapter: the demo driver is a client of the hub here, so it uses the hub's adapter, external-id
scheme and product setup rather than a copy of them. The emulators never import this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.connectors.odoo.adapter import EXTERNAL_ID_MODULE, OdooAdapter, external_id_name
from handoff_sandbox.demo_firm import (
    CLIENTS,
    CONSULTANTS,
    EXPENSE_CATEGORIES,
    GLOBEX_IN_ODOO,
    LEGAL_ENTITIES,
    PAYMENT_TERMS,
    SERVICES,
    TAXES,
    Fact,
    LegalEntity,
    PaymentTerm,
    Service,
)


def product_setup(service: Service) -> dict[str, str]:
    """What the hub needs of the service product of this contract type (invoice policy, tracking)."""
    return required_product_setup(BillingModel(service.billing_model.value))


SEED_SYSTEM = "demo_firm"  # the external-id namespace of what seed_odoo creates


class OdooSeed(Fact):
    """What seed_odoo left in Odoo, by the names the configuration uses."""

    companies: dict[str, int]
    products: dict[str, int]  # product.template id by default_code
    employees: dict[str, int]  # by e-mail
    globex_partner_id: int


def seed_odoo(adapter: OdooAdapter) -> OdooSeed:
    """Create the firm in Odoo through the adapter, in batches; run it twice, nothing doubles.

    Every record is created with an external id (``upsert_many``), so a second run finds and
    updates instead of creating. Currencies are activated (EUR) or created (GBP) by ISO code.
    """
    currencies = _ensure_currencies(adapter, {e.currency for e in LEGAL_ENTITIES})
    # A real Odoo ships every country; the sandbox's initial data has only the United States.
    countries = _ensure_countries(adapter, _country_names())
    partners = adapter.upsert_many("res.partner", SEED_SYSTEM, [
        (f"company-partner-{e.country_code}", {
            "name": e.name, "is_company": True, "city": e.city,
            "country_id": countries[e.country_code]})
        for e in LEGAL_ENTITIES
    ])  # fmt: skip
    company_ids = _ensure_companies(adapter, {
        e.name: {"name": e.name, "partner_id": partner.id, "currency_id": currencies[e.currency],
                 "country_id": countries[e.country_code]}
        for e, partner in zip(LEGAL_ENTITIES, partners, strict=True)
    })  # fmt: skip
    _load_charts_of_accounts(adapter, list(company_ids.values()))
    adapter.upsert_many("account.payment.term", SEED_SYSTEM, [
        # Shared by every company (no company_id), as Odoo ships its own terms.
        (f"term-{term.days}", {"name": term.odoo, "sequence": term.days, "company_id": False})
        for term in _missing_terms(adapter)
    ])  # fmt: skip
    tax_groups = {
        name: _tax_group(adapter, company_id, countries[_entity(name).country_code])
        for name, company_id in company_ids.items()
    }
    adapter.upsert_many("account.tax", SEED_SYSTEM, [
        (f"tax-{_slug(tax.name)}-{_slug(company)}", {
            "name": tax.name, "amount": tax.amount, "amount_type": "percent",
            "type_tax_use": "sale", "company_id": company_ids[company],
            "country_id": countries[_entity(company).country_code],
            "tax_group_id": tax_groups[company], "sequence": 10})
        for tax in TAXES for company in tax.companies
    ])  # fmt: skip
    uoms = _uoms(adapter)
    products = adapter.upsert_many("product.template", SEED_SYSTEM, [
        (f"product-{s.odoo_code}", {
            "name": s.odoo_name, "default_code": s.odoo_code, "list_price": s.price,
            "sale_ok": True, "company_id": False, "uom_id": uoms[s.uom], "uom_po_id": uoms[s.uom],
            **product_setup(s)})
        for s in SERVICES
    ])  # fmt: skip
    adapter.upsert_many("product.template", SEED_SYSTEM, [
        (f"expense-{c.code}", {
            "name": c.name, "default_code": c.code, "type": "service", "list_price": 0.0,
            "sale_ok": True, "can_be_expensed": True, "expense_policy": c.policy,
            "company_id": False})
        for c in EXPENSE_CATEGORIES
    ])  # fmt: skip
    employees = adapter.upsert_many("hr.employee", SEED_SYSTEM, [
        (f"employee-{_slug(person.email)}", {
            "name": person.name, "work_email": person.email,
            "job_title": person.role.replace("_", " ").capitalize(),
            "company_id": company_ids[person.entity], "hourly_cost": person.hourly_cost})
        for person in CONSULTANTS
    ])  # fmt: skip
    [globex] = adapter.upsert_many("res.partner", SEED_SYSTEM, [
        ("client-globex", {
            "name": GLOBEX_IN_ODOO.name, "is_company": True, "website": GLOBEX_IN_ODOO.website,
            "email": GLOBEX_IN_ODOO.email, "city": GLOBEX_IN_ODOO.city,
            "country_id": countries[GLOBEX_IN_ODOO.country_code]})
    ])  # fmt: skip
    return OdooSeed(
        companies=company_ids,
        products={s.odoo_code: p.id for s, p in zip(SERVICES, products, strict=True)},
        employees={c.email: e.id for c, e in zip(CONSULTANTS, employees, strict=True)},
        globex_partner_id=globex.id,
    )


def foreign_data(adapter: OdooAdapter) -> list[str]:
    """What an Odoo database holds that neither the demo's seed nor the hub made (empty: safe).

    The demo's records are the seed's companies and the orders, invoices and projects of CRM
    deals (client reference ``hubspot:…`` / ``salesforce:…``); anything else is someone's data.
    """
    ours = [entity.name for entity in LEGAL_ENTITIES]
    checks = {
        "companies": ("res.company", [["id", "!=", MAIN_COMPANY_ID], ["name", "not in", ours]]),
        "sale orders": ("sale.order", ["!", *_CRM_ORDERS]),
        "customer invoices": ("account.move", [
            ["move_type", "in", ["out_invoice", "out_refund"]],
            ["invoice_origin", "not in", _demo_order_names(adapter)]]),
        "projects": ("project.project", [["sale_order_id", "=", False], ["name", "!=", "Internal"]]),
    }  # fmt: skip
    found = []
    for what, (model, domain) in checks.items():
        count = adapter.call(model, "search_count", [domain])
        if count:
            found.append(f"{count} {what}")
    return found


MAIN_COMPANY_ID = 1  # the company every Odoo database is created with
# Orders the hub made for a CRM deal (client reference "<crm>:<deal id>").
_CRM_ORDERS = ["|", ["client_order_ref", "=like", "hubspot:%"],
               ["client_order_ref", "=like", "salesforce:%"]]  # fmt: skip


def _demo_order_names(adapter: OdooAdapter) -> list[str]:
    return [row["name"] for row in adapter.search_read("sale.order", _CRM_ORDERS, ["name"])]


def _entity(name: str) -> LegalEntity:
    return next(entity for entity in LEGAL_ENTITIES if entity.name == name)


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in text.lower()).strip("_")


_CURRENCY_SYMBOLS = {"USD": ("$", "United States dollar"), "EUR": ("€", "Euro"),
                     "GBP": ("£", "Pound sterling")}  # fmt: skip


def _country_names() -> dict[str, str]:
    """ISO code -> name of every country the firm and its clients are in."""
    names = {client.country_code: client.country for client in CLIENTS}
    names.update({"US": "United States", "GB": "United Kingdom", "DE": "Germany"})
    return names


def _ensure_currencies(adapter: OdooAdapter, codes: Iterable[str]) -> dict[str, int]:
    wanted = sorted(codes)
    rows = adapter.search_read(
        "res.currency", [["name", "in", wanted], ["active", "in", [True, False]]],
        ["name", "active"],
    )  # fmt: skip
    found = {row["name"]: row for row in rows}
    inactive = [row["id"] for row in rows if not row["active"]]
    if inactive:
        adapter.write("res.currency", inactive, {"active": True})
    missing = [code for code in wanted if code not in found]
    created = adapter.create_many("res.currency", [
        {"name": code, "symbol": _CURRENCY_SYMBOLS[code][0],
         "full_name": _CURRENCY_SYMBOLS[code][1], "active": True}
        for code in missing
    ]) if missing else []  # fmt: skip
    return {
        **{code: row["id"] for code, row in found.items()},
        **dict(zip(missing, created, strict=True)),
    }


def _ensure_countries(adapter: OdooAdapter, names: Mapping[str, str]) -> dict[str, int]:
    wanted = sorted(names)
    found = {
        row["code"]: row["id"]
        for row in adapter.search_read("res.country", [["code", "in", wanted]], ["code"])
    }
    missing = [code for code in wanted if code not in found]
    created = adapter.create_many(
        "res.country", [{"name": names[code], "code": code} for code in missing]
    ) if missing else []  # fmt: skip
    return {**found, **dict(zip(missing, created, strict=True))}


def _missing_terms(adapter: OdooAdapter) -> list[PaymentTerm]:
    """Odoo ships 15/30/45 Days; the firm adds what it bills that Odoo does not have."""
    names = [term.odoo for term in PAYMENT_TERMS]
    have = {
        row["name"]
        for row in adapter.search_read("account.payment.term", [["name", "in", names]], ["name"])
    }
    seeded = adapter.find_external_ids(
        SEED_SYSTEM, "account.payment.term", [f"term-{t.days}" for t in PAYMENT_TERMS]
    )
    return [t for t in PAYMENT_TERMS if t.odoo not in have or f"term-{t.days}" in seeded]


def _ensure_companies(adapter: OdooAdapter, wanted: Mapping[str, dict[str, Any]]) -> dict[str, int]:
    """The legal entities by name, created with ``create`` and bound to their external ids after.

    Not ``load``: creating a company whose country's localisation is not installed yet installs it
    inside the request, which commits and drops ``load``'s savepoint (real Odoo 18,
    hub_calls_refused_by_real_odoo.json #1). A company of the same name is adopted (Odoo refuses
    two), so a crash between the create and the binding never makes a second one.
    """
    keys = {name: f"company-{_entity(name).country_code}" for name in wanted}
    bound = adapter.find_external_ids(SEED_SYSTEM, "res.company", list(keys.values()))
    named = {
        row["name"]: row["id"]
        for row in adapter.search_read("res.company", [["name", "in", list(wanted)]], ["name"])
    }
    ids: dict[str, int] = {}
    for name, values in wanted.items():
        key = keys[name]
        if key in bound:
            ids[name] = bound[key]
            continue
        # Created one at a time: each may install a localisation (and commit) by itself.
        ids[name] = named.get(name) or adapter.create("res.company", values)
        adapter.create("ir.model.data", {
            "module": EXTERNAL_ID_MODULE, "name": external_id_name(SEED_SYSTEM, "res.company", key),
            "model": "res.company", "res_id": ids[name], "noupdate": True,
        })  # fmt: skip
    return ids


def _load_charts_of_accounts(adapter: OdooAdapter, company_ids: list[int]) -> None:
    """A company created over RPC gets a chart of accounts (hence journals) only when its country's
    localisation is installed with it; otherwise (a US company: ``generic_coa``) it has no sale
    journal and every invoice fails. Odoo picks the chart for the country (template ``False``).
    """
    bare = adapter.search_read(
        "res.company", [["id", "in", company_ids], ["chart_template", "=", False]], ["id"]
    )
    for row in bare:
        adapter.call("account.chart.template", "try_loading", [[], False, row["id"]])


def _tax_group(adapter: OdooAdapter, company_id: int, country_id: int) -> int:
    """A tax group of the company's own country: Odoo refuses a tax whose group is of another
    country (tax_group_country_mismatch.json); loading a chart makes the groups."""
    domain = [["company_id", "=", company_id], ["country_id", "=", country_id]]
    rows = adapter.search_read("account.tax.group", domain, ["id"], limit=1, order="id")
    if rows:
        return int(rows[0]["id"])
    return adapter.create(
        "account.tax.group",
        {"name": "Sales taxes", "company_id": company_id, "country_id": country_id},
    )


def _uoms(adapter: OdooAdapter) -> dict[str, int]:
    names: list[str] = ["Hours", "Days", "Units"]
    rows = adapter.search_read("uom.uom", [["name", "in", names]], ["name"])
    found: Mapping[str, int] = {row["name"]: row["id"] for row in rows}
    missing = [name for name in names if name not in found]
    if missing:
        raise LookupError(f"Odoo has no unit of measure {', '.join(missing)}")
    return dict(found)
