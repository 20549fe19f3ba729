"""Canonical delivery records: the work done, what it costs the client, and what gets invoiced.

Whatever the source (Odoo timesheets, a PSA webhook, a CSV drop), time and expenses become
``TimeEntry`` and ``Expense``; a contract's billing terms and rate card say how they turn into
money; the billing engine (``handoff.billing``) turns them into an ``InvoiceProposal``.

Money is ``Decimal`` with an ISO 4217 currency; hours are ``Decimal``. Every billable thing has a
*source key* (``TimeEntry.key``, ``Expense.key``, the keys in ``handoff.billing.keys``): the
binding of an invoice line points at the keys it bills, and a key is billed at most once.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from handoff.canonical import limits
from handoff.canonical.crm import BillingModel

CurrencyCode = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")]
Money = Decimal
Hours = Annotated[Decimal, Field(ge=0)]
Percentage = Annotated[Decimal, Field(ge=0, le=100)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApprovalStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"


# The field ``date`` of a delivery record hides the type inside its class body.
_Day = date


class _DeliveryRecord(_Model):
    """What time entries and expenses share: where they came from and what they belong to."""

    source: str = Field(
        min_length=1, description="System the record came from: 'odoo', 'harvest', 'csv'..."
    )
    source_id: str = Field(min_length=1, description="The record's id in that system.")
    consultant: str = Field(min_length=1, description="Employee / consultant reference.")
    project_ref: str | None = Field(
        default=None, description="Handoff project reference, when known."
    )
    deal_ref: str | None = Field(
        default=None, description="CRM deal reference, when the project is not known yet."
    )
    date: Annotated[_Day, AfterValidator(limits.record_date)]
    billable: bool = True
    approval: ApprovalStatus = ApprovalStatus.DRAFT
    description: str = ""
    revision: str | None = Field(
        default=None, description="Source revision / etag, to detect edits."
    )
    updated_at: datetime | None = None

    # At an edge that validates with ``limits.edge_context(...)``: the configured limits too,
    # each reported on its own field.
    @field_validator("date")
    @classmethod
    def _date_in_window(cls, value: _Day, info: ValidationInfo) -> _Day:
        if (edge := limits.edge_limits(info)) and (problem := limits.date_problem(value, *edge)):
            raise ValueError(f"{value}: {problem}")
        return value

    @model_validator(mode="after")
    def _belongs_somewhere(self) -> _DeliveryRecord:
        if not self.project_ref and not self.deal_ref:
            raise ValueError("a delivery record needs a project_ref or a deal_ref")
        return self

    @property
    def billable_now(self) -> bool:
        """Only approved, billable records may ever reach an invoice."""
        return self.billable and self.approval is ApprovalStatus.APPROVED


class TimeEntry(_DeliveryRecord):
    role: str | None = Field(
        default=None, description="The consultant's role for this work (rate fallback)."
    )
    task_ref: str | None = None
    hours: Annotated[Hours, AfterValidator(limits.entry_hours)]

    @field_validator("hours")
    @classmethod
    def _hours_within_limits(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        if (edge := limits.edge_limits(info)) and (problem := limits.hours_problem(value, edge[0])):
            raise ValueError(f"{value}: {problem}")
        return value

    @property
    def key(self) -> str:
        return f"time:{self.source}:{self.source_id}"


class Expense(_DeliveryRecord):
    # The currency first: the amount's check needs it (its decimals).
    currency: Annotated[CurrencyCode, AfterValidator(limits.iso_currency)]
    amount: Money = Field(ge=0)
    category: str = Field(default="other", min_length=1)
    receipt_ref: str | None = None
    markup_percent: Decimal | None = Field(
        default=None, ge=0, description="Overrides the contract's expense policy for this expense."
    )

    @field_validator("amount")
    @classmethod
    def _amount_fits_currency(cls, amount: Decimal, info: ValidationInfo) -> Decimal:
        limits.expense_amount(amount, info.data.get("currency"))
        if (edge := limits.edge_limits(info)) and (
            problem := limits.amount_problem(amount, edge[0])
        ):
            raise ValueError(f"{amount}: {problem}")
        return amount

    @property
    def key(self) -> str:
        return f"expense:{self.source}:{self.source_id}"


class Rate(_Model):
    """An hourly rate for one consultant or one role, in one currency, over a date range."""

    consultant: str | None = None
    role: str | None = None
    currency: CurrencyCode
    hourly: Money = Field(ge=0)
    valid_from: date | None = None
    valid_to: date | None = Field(default=None, description="Inclusive; None means open-ended.")

    @model_validator(mode="after")
    def _one_subject(self) -> Rate:
        if (self.consultant is None) == (self.role is None):
            raise ValueError("a rate is for exactly one of consultant or role")
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def covers(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


class RateCard(_Model):
    """Rates by consultant, else by role, per currency, with effective dates."""

    name: str = "default"
    rates: list[Rate] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_overlaps(self) -> RateCard:
        # Two rates for the same subject and currency on the same day would make billing a guess.
        by_subject: dict[tuple[str | None, str | None, str], list[Rate]] = {}
        for rate in self.rates:
            by_subject.setdefault((rate.consultant, rate.role, rate.currency), []).append(rate)
        for (consultant, role, currency), rates in by_subject.items():
            ordered = sorted(rates, key=lambda r: r.valid_from or date.min)
            for earlier, later in pairwise(ordered):
                if earlier.valid_to is None or (later.valid_from or date.min) <= earlier.valid_to:
                    subject = f"consultant {consultant}" if consultant else f"role {role}"
                    raise ValueError(
                        f"overlapping {currency} rates for {subject} from {later.valid_from}"
                    )
        return self

    def lookup(
        self,
        *,
        day: date,
        currency: str | None = None,
        consultant: str | None = None,
        role: str | None = None,
    ) -> list[Rate]:
        """Rates for one subject (a consultant, or a role) on ``day``, in ``currency`` when given."""
        if (consultant is None) == (role is None):
            raise ValueError("look a rate up by exactly one of consultant or role")
        return [
            rate
            for rate in self.rates
            if rate.covers(day)
            and (currency is None or rate.currency == currency)
            and (rate.consultant == consultant if consultant is not None else rate.role == role)
        ]


class FixedFeeInstallment(_Model):
    label: str = Field(min_length=1)
    percentage: Percentage
    due: date


class FixedFeeTerms(_Model):
    """A fixed fee invoiced on order (no schedule) or by a schedule of percentages."""

    amount: Money = Field(ge=0)
    schedule: list[FixedFeeInstallment] = Field(
        default_factory=list, description="Empty: the whole fee on order."
    )

    @model_validator(mode="after")
    def _schedule_is_whole(self) -> FixedFeeTerms:
        if self.schedule:
            total = sum((i.percentage for i in self.schedule), Decimal(0))
            if total != 100:
                raise ValueError(f"fixed-fee schedule percentages add up to {total}, not 100")
            labels = [i.label for i in self.schedule]
            if len(set(labels)) != len(labels):
                raise ValueError("fixed-fee installment labels must be unique")
        return self


class Milestone(_Model):
    """A billable milestone: a fixed amount or a percentage of the contract value."""

    milestone_id: str = Field(
        min_length=1, description="Stable id (Odoo project.milestone id or CRM id)."
    )
    name: str = Field(min_length=1)
    amount: Money | None = Field(default=None, ge=0)
    percentage: Percentage | None = None
    reached: bool = False
    reached_on: date | None = None

    @model_validator(mode="after")
    def _one_price(self) -> Milestone:
        if self.amount is not None and self.percentage is not None:
            raise ValueError(f"milestone {self.name!r} has both an amount and a percentage")
        return self


class RetainerTerms(_Model):
    monthly_amount: Money = Field(ge=0)
    included_hours: Hours
    overage_rate: Money = Field(
        ge=0, description="Per hour beyond the included hours, contract currency."
    )
    rollover: Literal["none"] = "none"
    starts: date | None = None
    ends: date | None = None


class ExpenseMode(StrEnum):
    AT_COST = "at_cost"
    MARKUP = "markup"
    NOT_REBILLED = "not_rebilled"


class ExpensePolicy(_Model):
    mode: ExpenseMode = ExpenseMode.AT_COST
    markup_percent: Decimal = Field(default=Decimal(0), ge=0)

    @model_validator(mode="after")
    def _markup_needs_percent(self) -> ExpensePolicy:
        if self.mode is ExpenseMode.MARKUP and self.markup_percent == 0:
            raise ValueError("expense policy 'markup' needs a markup_percent above 0")
        return self


class BillingTerms(_Model):
    """The contract side of billing: how, in which currency, and within which limits."""

    billing_model: BillingModel
    currency: CurrencyCode
    not_to_exceed: Money | None = Field(
        default=None, ge=0, description="Cap on everything billed under the contract."
    )
    cap_includes_expenses: bool = False
    contract_value: Money | None = Field(
        default=None, ge=0, description="Base of milestone percentages."
    )
    fixed_fee: FixedFeeTerms | None = None
    milestones: list[Milestone] = Field(default_factory=list)
    retainer: RetainerTerms | None = None
    expenses: ExpensePolicy = Field(default_factory=ExpensePolicy)

    @model_validator(mode="after")
    def _model_has_its_terms(self) -> BillingTerms:
        if self.billing_model is BillingModel.FIXED_FEE and self.fixed_fee is None:
            raise ValueError("a fixed_fee contract needs fixed_fee terms")
        if self.billing_model is BillingModel.RETAINER and self.retainer is None:
            raise ValueError("a retainer contract needs retainer terms")
        return self


class ProjectBilling(_Model):
    """Everything the engine needs to know about one project under contract."""

    project_ref: str = Field(min_length=1)
    contract_ref: str = Field(
        min_length=1, description="Namespaces the keys of fees and milestones."
    )
    customer_ref: str | None = None
    deal_ref: str | None = None
    sale_order_ref: str | None = None
    order_date: date | None = Field(
        default=None, description="When the order was confirmed (fixed fee on order)."
    )
    terms: BillingTerms
    rate_card: RateCard = Field(default_factory=RateCard)
    invoiced_to_date: Money = Field(
        default=Decimal(0),
        ge=0,
        description="Already invoiced under the contract, counted against the cap.",
    )


class LineKind(StrEnum):
    TIME = "time"
    FIXED_FEE = "fixed_fee"
    MILESTONE = "milestone"
    RETAINER = "retainer"
    RETAINER_OVERAGE = "retainer_overage"
    EXPENSE = "expense"


class BilledSource(_Model):
    """One source key's contribution to a line, before the line is rounded."""

    key: str
    quantity: Decimal = Field(description="Hours for time, 1 for a fee, milestone or expense.")
    amount: Decimal = Field(description="Unrounded contribution in the invoice currency.")
    source_amount: Decimal | None = Field(
        default=None, description="Amount in the source's own currency."
    )
    source_currency: str | None = None


class InvoiceLine(_Model):
    kind: LineKind
    description: str
    quantity: Decimal
    unit_price: Decimal
    amount: Money = Field(description="Rounded once, half-up, to the currency's minor unit.")
    consultant: str | None = None
    role: str | None = None
    category: str | None = None
    sources: list[BilledSource]

    @property
    def source_keys(self) -> list[str]:
        return [s.key for s in self.sources]


class InvoiceProposal(_Model):
    project_ref: str
    contract_ref: str
    customer_ref: str | None = None
    sale_order_ref: str | None = None
    currency: CurrencyCode
    lines: list[InvoiceLine] = Field(default_factory=list)

    @property
    def total(self) -> Money:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def source_keys(self) -> list[str]:
        return [key for line in self.lines for key in line.source_keys]


class CreditNoteLine(_Model):
    source_key: str
    description: str
    amount: Money = Field(ge=0, description="Credited amount (positive), invoice currency.")


class CreditNote(_Model):
    """A correction of a posted invoice: Odoo's reversal (``out_refund``) of some of its lines."""

    invoice_ref: str = Field(min_length=1)
    currency: CurrencyCode
    reason: str
    lines: list[CreditNoteLine] = Field(min_length=1)

    @property
    def total(self) -> Money:
        return sum((line.amount for line in self.lines), Decimal(0))


__all__ = [
    "ApprovalStatus",
    "BilledSource",
    "BillingModel",
    "BillingTerms",
    "CreditNote",
    "CreditNoteLine",
    "Expense",
    "ExpenseMode",
    "ExpensePolicy",
    "FixedFeeInstallment",
    "FixedFeeTerms",
    "InvoiceLine",
    "InvoiceProposal",
    "LineKind",
    "Milestone",
    "ProjectBilling",
    "Rate",
    "RateCard",
    "RetainerTerms",
    "TimeEntry",
]
