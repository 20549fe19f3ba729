"""Deal, configuration and Odoo-reference builders for the delivery tests.

The configuration names what the Odoo sandbox seeds (README of the recorded install): company
"My Company" (USD), payment term "30 Days", sales tax "15%"; the products are created by the
sandbox tests with ``required_product_setup``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from handoff.canonical.crm import BillingModel, Customer, Deal, DealLine, DealMilestone
from handoff.config import DeliveryConfig
from handoff.delivery.reference import (
    OdooCompany,
    OdooPaymentTerm,
    OdooProduct,
    OdooReference,
    OdooTax,
)

PRODUCT_CODES = {
    "time_materials": "SVC-TM",
    "fixed_fee": "SVC-FIXED",
    "fixed_fee_scheduled": "SVC-FIXED-SCHED",
    "milestone": "SVC-MILESTONE",
    "retainer": "SVC-RETAINER",
}


def delivery_config(**overrides: Any) -> DeliveryConfig:
    values: dict[str, Any] = {
        "legal_entities": {"US": "My Company"},
        "payment_terms": {"net30": "30 Days"},
        "tax_profiles": {"standard": ["15%"]},
        "rate_card": {
            "roles": {"consultant": {"USD": 150.0}, "senior": {"USD": 190.0}},
        },
        "service_catalog": {
            "by_sku": {
                "CONSULTING-HOUR": {"product": "SVC-TM", "role": "consultant"},
                "SENIOR-HOUR": {"product": "SVC-TM", "role": "senior"},
                "AUDIT": "SVC-FIXED",
                "PAYPLAN": "SVC-FIXED-SCHED",
                "IMPLEMENTATION": "SVC-MILESTONE",
                "RETAINER": "SVC-RETAINER",
            },
            "by_name": [{"pattern": "*workshop*", "product": "SVC-FIXED"}],
            "by_billing_model": {
                "time_materials": {"product": "SVC-TM", "role": "consultant"},
                "fixed_fee": "SVC-FIXED",
                "milestone": "SVC-MILESTONE",
                "retainer": "SVC-RETAINER",
            },
        },
        "project_templates": {
            "standard": {
                "project_name": "{order} - {deal}",
                "tasks": ["Kick-off", "Delivery", "Handover"],
                "stages": ["To Do", "In Progress", "Done"],
            }
        },
        "currencies": ["USD", "EUR"],
    }
    values.update(overrides)
    return DeliveryConfig.model_validate(values)


def product(code: str, product_id: int, **setup: str) -> OdooProduct:
    return OdooProduct(
        id=product_id, template_id=product_id, name=f"Service {code}", default_code=code, **setup
    )


def hand_reference() -> OdooReference:
    """What ``load_reference`` reads from a sandbox set up like the sandbox tests'."""
    service = {"type": "service", "service_tracking": "task_in_project"}
    return OdooReference(
        companies={"My Company": OdooCompany(id=1, name="My Company", currency="USD")},
        payment_terms={"30 Days": [OdooPaymentTerm(id=4, name="30 Days")]},
        taxes={"15%": [OdooTax(id=1, name="15%", company_id=1, amount=15.0)]},
        products={
            "SVC-TM": product(
                "SVC-TM", 10, invoice_policy="delivery", service_type="timesheet", **service
            ),
            "SVC-FIXED": product(
                "SVC-FIXED", 11, invoice_policy="order", service_type="manual", **service
            ),
            "SVC-FIXED-SCHED": product(
                "SVC-FIXED-SCHED", 12, invoice_policy="delivery", service_type="manual", **service
            ),
            "SVC-MILESTONE": product(
                "SVC-MILESTONE", 13, invoice_policy="delivery", service_type="milestones", **service
            ),
            "SVC-RETAINER": product(
                "SVC-RETAINER", 14, invoice_policy="delivery", service_type="manual", **service
            ),
        },
        currencies={"USD": 1},
    )


def customer() -> Customer:
    return Customer(source="hubspot", external_id="company-1", name="Acme Services Ltd")


def base_deal(model: BillingModel, **overrides: Any) -> Deal:
    """A valid won deal of each billing model."""
    lines = {
        BillingModel.TIME_AND_MATERIALS: [
            DealLine(external_id="l1", name="Consulting", sku="CONSULTING-HOUR",
                     quantity=Decimal(40)),
            DealLine(external_id="l2", name="Architecture", sku="SENIOR-HOUR",
                     quantity=Decimal(10), unit_price=Decimal(200), discount=Decimal(10)),
        ],
        BillingModel.FIXED_FEE: [
            DealLine(external_id="l1", name="Security audit", sku="AUDIT",
                     unit_price=Decimal(12000)),
        ],
        BillingModel.MILESTONE: [
            DealLine(external_id="l1", name="ERP implementation", sku="IMPLEMENTATION",
                     unit_price=Decimal(50000)),
        ],
        BillingModel.RETAINER: [
            DealLine(external_id="l1", name="Support retainer", sku="RETAINER",
                     unit_price=Decimal(4000), recurring_frequency="monthly"),
        ],
    }[model]  # fmt: skip
    values: dict[str, Any] = {
        "source": "hubspot",
        "external_id": f"deal-{model.value}",
        "name": f"Acme {model.value}",
        "amount": sum((line.quantity * line.unit_price for line in lines), Decimal(0)),
        "currency": "USD",
        "close_date": date(2026, 11, 20),
        "is_won": True,
        "owner_id": "owner-7",
        "customer_external_id": "company-1",
        "lines": lines,
        "billing_model": model,
        "legal_entity": "US",
        "payment_terms": "net30",
        "tax_profile": "standard",
        "project_template": "standard",
    }
    if model is BillingModel.MILESTONE:
        values["milestones"] = [
            DealMilestone(name="Design", amount=Decimal(15000), due_date=date(2026, 12, 15)),
            DealMilestone(name="Build", amount=Decimal(25000), due_date=date(2027, 2, 1)),
            DealMilestone(name="Go-live", amount=Decimal(10000), due_date=date(2027, 3, 1)),
        ]
    if model is BillingModel.RETAINER:
        values["retainer_monthly_amount"] = Decimal(4000)
        values["retainer_hours"] = Decimal(25)
    values.update(overrides)
    return Deal(**values)
