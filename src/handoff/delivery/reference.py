"""What exists in Odoo that a won deal refers to, read once in a few batched calls.

Validation and planning are pure functions of a deal, the configuration and this snapshot, so they
can be tested without a server and re-run cheaply; only ``load_reference`` talks to Odoo. Records
are kept by the names the configuration uses (company name, payment term name, tax name, product
``default_code``), with the ids the plan needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from handoff.config import DeliveryConfig
from handoff.connectors.odoo.adapter import OdooAdapter


class OdooRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    name: str


class OdooCompany(OdooRecord):
    currency: str | None = None  # the company currency's ISO code


class OdooPaymentTerm(OdooRecord):
    company_id: int | None = None  # None: shared by every company


class OdooTax(OdooRecord):
    company_id: int
    amount: Decimal | None = None  # the tax rate in percent, as Odoo stores it


class OdooProduct(BaseModel):
    """A sellable product: the variant id an order line needs and the template's policy fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int  # product.product
    template_id: int  # product.template
    name: str
    default_code: str
    type: str
    invoice_policy: str | None = None
    service_type: str | None = None
    service_tracking: str | None = None
    service_policy: str | None = None
    company_id: int | None = None  # None: every company
    uom: str | None = None
    sale_ok: bool = True


class OdooProject(OdooRecord):
    company_id: int | None = None


class OdooReference(BaseModel):
    """A snapshot of the Odoo records a deal's delivery refers to."""

    model_config = ConfigDict(extra="forbid")

    companies: dict[str, OdooCompany] = {}
    payment_terms: dict[str, list[OdooPaymentTerm]] = {}
    taxes: dict[str, list[OdooTax]] = {}  # sales taxes only
    products: dict[str, OdooProduct] = {}  # by default_code
    currencies: dict[str, int] = {}  # active ISO code -> res.currency id
    projects: dict[str, OdooProject] = {}  # projects usable as templates, by name

    def company(self, name: str) -> OdooCompany | None:
        return self.companies.get(name)

    def payment_term(self, name: str, company_id: int | None) -> OdooPaymentTerm | None:
        """The term of that name for the company; a shared term (no company) otherwise."""
        candidates = self.payment_terms.get(name, [])
        if company_id is None:  # company unknown (a problem of its own): any term of the name
            return candidates[0] if candidates else None
        own = [term for term in candidates if term.company_id == company_id]
        shared = [term for term in candidates if term.company_id is None]
        matches = own or shared
        return matches[0] if matches else None

    def tax(self, name: str, company_id: int | None) -> OdooTax | None:
        for tax in self.taxes.get(name, []):
            if company_id is None or tax.company_id == company_id:
                return tax
        return None

    def product(self, default_code: str) -> OdooProduct | None:
        return self.products.get(default_code)

    def project(self, name: str) -> OdooProject | None:
        return self.projects.get(name)


def _m2o(value: Any) -> tuple[int, str] | None:
    return (value[0], value[1]) if isinstance(value, list) and len(value) == 2 else None


def _m2o_id(value: Any) -> int | None:
    pair = _m2o(value)
    return pair[0] if pair else None


def _names(values: Iterable[str]) -> list[str]:
    return sorted(set(values))


PRODUCT_FIELDS = [
    "name", "default_code", "type", "invoice_policy", "service_type", "service_tracking",
    "service_policy", "company_id", "uom_id", "product_variant_id", "sale_ok",
]  # fmt: skip


def load_reference(adapter: OdooAdapter, config: DeliveryConfig) -> OdooReference:
    """Read what ``config`` refers to from Odoo: one ``search_read`` per model (at most six).

    Only names the configuration mentions are asked for, so the snapshot stays small whatever the
    size of the Odoo database. Inactive records are left out (Odoo's default ``active_test``).
    """
    companies = adapter.search_read("res.company", [], ["name", "currency_id"], order="id asc")
    currencies = adapter.search_read(
        "res.currency", [["active", "=", True]], ["name"], order="id asc"
    )
    term_names = _names(config.payment_terms.values())
    terms = (
        adapter.search_read(
            "account.payment.term",
            [["name", "in", term_names]],
            ["name", "company_id"],
            order="id asc",
        )
        if term_names
        else []
    )
    tax_names = _names(name for names in config.tax_profiles.values() for name in names)
    taxes = (
        adapter.search_read(
            "account.tax",
            [["name", "in", tax_names], ["type_tax_use", "=", "sale"]],
            ["name", "company_id", "amount"],
            order="id asc",
        )
        if tax_names
        else []
    )
    codes = _names(config.odoo_product_codes())
    # The policy fields live on the template (related, not stored, on the variant).
    templates = (
        adapter.search_read(
            "product.template", [["default_code", "in", codes]], PRODUCT_FIELDS, order="id asc"
        )
        if codes
        else []
    )
    project_names = _names(
        template.odoo_project
        for template in config.project_templates.values()
        if template.odoo_project
    )
    projects = (
        adapter.search_read(
            "project.project",
            [["name", "in", project_names]],
            ["name", "company_id"],
            order="id asc",
        )
        if project_names
        else []
    )

    reference = OdooReference(
        companies={
            row["name"]: OdooCompany(
                id=row["id"], name=row["name"], currency=(_m2o(row["currency_id"]) or (0, None))[1]
            )
            for row in companies
        },
        currencies={row["name"]: row["id"] for row in currencies},
    )
    for row in terms:
        reference.payment_terms.setdefault(row["name"], []).append(
            OdooPaymentTerm(id=row["id"], name=row["name"], company_id=_m2o_id(row["company_id"]))
        )
    for row in taxes:
        reference.taxes.setdefault(row["name"], []).append(
            OdooTax(
                id=row["id"],
                name=row["name"],
                company_id=_m2o_id(row["company_id"]) or 0,
                amount=row.get("amount"),
            )
        )
    for row in templates:
        variant = _m2o_id(row.get("product_variant_id"))
        if variant is None or not row.get("default_code"):
            continue  # a template with several variants has no single product to sell
        reference.products.setdefault(
            row["default_code"],
            OdooProduct(
                id=variant,
                template_id=row["id"],
                name=row["name"],
                default_code=row["default_code"],
                type=row["type"],
                invoice_policy=row.get("invoice_policy") or None,
                service_type=row.get("service_type") or None,
                service_tracking=row.get("service_tracking") or None,
                service_policy=row.get("service_policy") or None,
                company_id=_m2o_id(row.get("company_id")),
                uom=(_m2o(row.get("uom_id")) or (0, None))[1],
                sale_ok=bool(row.get("sale_ok", True)),
            ),
        )
    for row in projects:
        reference.projects.setdefault(
            row["name"],
            OdooProject(id=row["id"], name=row["name"], company_id=_m2o_id(row["company_id"])),
        )
    return reference


__all__ = [
    "OdooCompany",
    "OdooPaymentTerm",
    "OdooProduct",
    "OdooProject",
    "OdooReference",
    "OdooTax",
    "load_reference",
]
