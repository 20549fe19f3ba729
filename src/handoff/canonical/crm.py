"""Canonical CRM records: what a deal, its customer and contacts mean to the hub, whatever the CRM.

Minimal models written with the HubSpot connector; connectors map into these, flows read them.
Money is Decimal, dates are timezone-aware, ids of the source system are strings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class CanonicalRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)

    source: str = Field(description="System the record came from, e.g. 'hubspot', 'salesforce'.")
    external_id: str = Field(min_length=1, description="The record's id in the source system.")
    updated_at: datetime | None = None


class Customer(CanonicalRecord):
    name: str = Field(min_length=1)
    domain: str | None = None
    website: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    zip: str | None = None
    state: str | None = None
    country_code: str | None = Field(None, description="ISO 3166-1 alpha-2 when known.")
    vat: str | None = None
    industry: str | None = None


class Contact(CanonicalRecord):
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    job_title: str | None = None
    customer_external_id: str | None = None


class BillingModel(StrEnum):
    """How a deal is billed once won; decides the Odoo product policy and the billing plan."""

    TIME_AND_MATERIALS = "time_materials"
    FIXED_FEE = "fixed_fee"
    MILESTONE = "milestone"
    RETAINER = "retainer"


class DealMilestone(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    amount: Decimal | None = None
    percentage: Decimal | None = Field(None, ge=0, le=100)
    due_date: date | None = None


class DealLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1)
    name: str
    description: str | None = None
    product_external_id: str | None = None
    sku: str | None = None
    quantity: Decimal = Decimal(1)
    unit_price: Decimal = Decimal(0)
    discount: Decimal = Decimal(0)
    amount: Decimal | None = None
    recurring_frequency: str | None = None


class Deal(CanonicalRecord):
    name: str = Field(min_length=1)
    amount: Decimal | None = None
    currency: str | None = None
    close_date: date | None = None
    pipeline: str | None = None
    stage: str | None = None
    stage_label: str | None = None
    probability: Decimal | None = None
    is_closed: bool = False
    is_won: bool = False
    owner_id: str | None = None
    customer_external_id: str | None = None
    contact_external_ids: list[str] = Field(default_factory=list)
    lines: list[DealLine] = Field(default_factory=list)
    # What the delivery side needs; validated before anything is written to Odoo.
    billing_model: BillingModel | None = None
    legal_entity: str | None = None
    payment_terms: str | None = None
    tax_profile: str | None = None
    project_template: str | None = None
    milestones: list[DealMilestone] = Field(default_factory=list)
    retainer_monthly_amount: Decimal | None = None
    retainer_hours: Decimal | None = None


__all__ = [
    "BillingModel",
    "CanonicalRecord",
    "Contact",
    "Customer",
    "Deal",
    "DealLine",
    "DealMilestone",
]
