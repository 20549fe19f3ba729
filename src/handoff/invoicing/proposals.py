"""Billing proposals per bound project, built from what Odoo says is deliverable.

Where the figures come from, per contract type, and why:

- milestones, fixed fee on order: **Odoo's own to-invoice quantities** (``qty_to_invoice`` x
  price). The invoice is created through the sale order (``sale.advance.payment.inv``, method
  ``delivered``), which invoices exactly those quantities; computing them any other way would
  propose one amount and invoice another. The proposal names the source keys behind them.
- time & materials (timesheet lines): **the timesheets Odoo will invoice up to a date**. The
  wizard's ``date_end_invoice_timesheet`` makes Odoo invoice only the timesheets no invoice holds
  yet and dated up to it (sale_timesheet), at the order line's price. The engine decides which
  timesheets are due (dated up to the period's end, unbilled, priced, within the not-to-exceed
  cap); as the wizard can only cut by date, the date is the day before the first timesheet held
  back, and the proposal holds exactly the timesheets up to it (``timesheets_until``).
- fixed fee on a schedule of percentages, retainers: **the pure billing engine**
  (``handoff.billing.engine.propose``). Odoo Community computes nothing for them (manual delivered
  quantity, no subscriptions): the engine decides which instalments / which month and overage are
  due, and Handoff writes the delivered quantity that makes Odoo invoice exactly that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.billing.engine import BillingPeriod, BillingProposal, HeldBack, Problem, propose
from handoff.billing.keys import fixed_fee_key, milestone_key
from handoff.billing.money import round_money
from handoff.billing.units import TimeConversion, timesheet_quantity
from handoff.canonical.crm import BillingModel
from handoff.canonical.delivery import (
    ApprovalStatus,
    BillingTerms,
    FixedFeeInstallment,
    FixedFeeTerms,
    LineKind,
    ProjectBilling,
    Rate,
    RateCard,
    RetainerTerms,
    TimeEntry,
)
from handoff.delivery.plan import DeliveryPlan

from .deliverables import (
    CurrencyConversion,
    ExpenseCost,
    OrderDeliverables,
    OrderLine,
    Timesheet,
)

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
    unit: str | None = Field(
        default=None, description="The unit the quantity is in (the order line's), e.g. Days."
    )
    sources: list[SourceEntry] = Field(default_factory=list)
    set_delivered: Decimal | None = Field(
        default=None, description="qty_delivered Handoff writes on the line before invoicing."
    )
    extra_line: ExtraLine | None = None
    conversions: list[CurrencyConversion] = Field(
        default_factory=list,
        description="A re-invoiced expense paid in another currency: each conversion Odoo made "
        "to reach the order's currency (source amount and currency, Odoo's rate and its day, "
        "the converted amount as Odoo computed it).",
    )

    @property
    def source_keys(self) -> list[str]:
        return [source.key for source in self.sources]

    @property
    def conversion_text(self) -> str | None:
        """ "10.00 USD → 9.23 EUR at 0.923 (Odoo rate of 2026-11-30)", None in one currency."""
        if not self.conversions:
            return None
        return "; ".join(conversion.text() for conversion in self.conversions)


class RetainerUse(_Model):
    period: str
    included_hours: Decimal
    used_hours: Decimal
    overage_hours: Decimal

    @property
    def overdrawn(self) -> bool:
        return self.used_hours > self.included_hours


class BillingProblem(_Model):
    """A problem the engine found for the project, with what it holds back. Those of severity
    ``exception`` become records in the exception queue (flow ``billing_run``, the deal)."""

    rule: str
    severity: Literal["exception", "warning"]
    message: str
    value: str | None = None
    suggested_fix: str
    source_keys: list[str] = Field(default_factory=list)
    held_amount: Decimal | None = Field(
        default=None, description="What the held-back work would bill, where known."
    )
    held_hours: Decimal | None = None


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
    problems: list[BillingProblem] = Field(default_factory=list)
    retainer: RetainerUse | None = None
    timesheets_until: dt.date | None = Field(
        default=None,
        description="date_end_invoice_timesheet for the wizard (orders with timesheet lines).",
    )

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
            "problems": [problem.model_dump(mode="json") for problem in self.problems],
            "retainer": None if self.retainer is None else self.retainer.model_dump(mode="json"),
            "timesheets_until": None
            if self.timesheets_until is None
            else self.timesheets_until.isoformat(),
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
    by_engine |= _timesheets(draft, plan, found, period, billed, by_engine)
    for line in found.lines:
        if line.id in by_engine or line.to_invoice == 0:
            continue
        draft.lines.append(_from_odoo(draft, line, found, period, billed, model))
    _check_expense_rates(draft, found)
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
    if line.method == "milestones":
        kind = LineKind.MILESTONE.value
        sources = [
            SourceEntry(key=key, date=m.reached_on, description=f"Milestone: {m.name}")
            for m in found.milestones
            if m.line_id == line.id
            and m.reached
            and (key := milestone_key(draft.deal_key, str(m.id))) not in billed
        ]
    elif line.is_expense:
        kind = LineKind.EXPENSE.value
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
    expense = _expense_of(found, line)
    return ProposalLine(
        kind=kind,
        description=line.name,
        order_line_id=line.id,
        quantity=line.to_invoice,
        unit_price=line.net_price,
        amount=round_money(line.to_invoice * line.net_price, draft.currency),
        basis="odoo",
        sources=sources,
        conversions=[] if expense is None else list(expense.conversions),
    )


def _expense_of(found: OrderDeliverables, line: OrderLine) -> ExpenseCost | None:
    return next((e for e in found.expenses if e.line_id == line.id), None)


# --- re-invoiced expenses paid in another currency ---------------------------------------------


def _check_expense_rates(draft: ProposalDraft, found: OrderDeliverables) -> None:
    """An expense Odoo converted without a rate for its day (it silently takes its oldest rate,
    or 1), or at another rate than its own for that day (converted before the rate was added,
    or a total set by hand), is an exception naming what to do in Odoo; as Odoo's wizard
    invoices the order's lines together, nothing of the order is proposed until then."""
    proposed = {line.order_line_id: line for line in draft.lines}
    for expense in found.expenses:
        line = proposed.get(expense.line_id)
        if line is None:
            continue
        for conversion in expense.conversions:
            if not conversion.rate_found:
                draft.problems.append(_missing_rate(draft, found, expense, conversion, line))
            elif not conversion.at_odoo_rate:
                draft.problems.append(_rate_not_applied(draft, found, expense, conversion, line))
    held = [p for p in draft.problems if p.rule in EXPENSE_RATE_RULES]
    if held:
        draft.warnings.extend(f"{p.rule}: {p.message}" for p in held)
        draft.warnings.append(
            f"nothing of {found.order_name} is proposed: Odoo invoices the order's lines "
            "together, and an expense on it waits for its exchange rate"
        )
        draft.lines = []
        draft.timesheets_until = None


MISSING_RATE = "missing_exchange_rate"
RATE_NOT_APPLIED = "exchange_rate_not_applied"
EXPENSE_RATE_RULES = (MISSING_RATE, RATE_NOT_APPLIED)
_RECONVERT = (
    "have Odoo convert the expense again: set its currency again (or re-post it from the time "
    "tracker) and, if its report is posted, reset and re-post the report so the order line is "
    "re-invoiced at that rate. Then rerun the invoice run."
)


def _rate_not_applied(
    draft: ProposalDraft,
    found: OrderDeliverables,
    expense: ExpenseCost,
    conversion: CurrencyConversion,
    line: ProposalLine,
) -> BillingProblem:
    day = conversion.rate_date.isoformat()
    return BillingProblem(
        rule=RATE_NOT_APPLIED,
        severity="exception",
        message=f"expense {expense.name!r} on {found.order_name}: {conversion.text()}",
        value=f"{conversion.source_currency}->{conversion.currency} {day}",
        suggested_fix=f"If Odoo's {conversion.source_currency}->{conversion.currency} rate of "
        f"{day} is right, {_RECONVERT} If the amount set in Odoo is the one to bill, make "
        f"Odoo's rate of {day} agree with it.",
        source_keys=[expense.key, *line.source_keys],
        held_amount=draft.total,
    )


def _missing_rate(
    draft: ProposalDraft,
    found: OrderDeliverables,
    expense: ExpenseCost,
    conversion: CurrencyConversion,
    line: ProposalLine,
) -> BillingProblem:
    currency = conversion.missing_currency or conversion.source_currency
    day = conversion.rate_date.isoformat()
    return BillingProblem(
        rule=MISSING_RATE,
        severity="exception",
        message=f"expense {expense.name!r} on {found.order_name} "
        f"({expense.amount:.2f} {expense.currency}): Odoo has no {currency} rate on or before "
        f"{day}, so it converted {conversion.source_amount:.2f} {conversion.source_currency} "
        f"into {conversion.amount:.2f} {conversion.currency} at "
        f"{conversion.applied_rate.quantize(Decimal('0.000001')).normalize():f} without one",
        value=f"{currency} {day}",
        suggested_fix=f"Add the {currency} rate of {day} in Odoo (Accounting > Configuration > "
        f"Currencies > {currency} > Rates, for the company of {found.order_name}). Then "
        + _RECONVERT,
        source_keys=[expense.key, *line.source_keys],
        held_amount=draft.total,
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


def _apply_warnings(
    draft: ProposalDraft,
    proposal: BillingProposal,
    *,
    hours: dict[str, Decimal] | None = None,
    fixes: dict[str, str] | None = None,
) -> None:
    """The engine's problems on the draft: as warnings to read, and as problems with what they
    hold back (amount where the engine knows it, hours of held timesheets)."""
    held: dict[str, list[HeldBack]] = {}
    for item in proposal.held_back:
        held.setdefault(item.rule.value, []).append(item)
    for problem in proposal.problems:
        draft.warnings.append(f"{problem.rule.value}: {problem.message}")
        draft.problems.append(_problem(draft, problem, held, hours or {}, fixes or {}))


def _problem(
    draft: ProposalDraft,
    problem: Problem,
    held: dict[str, list[HeldBack]],
    hours: dict[str, Decimal],
    fixes: dict[str, str],
) -> BillingProblem:
    keys = set(problem.source_keys)
    items = [h for h in held.get(problem.rule.value, []) if h.key in keys]
    amounts = [h.amount for h in items if h.amount is not None]
    held_hours = [hours[key] for key in problem.source_keys if key in hours]
    return BillingProblem(
        rule=problem.rule.value,
        severity=problem.severity,
        message=problem.message,
        value=None if problem.value is None else str(problem.value),
        suggested_fix=fixes.get(problem.rule.value, problem.suggested_fix),
        source_keys=list(problem.source_keys),
        held_amount=round_money(sum(amounts, Decimal(0)), draft.currency) if amounts else None,
        held_hours=sum(held_hours, Decimal(0)) if held_hours else None,
    )


# --- timesheets: the engine picks, Odoo invoices up to a date ------------------------------------


def _timesheets(
    draft: ProposalDraft,
    plan: DeliveryPlan,
    found: OrderDeliverables,
    period: BillingPeriod,
    billed: set[str],
    taken: set[int],
) -> set[int]:
    """Lines invoiced from timesheets; the draft's ``timesheets_until`` for the wizard."""
    lines = {line.id: line for line in found.lines if line.method == "timesheet"}
    lines = {line_id: line for line_id, line in lines.items() if line_id not in taken}
    if not lines:
        return set()
    sheets = {t.key: t for t in found.timesheets if t.line_id in lines}
    # A line sold in Days (or any unit but the one time is logged in) bills the hours converted
    # and rounded as Odoo converts them; the cap is weighed in the same figures.
    units: dict[str, TimeConversion] = {}
    for sheet in sheets.values():
        conversion = sheet.conversion(lines[sheet.line_id or 0])
        if conversion is not None:
            units.setdefault(
                f"{lines[sheet.line_id or 0].name} (order line {sheet.line_id})", conversion
            )
    # Odoo invoices a timesheet once: one an invoice holds is billed, bound in Handoff or not.
    done = billed | {t.key for t in sheets.values() if t.invoice_id is not None}
    roles = {line_id: f"{line.name} (order line {line_id})" for line_id, line in lines.items()}
    cap = (
        plan.billing.not_to_exceed
        if plan.billing.billing_model is BillingModel.TIME_AND_MATERIALS
        else None
    )
    project = _project_billing(
        draft,
        BillingTerms(
            billing_model=BillingModel.TIME_AND_MATERIALS,
            currency=draft.currency,
            not_to_exceed=cap,
        ),
    ).model_copy(
        update={
            # The order line's price is the rate: it is what Odoo invoices the hours at.
            "rate_card": RateCard(
                name=found.order_name,
                rates=[
                    Rate(role=roles[line_id], currency=draft.currency, hourly=line.net_price)
                    for line_id, line in lines.items()
                    if line.net_price > 0
                ],
            ),
            "invoiced_to_date": max(_invoiced_untaxed(found.lines), Decimal(0)),
        }
    )
    entries = [
        TimeEntry(
            source="odoo",
            source_id=str(t.id),
            consultant=t.consultant,
            role=roles[t.line_id or 0],
            project_ref=draft.project,
            date=t.date,
            hours=t.hours,
            approval=ApprovalStatus.APPROVED,  # in Odoo = approved (Community has no approval)
            description=t.description,
        )
        for t in sheets.values()
    ]
    proposal = propose(project, entries, period=period, already_billed=done, units=units)
    held = [sheets[h.key] for h in proposal.held_back if h.key in sheets]
    until = period.end
    if held:
        until = min(t.date for t in held) - dt.timedelta(days=1)
    accepted = [sheets[key] for key in sorted(proposal.billed_keys) if key in sheets]
    waiting = [t for t in accepted if t.date > until]
    if waiting:
        draft.warnings.append(
            f"{len(waiting)} timesheets dated after {until} wait with the time held back "
            "(Odoo invoices timesheets up to a date)"
        )
    draft.timesheets_until = until
    fixes = {
        "missing_rate": f"Set the unit price of the order line on {found.order_name} in Odoo "
        "(its timesheets are invoiced at that price), then rerun the invoice run."
    }
    _apply_warnings(draft, proposal, hours={t.key: t.hours for t in sheets.values()}, fixes=fixes)
    if waiting:
        _hold_with_first_problem(draft, waiting, lines)
    billable = [t for t in accepted if t.date <= until]
    for line_id, line in lines.items():
        on_line = sorted((t for t in billable if t.line_id == line_id), key=_sheet_order)
        if not on_line:
            continue
        quantity = _line_quantity(line, on_line)
        draft.lines.append(
            ProposalLine(
                kind=LineKind.TIME.value,
                description=line.name,
                order_line_id=line_id,
                quantity=quantity,
                unit_price=line.net_price,
                amount=round_money(quantity * line.net_price, draft.currency),
                basis="odoo",
                unit=None if line.unit is None else line.unit.name,
                sources=[_sheet_source(t) for t in on_line],
            )
        )
    return set(lines)


def _line_quantity(line: OrderLine, sheets: Iterable[Timesheet]) -> Decimal:
    """The quantity Odoo invoices on ``line`` for ``sheets`` (invoicing up to a date: the
    timesheets' time summed per unit, converted into the line's unit and rounded as Odoo does)."""
    if line.unit is None:
        return sum((t.hours for t in sheets), Decimal(0))
    return timesheet_quantity([(t.unit, t.hours) for t in sheets], line.unit)


def _invoiced_untaxed(lines: Iterable[OrderLine]) -> Decimal:
    """What the order's invoices (and credit notes) bill, untaxed: counted against the cap."""
    return sum((line.invoiced * line.net_price for line in lines), Decimal(0))


def _hold_with_first_problem(
    draft: ProposalDraft, waiting: list[Timesheet], lines: dict[int, OrderLine]
) -> None:
    """Accepted time after the cut waits too; the problem that cut the date says so."""
    blocking = next((p for p in draft.problems if p.severity == "exception"), None)
    if blocking is None:
        return
    extra = sum(
        (_unrounded(t, lines[t.line_id or 0]) * lines[t.line_id or 0].net_price for t in waiting),
        Decimal(0),
    )
    index = draft.problems.index(blocking)
    draft.problems[index] = blocking.model_copy(
        update={
            "source_keys": [*blocking.source_keys, *(t.key for t in waiting)],
            "held_hours": (blocking.held_hours or Decimal(0))
            + sum((t.hours for t in waiting), Decimal(0)),
            "held_amount": None
            if blocking.held_amount is None
            else round_money(blocking.held_amount + extra, draft.currency),
        }
    )


def _unrounded(sheet: Timesheet, line: OrderLine) -> Decimal:
    conversion = sheet.conversion(line)
    return sheet.hours if conversion is None else conversion.unrounded(sheet.hours)


def _sheet_order(sheet: Timesheet) -> tuple[dt.date, int]:
    return sheet.date, sheet.id


def _sheet_source(sheet: Timesheet) -> SourceEntry:
    return SourceEntry(
        key=sheet.key,
        date=sheet.date,
        consultant=sheet.consultant,
        hours=sheet.hours,
        description=sheet.description,
    )


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
    claimed = {line.id}
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
        if overage:
            # An earlier attempt may have added this overage line to the order already (its
            # invoice then failed): it is this line, rewritten before invoicing, not another one
            # for Odoo to invoice on top of it.
            claimed |= {
                extra.id
                for extra in found.lines
                if extra.name == invoice_line.description and extra.id != line.id
            }
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
    return claimed
