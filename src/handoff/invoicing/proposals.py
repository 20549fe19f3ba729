"""Billing proposals per bound project, built from what Odoo says is deliverable.

Where the figures come from, per contract type, and why:

- time & materials, milestones, fixed fee on order: **Odoo's own to-invoice quantities**
  (``qty_to_invoice`` x price). The invoice is created through the sale order
  (``sale.advance.payment.inv``, method ``delivered``), which invoices exactly those quantities;
  computing them any other way would propose one amount and invoice another. The proposal names
  the source keys behind them (the timesheets logged on the line, the reached milestones).
- fixed fee on a schedule of percentages, retainers: **the pure billing engine**
  (``handoff.billing.engine.propose``). Odoo Community computes nothing for them (manual delivered
  quantity, no subscriptions): the engine decides which instalments / which month and overage are
  due, and Handoff writes the delivered quantity that makes Odoo invoice exactly that.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.billing.engine import BillingPeriod, BillingProposal, propose
from handoff.billing.keys import fixed_fee_key, milestone_key
from handoff.billing.money import round_money
from handoff.billing.plan import DeliveryPlan
from handoff.canonical.crm import BillingModel
from handoff.canonical.delivery import (
    ApprovalStatus,
    BillingTerms,
    FixedFeeInstallment,
    FixedFeeTerms,
    LineKind,
    ProjectBilling,
    RetainerTerms,
    TimeEntry,
)

from .deliverables import OrderDeliverables, OrderLine

Basis = Literal["odoo", "engine"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SourceEntry(_Model):
    """One thing a line bills, as shown to the person approving: which entry, when, how much."""

    key: str
    date: dt.date | None = None
    consultant: str | None = None
    hours: Decimal | None = None
    description: str = ""


class ExtraLine(_Model):
    """An order line Handoff adds before invoicing (retainer overage), found by its name on a rerun."""

    product_id: int
    name: str
    price_unit: Decimal


class ProposalLine(_Model):
    kind: str
    description: str
    order_line_id: int | None
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    basis: Basis
    sources: list[SourceEntry] = Field(default_factory=list)
    set_delivered: Decimal | None = Field(
        default=None, description="qty_delivered Handoff writes on the line before invoicing."
    )
    extra_line: ExtraLine | None = None

    @property
    def source_keys(self) -> list[str]:
        return [source.key for source in self.sources]


class RetainerUse(_Model):
    period: str
    included_hours: Decimal
    used_hours: Decimal
    overage_hours: Decimal

    @property
    def overdrawn(self) -> bool:
        return self.used_hours > self.included_hours


class ProposalDraft(_Model):
    """What one run would invoice for one project (not stored yet)."""

    deal_key: str
    order_id: int
    order_name: str
    project: str
    period: str
    currency: str
    billing_model: str
    lines: list[ProposalLine] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    retainer: RetainerUse | None = None

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def source_keys(self) -> list[str]:
        return [key for line in self.lines for key in line.source_keys]

    @property
    def basis(self) -> str:
        kinds = sorted({line.basis for line in self.lines})
        return "+".join(kinds) if kinds else "none"

    @property
    def is_empty(self) -> bool:
        return not self.lines

    def details(self) -> dict[str, Any]:
        return {
            "order_name": self.order_name,
            "billing_model": self.billing_model,
            "warnings": self.warnings,
            "retainer": None if self.retainer is None else self.retainer.model_dump(mode="json"),
        }


def order_line_key(order_id: int, line_id: int, quantity: Decimal) -> str:
    """A line Odoo invoices that no finer source explains, keyed by its cumulative quantity."""
    return f"order_line:{order_id}:{line_id}:{quantity.normalize():f}"


def build_draft(
    deal_key: str,
    plan: DeliveryPlan,
    found: OrderDeliverables,
    period: BillingPeriod,
    billed: set[str],
) -> ProposalDraft:
    model = plan.billing.billing_model
    draft = ProposalDraft(
        deal_key=deal_key,
        order_id=found.order_id,
        order_name=found.order_name,
        project=str(found.project_ids[0]) if found.project_ids else f"order:{found.order_id}",
        period=period.label,
        currency=found.currency,
        billing_model=model.value,
    )
    if found.state != "sale":
        draft.warnings.append(f"{found.order_name} is in state {found.state!r}, not confirmed")
        return draft
    by_engine: set[int] = set()
    if model is BillingModel.RETAINER and plan.billing.retainer is not None:
        by_engine |= _retainer(draft, plan, found, period, billed)
    elif model is BillingModel.FIXED_FEE and plan.billing.scheduled:
        by_engine |= _scheduled_fee(draft, plan, found, period, billed)
    for line in found.lines:
        if line.id in by_engine or line.to_invoice == 0:
            continue
        draft.lines.append(_from_odoo(draft, line, found, period, billed, model))
    return draft


# --- Odoo computes it ------------------------------------------------------------------------


def _from_odoo(
    draft: ProposalDraft,
    line: OrderLine,
    found: OrderDeliverables,
    period: BillingPeriod,
    billed: set[str],
    model: BillingModel,
) -> ProposalLine:
    sources: list[SourceEntry] = []
    kind = "order_line"
    if line.method == "timesheet":
        kind = LineKind.TIME.value
        unbilled = [t for t in found.timesheets if t.line_id == line.id and t.key not in billed]
        sources = [
            SourceEntry(
                key=t.key,
                date=t.date,
                consultant=t.consultant,
                hours=t.hours,
                description=t.description,
            )
            for t in unbilled
        ]
        hours = sum((t.hours for t in unbilled), Decimal(0))
        late = [t for t in unbilled if t.date > period.end]
        if late:
            draft.warnings.append(
                f"{line.name}: Odoo invoices all delivered time; {len(late)} timesheets dated "
                f"after {period.end} are included"
            )
        if hours != line.to_invoice:
            draft.warnings.append(
                f"{line.name}: {line.to_invoice} h to invoice in Odoo but {hours} h of unbilled "
                "timesheets behind them"
            )
    elif line.method == "milestones":
        kind = LineKind.MILESTONE.value
        sources = [
            SourceEntry(key=key, date=m.reached_on, description=f"Milestone: {m.name}")
            for m in found.milestones
            if m.line_id == line.id
            and m.reached
            and (key := milestone_key(draft.deal_key, str(m.id))) not in billed
        ]
    elif model is BillingModel.FIXED_FEE:
        kind = LineKind.FIXED_FEE.value
        key = fixed_fee_key(draft.deal_key, "on_order")
        if key not in billed:
            sources = [SourceEntry(key=key, description="Fixed fee on order")]
    if not sources:
        target = line.invoiced + line.to_invoice
        sources = [
            SourceEntry(
                key=order_line_key(found.order_id, line.id, target),
                description=f"{line.name}: Odoo to-invoice quantity",
            )
        ]
    return ProposalLine(
        kind=kind,
        description=line.name,
        order_line_id=line.id,
        quantity=line.to_invoice,
        unit_price=line.net_price,
        amount=round_money(line.to_invoice * line.net_price, draft.currency),
        basis="odoo",
        sources=sources,
    )


# --- the engine computes it ------------------------------------------------------------------


def _project_billing(draft: ProposalDraft, terms: BillingTerms) -> ProjectBilling:
    return ProjectBilling(
        project_ref=draft.project,
        contract_ref=draft.deal_key,
        deal_ref=draft.deal_key,
        sale_order_ref=draft.order_name,
        terms=terms,
    )


def _apply_warnings(draft: ProposalDraft, proposal: BillingProposal) -> None:
    draft.warnings.extend(f"{p.rule.value}: {p.message}" for p in proposal.problems)


def _scheduled_fee(
    draft: ProposalDraft,
    plan: DeliveryPlan,
    found: OrderDeliverables,
    period: BillingPeriod,
    billed: set[str],
) -> set[int]:
    if not found.lines:
        return set()
    line = found.lines[0]
    events = [e for e in plan.billing.events if e.percentage is not None and e.due_date]
    if not events:
        return set()
    percentages = [e.percentage or Decimal(0) for e in events]
    # The plan rounds each share to 0.01 %; the last instalment takes the remainder.
    percentages[-1] += Decimal(100) - sum(percentages)
    schedule = [
        FixedFeeInstallment(label=e.label, percentage=p, due=e.due_date)  # type: ignore[arg-type]
        for e, p in zip(events, percentages, strict=True)
    ]
    fee = line.quantity * line.net_price
    terms = BillingTerms(
        billing_model=BillingModel.FIXED_FEE,
        currency=draft.currency,
        fixed_fee=FixedFeeTerms(amount=fee, schedule=schedule),
    )
    proposal = propose(_project_billing(draft, terms), [], period=period, already_billed=billed)
    _apply_warnings(draft, proposal)
    due_keys = proposal.billed_keys
    if not due_keys:
        return {line.id}
    share = sum(
        (
            p
            for i, p in zip(schedule, percentages, strict=True)
            if fixed_fee_key(draft.deal_key, i.label) in billed | due_keys
        ),
        Decimal(0),
    )
    delivered = (line.quantity * share / 100).quantize(Decimal("0.000001"))
    for invoice_line in proposal.invoice.lines:
        draft.lines.append(
            ProposalLine(
                kind=invoice_line.kind.value,
                description=invoice_line.description,
                order_line_id=line.id,
                quantity=invoice_line.quantity,
                unit_price=invoice_line.unit_price,
                amount=invoice_line.amount,
                basis="engine",
                sources=[
                    SourceEntry(key=s.key, description=invoice_line.description)
                    for s in invoice_line.sources
                ],
                set_delivered=delivered,
            )
        )
    return {line.id}


def _retainer(
    draft: ProposalDraft,
    plan: DeliveryPlan,
    found: OrderDeliverables,
    period: BillingPeriod,
    billed: set[str],
) -> set[int]:
    retainer = plan.billing.retainer
    assert retainer is not None
    if retainer.line_index >= len(found.lines):
        return set()
    line = found.lines[retainer.line_index]
    included = retainer.included_hours or Decimal(0)
    # Overage at the retainer's own hourly rate: the deal carries no separate overage rate.
    overage_rate = (
        round_money(retainer.monthly_amount / included, draft.currency) if included else Decimal(0)
    )
    terms = BillingTerms(
        billing_model=BillingModel.RETAINER,
        currency=draft.currency,
        retainer=RetainerTerms(
            monthly_amount=retainer.monthly_amount,
            included_hours=included,
            overage_rate=overage_rate,
            starts=retainer.start_date.replace(day=1) if retainer.start_date else None,
        ),
    )
    project = _project_billing(draft, terms)
    entries = [
        TimeEntry(
            source="odoo",
            source_id=str(t.id),
            consultant=t.consultant,
            project_ref=draft.project,
            date=t.date,
            hours=t.hours,
            approval=ApprovalStatus.APPROVED,  # in Odoo = approved (Community has no approval)
            description=t.description,
        )
        for t in found.timesheets
    ]
    proposal = propose(project, entries, period=period, already_billed=billed)
    _apply_warnings(draft, proposal)
    if proposal.retainer is not None:
        draft.retainer = RetainerUse.model_validate(proposal.retainer.model_dump())
    sheets = {t.key: t for t in found.timesheets}
    for invoice_line in proposal.invoice.lines:
        sources = [
            SourceEntry(
                key=s.key,
                date=sheets[s.key].date if s.key in sheets else None,
                consultant=sheets[s.key].consultant if s.key in sheets else None,
                hours=s.quantity if s.key in sheets else None,
                description=sheets[s.key].description
                if s.key in sheets
                else invoice_line.description,
            )
            for s in invoice_line.sources
        ]
        overage = invoice_line.kind is LineKind.RETAINER_OVERAGE
        draft.lines.append(
            ProposalLine(
                kind=invoice_line.kind.value,
                description=invoice_line.description,
                order_line_id=None if overage else line.id,
                quantity=invoice_line.quantity,
                unit_price=invoice_line.unit_price,
                amount=invoice_line.amount,
                basis="engine",
                sources=sources,
                set_delivered=invoice_line.quantity if overage else line.invoiced + 1,
                extra_line=ExtraLine(
                    product_id=line.product_id or 0,
                    name=invoice_line.description,
                    price_unit=invoice_line.unit_price,
                )
                if overage
                else None,
            )
        )
    return {line.id}
