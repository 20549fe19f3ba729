"""Validation of a won deal before anything is written to Odoo: every rule, every problem at once.

``resolve_deal`` walks the deal once, resolving each configured reference (legal entity -> company,
billing terms -> payment term, tax profile -> taxes, lines -> service products, project template,
currency, rates) against an ``OdooReference`` snapshot, and records a ``Problem`` for each one that
does not resolve. ``validate_deal`` returns those problems; the billing plan is built from the same
resolution, so what is validated is exactly what is written.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from handoff.billing.products import product_fits
from handoff.canonical.crm import BillingModel, Customer, Deal, DealLine, DealMilestone
from handoff.config import (
    CatalogEntry,
    DeliveryConfig,
    NamePatternEntry,
    ProjectTemplateConfig,
)

from .problems import Problem, problems_to_error
from .reference import OdooCompany, OdooPaymentTerm, OdooProduct, OdooReference, OdooTax

CONFIG_FILE = "handoff.yaml"
AMOUNT_TOLERANCE = Decimal("0.01")
PriceSource = Literal["deal", "rate_card"]


@dataclass(frozen=True)
class ResolvedLine:
    index: int
    line: DealLine
    product: OdooProduct
    price_unit: Decimal
    price_source: PriceSource
    role: str | None
    synthetic: bool  # made from the deal amount: the deal had no line items

    @property
    def subtotal(self) -> Decimal:
        return self.line.quantity * self.price_unit * (1 - self.line.discount / 100)


@dataclass(frozen=True)
class ResolvedMilestone:
    milestone: DealMilestone
    fraction: Decimal  # share of the milestone-billed line, 0..1
    amount: Decimal


@dataclass
class Resolution:
    """Everything a deal's configured references resolved to, and the problems found."""

    problems: list[Problem] = field(default_factory=list)
    billing_model: BillingModel | None = None
    scheduled: bool = False  # a fixed fee invoiced on a percentage schedule
    company: OdooCompany | None = None
    payment_term: OdooPaymentTerm | None = None
    currency: str | None = None
    currency_id: int | None = None
    taxes: list[OdooTax] = field(default_factory=list)
    template_name: str | None = None
    template: ProjectTemplateConfig | None = None
    template_project_id: int | None = None
    lines: list[ResolvedLine] = field(default_factory=list)
    milestones: list[ResolvedMilestone] = field(default_factory=list)
    milestone_line: int | None = None  # index in `lines` the milestones are attached to

    def add(self, field_: str, rule: str, value: object, message: str, fix: str) -> None:
        self.problems.append(
            Problem(field=field_, rule=rule, value=value, message=message, fix=fix)
        )

    @property
    def total(self) -> Decimal:
        return sum((line.subtotal for line in self.lines), Decimal(0))


def validate_deal(
    deal: Deal, customer: Customer | None, config: DeliveryConfig, reference: OdooReference
) -> list[Problem]:
    """Every reason the deal cannot be delivered to Odoo as configured (empty: it can). Pure."""
    problems: list[Problem] = []
    if customer is None:
        problems.append(
            Problem(
                field="customer_external_id",
                rule="customer_missing",
                value=deal.customer_external_id,
                message="the deal has no customer company",
                fix=f"associate the customer's company with the deal in {deal.source}",
            )
        )
    return problems + resolve_deal(deal, config, reference).problems


def check_deal(
    deal: Deal, customer: Customer | None, config: DeliveryConfig, reference: OdooReference
) -> None:
    """Raise the one ``BusinessRuleError`` listing every problem, if there is any."""
    if problems := validate_deal(deal, customer, config, reference):
        raise problems_to_error(deal, problems)


def resolve_deal(deal: Deal, config: DeliveryConfig, reference: OdooReference) -> Resolution:
    found = Resolution()
    _owner(deal, config, found)
    _billing_model(deal, found)
    _company(deal, config, reference, found)
    _payment_term(deal, config, reference, found)
    _taxes(deal, config, reference, found)
    _currency(deal, config, reference, found)
    _project_template(deal, config, reference, found)
    _lines(deal, config, reference, found)
    _milestones(deal, found)
    _retainer(deal, found)
    return found


# ── the rules ────────────────────────────────────────────────────────────────────────────


def _owner(deal: Deal, config: DeliveryConfig, found: Resolution) -> None:
    if config.require_account_owner and not deal.owner_id:
        found.add(
            "owner_id",
            "account_owner_missing",
            None,
            "the deal has no account owner",
            f"assign an owner to the deal in {deal.source} (or set "
            f"delivery.require_account_owner: false in {CONFIG_FILE})",
        )


def _billing_model(deal: Deal, found: Resolution) -> None:
    found.billing_model = deal.billing_model
    if deal.billing_model is None:
        found.add(
            "billing_model",
            "billing_model_missing",
            None,
            "the deal has no billing model",
            f"set the deal's billing model in {deal.source} to one of "
            + ", ".join(model.value for model in BillingModel),
        )
    found.scheduled = deal.billing_model is BillingModel.FIXED_FEE and bool(deal.milestones)


def _mapped(value: str, table: Mapping[str, str], odoo_names: Collection[str]) -> str | None:
    """The Odoo name a CRM value maps to; a value that already is an Odoo name maps to itself."""
    if value in table:
        return table[value]
    return value if value in odoo_names else None


def _company(
    deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution
) -> None:
    value = deal.legal_entity or config.defaults.legal_entity
    if not value:
        found.add(
            "legal_entity", "legal_entity_missing", None,
            "the deal has no legal entity",
            f"set the deal's legal entity in {deal.source}, or a default in "
            f"delivery.defaults.legal_entity ({CONFIG_FILE})",
        )  # fmt: skip
        return
    name = _mapped(value, config.legal_entities, reference.companies)
    if name is None:
        found.add(
            "legal_entity", "legal_entity_unmapped", value,
            "the legal entity maps to no Odoo company",
            f"add '{value}: <Odoo company name>' under delivery.legal_entities in {CONFIG_FILE}, "
            f"or correct the deal (known: {_known(config.legal_entities)})",
        )  # fmt: skip
        return
    found.company = reference.company(name)
    if found.company is None:
        found.add(
            "legal_entity", "company_not_in_odoo", value,
            f"the legal entity maps to Odoo company '{name}', which does not exist",
            f"create the company '{name}' in Odoo or correct delivery.legal_entities.{value} "
            f"(Odoo companies: {_known(reference.companies)})",
        )  # fmt: skip


def _payment_term(
    deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution
) -> None:
    value = deal.payment_terms or config.defaults.payment_terms
    if not value:
        found.add(
            "payment_terms", "payment_terms_missing", None,
            "the deal has no billing terms",
            f"set the deal's billing terms in {deal.source}, or a default in "
            f"delivery.defaults.payment_terms ({CONFIG_FILE})",
        )  # fmt: skip
        return
    name = _mapped(value, config.payment_terms, reference.payment_terms)
    if name is None:
        found.add(
            "payment_terms", "payment_terms_unmapped", value,
            "the billing terms map to no Odoo payment term",
            f"add '{value}: <Odoo payment term name>' under delivery.payment_terms in "
            f"{CONFIG_FILE} (known: {_known(config.payment_terms)})",
        )  # fmt: skip
        return
    company_id = found.company.id if found.company else None
    found.payment_term = reference.payment_term(name, company_id)
    if found.payment_term is None:
        found.add(
            "payment_terms", "payment_term_not_in_odoo", value,
            f"the billing terms map to Odoo payment term '{name}', which does not exist"
            + (f" for company '{found.company.name}'" if found.company else ""),
            f"create the payment term '{name}' in Odoo (Accounting > Configuration > Payment "
            f"Terms) or correct delivery.payment_terms.{value}",
        )  # fmt: skip


def _taxes(deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution) -> None:
    value = deal.tax_profile or config.defaults.tax_profile
    if not value:
        found.add(
            "tax_profile", "tax_profile_missing", None,
            "the deal has no tax profile",
            f"set the deal's tax profile in {deal.source}, or a default in "
            f"delivery.defaults.tax_profile ({CONFIG_FILE})",
        )  # fmt: skip
        return
    names = config.tax_profiles.get(value)
    if names is None:
        found.add(
            "tax_profile", "tax_profile_unknown", value,
            "the tax profile is not configured",
            f"add '{value}: [<Odoo tax name>, ...]' under delivery.tax_profiles in {CONFIG_FILE} "
            f"(known: {_known(config.tax_profiles)})",
        )  # fmt: skip
        return
    company_id = found.company.id if found.company else None
    for name in names:
        tax = reference.tax(name, company_id)
        if tax is None:
            found.add(
                "tax_profile", "tax_not_in_odoo", name,
                f"tax profile '{value}' names the sales tax '{name}', which Odoo does not have"
                + (f" for company '{found.company.name}'" if found.company else ""),
                f"create the sales tax '{name}' in Odoo or correct delivery.tax_profiles.{value}",
            )  # fmt: skip
        else:
            found.taxes.append(tax)


def _currency(
    deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution
) -> None:
    value = (deal.currency or "").upper() or (found.company.currency if found.company else None)
    if not value:
        return  # no company either: already a problem
    found.currency = value
    if config.currencies and value not in config.currencies:
        found.add(
            "currency", "currency_not_allowed", value,
            "the deal's currency is not one the firm delivers in",
            f"change the deal's currency, or add {value} to delivery.currencies in {CONFIG_FILE} "
            f"(allowed: {', '.join(config.currencies)})",
        )  # fmt: skip
    elif value not in reference.currencies:
        found.add(
            "currency", "currency_inactive", value,
            "the deal's currency is not active in Odoo",
            f"activate {value} in Odoo (Accounting > Configuration > Currencies) or change the "
            f"deal's currency (active: {_known(reference.currencies)})",
        )  # fmt: skip
    else:
        found.currency_id = reference.currencies[value]


def _project_template(
    deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution
) -> None:
    value = deal.project_template or config.defaults.project_template
    if not value:
        found.add(
            "project_template", "project_template_missing", None,
            "the deal names no project template",
            f"set the deal's project template in {deal.source}, or a default in "
            f"delivery.defaults.project_template ({CONFIG_FILE})",
        )  # fmt: skip
        return
    template = config.project_templates.get(value)
    if template is None:
        found.add(
            "project_template", "project_template_unknown", value,
            "the project template is not configured",
            f"add '{value}' under delivery.project_templates in {CONFIG_FILE}, or correct the "
            f"deal (known: {_known(config.project_templates)})",
        )  # fmt: skip
        return
    found.template_name, found.template = value, template
    if template.odoo_project:
        project = reference.project(template.odoo_project)
        if project is None:
            found.add(
                "project_template", "template_project_not_in_odoo", value,
                f"the template copies Odoo project '{template.odoo_project}', which does not "
                f"exist",
                f"create the project '{template.odoo_project}' in Odoo or correct "
                f"delivery.project_templates.{value}.odoo_project",
            )  # fmt: skip
        else:
            found.template_project_id = project.id


def _lines(deal: Deal, config: DeliveryConfig, reference: OdooReference, found: Resolution) -> None:
    lines, synthetic = list(deal.lines), False
    if not lines:
        made = _line_from_amount(deal, found)
        if made is None:
            return
        lines, synthetic = [made], True
    for index, line in enumerate(lines):
        where = f"lines[{index}]"
        _line_numbers(line, where, found)
        entry, how = catalog_entry(line, deal.billing_model, config)
        if entry is None:
            value = line.sku or line.product_external_id or line.name
            found.add(
                f"{where}.{how}", "line_unmapped", value,
                f"line '{line.name}' maps to no Odoo service product",
                _catalog_fix(line, deal.billing_model),
            )  # fmt: skip
            continue
        product = reference.product(entry.product)
        if product is None:
            found.add(
                f"{where}.{how}", "product_not_in_odoo", entry.product,
                f"line '{line.name}' maps to Odoo product '{entry.product}', which does not exist "
                f"(or is archived)",
                f"create a service product with Internal Reference '{entry.product}' in Odoo, or "
                f"correct delivery.service_catalog in {CONFIG_FILE}",
            )  # fmt: skip
            continue
        if found.company and product.company_id not in (None, found.company.id):
            found.add(
                f"{where}.{how}", "product_wrong_company", entry.product,
                f"Odoo product '{entry.product}' belongs to another company than "
                f"'{found.company.name}'",
                f"share the product between companies in Odoo (empty Company), or map the line to "
                f"a product of '{found.company.name}'",
            )  # fmt: skip
        if found.billing_model is not None:
            wrong = product_fits(product, found.billing_model, scheduled=found.scheduled)
            if wrong:
                found.add(
                    f"{where}.{how}", "product_misconfigured", entry.product,
                    f"Odoo product '{entry.product}' cannot be sold under "
                    f"{found.billing_model.value}: {wrong}",
                    f"fix the product in Odoo (Sales > Products > {product.name}) or map the line "
                    f"to a product configured for {found.billing_model.value}",
                )  # fmt: skip
        price = _price(line, entry, where, config, found)
        if price is not None:
            found.lines.append(
                ResolvedLine(
                    index=index, line=line, product=product, price_unit=price[0],
                    price_source=price[1], role=entry.role, synthetic=synthetic,
                )
            )  # fmt: skip


def _line_from_amount(deal: Deal, found: Resolution) -> DealLine | None:
    """A deal without line items is one line for its amount (fixed fee, milestone, retainer)."""
    model = found.billing_model
    if model is None:
        return None
    if model is BillingModel.TIME_AND_MATERIALS:
        found.add(
            "lines", "lines_missing", None,
            "a time & materials deal has no line items (hours and rates)",
            f"add line items with the estimated hours per role to the deal in {deal.source}",
        )  # fmt: skip
        return None
    price = deal.retainer_monthly_amount if model is BillingModel.RETAINER else deal.amount
    if price is None or price <= 0:
        if model is not BillingModel.RETAINER:  # retainers report the missing amount below
            found.add(
                "amount", "amount_missing", deal.amount,
                "the deal has no line items and no positive amount",
                f"add line items, or the deal amount, to the deal in {deal.source}",
            )  # fmt: skip
        return None
    return DealLine(external_id=f"{deal.external_id}:amount", name=deal.name, unit_price=price)


def catalog_entry(
    line: DealLine, billing_model: BillingModel | None, config: DeliveryConfig
) -> tuple[CatalogEntry | NamePatternEntry | None, str]:
    """The catalog entry for a line, and which of its fields decided (for the problem's path).

    Order: sku, CRM product id, name pattern; a line *without* a sku that matches none of them
    uses the billing model's product. A line with an unknown sku is a problem, not a fallback.
    """
    catalog = config.service_catalog
    if line.sku and line.sku in catalog.by_sku:
        return catalog.by_sku[line.sku], "sku"
    if line.product_external_id and line.product_external_id in catalog.by_product_id:
        return catalog.by_product_id[line.product_external_id], "product_external_id"
    name = line.name.casefold()
    for named in catalog.by_name:
        if fnmatch.fnmatchcase(name, named.pattern.casefold()):
            return named, "name"
    if line.sku:
        return None, "sku"
    if billing_model is not None and billing_model.value in catalog.by_billing_model:
        return catalog.by_billing_model[billing_model.value], "name"
    return None, "product_external_id" if line.product_external_id else "name"


def _catalog_fix(line: DealLine, billing_model: BillingModel | None) -> str:
    if line.sku:
        return (
            f"add '{line.sku}: <Odoo product Internal Reference>' under "
            f"delivery.service_catalog.by_sku in {CONFIG_FILE}, or correct the line's SKU"
        )
    if line.product_external_id:
        return (
            f"add '{line.product_external_id}: <Odoo product Internal Reference>' under "
            f"delivery.service_catalog.by_product_id in {CONFIG_FILE}"
        )
    model = billing_model.value if billing_model else "<billing model>"
    return (
        f"give the line a SKU, add a name pattern under delivery.service_catalog.by_name, or a "
        f"product for {model} under delivery.service_catalog.by_billing_model in {CONFIG_FILE}"
    )


def _line_numbers(line: DealLine, where: str, found: Resolution) -> None:
    if line.quantity <= 0:
        found.add(
            f"{where}.quantity", "line_quantity_invalid", str(line.quantity),
            f"line '{line.name}' has a quantity that is not positive",
            "correct the line's quantity in the CRM (remove the line if it is not sold)",
        )  # fmt: skip
    if line.unit_price < 0:
        found.add(
            f"{where}.unit_price", "line_price_negative", str(line.unit_price),
            f"line '{line.name}' has a negative unit price",
            "correct the price in the CRM; give reductions as a discount",
        )  # fmt: skip
    if not Decimal(0) <= line.discount <= Decimal(100):
        found.add(
            f"{where}.discount", "line_discount_invalid", str(line.discount),
            f"line '{line.name}' has a discount outside 0-100 %",
            "correct the line's discount percentage in the CRM",
        )  # fmt: skip


def _price(
    line: DealLine,
    entry: CatalogEntry | NamePatternEntry,
    where: str,
    config: DeliveryConfig,
    found: Resolution,
) -> tuple[Decimal, PriceSource] | None:
    """The deal's own unit price; for a line sold without one, the rate card's role rate."""
    if line.unit_price > 0:
        return line.unit_price, "deal"
    if line.unit_price < 0:
        return None
    if entry.role is None:
        found.add(
            f"{where}.unit_price", "line_price_missing", "0",
            f"line '{line.name}' has no unit price and its catalog entry names no rate-card role",
            f"price the line in the CRM, or give its catalog entry ('{entry.product}') a role "
            f"from delivery.rate_card.roles",
        )  # fmt: skip
        return None
    if found.currency is None:
        return None
    rate = config.rate_card.rate(entry.role, found.currency)
    if rate is None:
        found.add(
            f"{where}.unit_price", "rate_missing", f"{entry.role}/{found.currency}",
            f"line '{line.name}' is priced by the rate card, which has no {found.currency} rate "
            f"for role '{entry.role}'",
            f"add {found.currency} under delivery.rate_card.roles.{entry.role} in {CONFIG_FILE}, "
            f"or price the line in the CRM",
        )  # fmt: skip
        return None
    return rate, "rate_card"  # Decimal as written in handoff.yaml


def _milestones(deal: Deal, found: Resolution) -> None:
    model = found.billing_model
    if model is BillingModel.MILESTONE and not deal.milestones:
        found.add(
            "milestones", "milestones_missing", None,
            "a milestone deal has no milestones",
            f"add the milestones (name, amount or percentage, due date) to the deal in "
            f"{deal.source}",
        )  # fmt: skip
        return
    if not deal.milestones or model not in (BillingModel.MILESTONE, BillingModel.FIXED_FEE):
        return
    kinds, invalid = set(), False
    for index, milestone in enumerate(deal.milestones):
        has_amount, has_share = milestone.amount is not None, milestone.percentage is not None
        if has_amount == has_share:
            invalid = True
            found.add(
                f"milestones[{index}]", "milestone_value_invalid", milestone.name,
                f"milestone '{milestone.name}' needs exactly one of an amount or a percentage",
                "give the milestone either its amount or its percentage of the deal",
            )  # fmt: skip
            continue
        if (milestone.amount or milestone.percentage or 0) <= 0:
            invalid = True
            found.add(
                f"milestones[{index}]", "milestone_value_invalid",
                str(milestone.amount if has_amount else milestone.percentage),
                f"milestone '{milestone.name}' has a value that is not positive",
                "give the milestone a positive amount or percentage",
            )  # fmt: skip
        if model is BillingModel.FIXED_FEE and milestone.due_date is None:
            found.add(
                f"milestones[{index}].due_date", "schedule_date_missing", milestone.name,
                f"payment '{milestone.name}' of the fixed-fee schedule has no date",
                "give every payment of the schedule its invoicing date",
            )  # fmt: skip
        kinds.add("amount" if has_amount else "percentage")
    if invalid:
        return
    if len(kinds) > 1:
        found.add(
            "milestones", "milestones_mixed", None,
            "some milestones give amounts and others percentages",
            "give every milestone an amount, or every milestone a percentage",
        )  # fmt: skip
        return
    billed = _milestone_line(deal, found)
    if billed is None:
        return
    base = billed.subtotal
    if kinds == {"amount"}:
        amounts = [m.amount or Decimal(0) for m in deal.milestones]
        total = sum(amounts, Decimal(0))
        expected = deal.amount if deal.amount is not None else base
        if abs(total - expected) > AMOUNT_TOLERANCE:
            found.add(
                "milestones", "milestones_sum_mismatch", str(total),
                f"the milestone amounts add up to {total}, the deal amount is {expected}",
                "correct the milestone amounts or the deal amount so that they match",
            )  # fmt: skip
            return
        fractions = [amount / total for amount in amounts]
    else:
        shares = [m.percentage or Decimal(0) for m in deal.milestones]
        total = sum(shares, Decimal(0))
        if abs(total - 100) > AMOUNT_TOLERANCE:
            found.add(
                "milestones", "milestones_sum_mismatch", str(total),
                f"the milestone percentages add up to {total} %, not 100 %",
                "correct the milestone percentages so that they add up to 100",
            )  # fmt: skip
            return
        fractions = [share / 100 for share in shares]
    found.milestones = [
        ResolvedMilestone(milestone=m, fraction=f, amount=(base * f).quantize(Decimal("0.01")))
        for m, f in zip(deal.milestones, fractions, strict=True)
    ]


def _milestone_line(deal: Deal, found: Resolution) -> ResolvedLine | None:
    """The one order line the milestones (or the payment schedule) bill a share of."""
    if not found.lines:
        return None  # the lines' own problems are reported already
    if len(found.lines) != 1 and found.billing_model is BillingModel.MILESTONE:
        found.add(
            "lines", "milestone_line_count", len(found.lines),
            f"a milestone deal needs exactly one line billed by milestones, it has "
            f"{len(found.lines)}",
            f"merge the lines into one in {deal.source}, or sell the extra work as a separate "
            f"deal",
        )  # fmt: skip
        return None
    if len(found.lines) != 1:
        found.add(
            "lines", "schedule_line_count", len(found.lines),
            f"a fixed fee with a payment schedule needs exactly one line, it has "
            f"{len(found.lines)}",
            f"merge the lines into one in {deal.source}, or remove the schedule to invoice on "
            f"order",
        )  # fmt: skip
        return None
    found.milestone_line = 0
    return found.lines[0]


def _retainer(deal: Deal, found: Resolution) -> None:
    if found.billing_model is not BillingModel.RETAINER:
        return
    amount = deal.retainer_monthly_amount
    if amount is None or amount <= 0:
        found.add(
            "retainer_monthly_amount", "retainer_amount_missing",
            None if amount is None else str(amount),
            "a retainer deal has no positive monthly amount",
            f"set the retainer's monthly amount on the deal in {deal.source}",
        )  # fmt: skip
    if deal.retainer_hours is not None and deal.retainer_hours < 0:
        found.add(
            "retainer_hours", "retainer_hours_invalid", str(deal.retainer_hours),
            "the retainer's monthly hours are negative",
            f"correct the retainer's included hours on the deal in {deal.source}",
        )  # fmt: skip


def _known(names: Collection[str]) -> str:
    return ", ".join(sorted(names)) or "none"


__all__ = [
    "Resolution",
    "ResolvedLine",
    "ResolvedMilestone",
    "catalog_entry",
    "check_deal",
    "resolve_deal",
    "validate_deal",
]
