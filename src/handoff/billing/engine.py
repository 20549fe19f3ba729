"""The billing engine: from delivered work and contract terms to an invoice proposal.

Pure functions, no I/O. A flow gathers the project's terms, its entries, expenses and milestones,
the keys already billed and the exchange rates, calls ``propose`` and writes the result to Odoo.

Rules every contract type shares:

- Only approved, billable entries and expenses are ever invoiced, and never one whose source key is
  already billed (nor the same key twice in one run). Work dated after the period waits; earlier
  unbilled work is caught up.
- Each line lists the source keys it bills with their unrounded contributions; the line amount is
  their sum rounded once, half-up, to the contract currency's minor unit; the total is the sum of
  rounded lines.
- Anything that cannot be billed correctly (no rate, no exchange rate, over the cap, no price) is
  held back and named in a ``Problem``; nothing is silently billed at 0 nor silently dropped.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from handoff.billing.keys import fixed_fee_key, milestone_key, retainer_key
from handoff.billing.money import NO_RATES, FxRates, round_money
from handoff.billing.units import TimeConversion
from handoff.canonical.crm import BillingModel
from handoff.canonical.delivery import (
    BilledSource,
    Expense,
    ExpenseMode,
    InvoiceLine,
    InvoiceProposal,
    LineKind,
    Milestone,
    ProjectBilling,
    Rate,
    TimeEntry,
)
from handoff.canonical.errors import BusinessRuleError


class BillingPeriod(BaseModel):
    """The period an invoice run closes: work dated up to ``end`` is billable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> BillingPeriod:
        if self.end < self.start:
            raise ValueError(f"period ends ({self.end}) before it starts ({self.start})")
        return self

    @classmethod
    def month(cls, label: str) -> BillingPeriod:
        """``BillingPeriod.month("2026-11")``: the calendar month."""
        try:
            year, month = (int(part) for part in label.split("-"))
            last = calendar.monthrange(year, month)[1]
        except (ValueError, calendar.IllegalMonthError) as error:
            raise ValueError(f"period {label!r} is not YYYY-MM") from error
        return cls(start=date(year, month, 1), end=date(year, month, last))

    @property
    def label(self) -> str:
        """``YYYY-MM`` for a calendar month, else ``start..end``."""
        last_day = calendar.monthrange(self.start.year, self.start.month)[1]
        if self.start.day == 1 and self.end == self.start.replace(day=last_day):
            return f"{self.start:%Y-%m}"
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


class ProblemRule(StrEnum):
    MISSING_RATE = "missing_rate"
    MISSING_FX_RATE = "missing_fx_rate"
    CAP_REACHED = "cap_reached"
    MILESTONE_WITHOUT_PRICE = "milestone_without_price"
    RETAINER_OVERDRAWN = "retainer_overdrawn"
    RETAINER_INACTIVE = "retainer_inactive"
    RETAINER_PERIOD_CLOSED = "retainer_period_closed"


class Problem(BaseModel):
    """Something a person must see. ``exception`` problems hold work back; ``warning`` ones don't."""

    model_config = ConfigDict(extra="forbid")

    rule: ProblemRule
    severity: Literal["exception", "warning"] = "exception"
    message: str
    value: Any = None
    suggested_fix: str
    source_keys: list[str] = Field(default_factory=list)

    def to_error(self, *, project_ref: str | None = None) -> BusinessRuleError:
        """The classified error a flow records in the exception queue."""
        return BusinessRuleError(
            self.message,
            rule=self.rule.value,
            value=self.value,
            suggested_fix=self.suggested_fix,
            context={"project": project_ref, "source_keys": self.source_keys},
        )


class HeldBack(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    rule: ProblemRule
    amount: Decimal | None = Field(
        default=None, description="What it would have billed, when known."
    )


class RetainerDrawdown(BaseModel):
    model_config = ConfigDict(extra="forbid")

    period: str
    included_hours: Decimal
    used_hours: Decimal
    overage_hours: Decimal

    @property
    def remaining_hours(self) -> Decimal:
        return max(self.included_hours - self.used_hours, Decimal(0))

    @property
    def overdrawn(self) -> bool:
        return self.used_hours > self.included_hours


class BillingProposal(BaseModel):
    """What one run would invoice for one project, from which sources, and what it held back."""

    model_config = ConfigDict(extra="forbid")

    period: BillingPeriod
    invoice: InvoiceProposal
    problems: list[Problem] = Field(default_factory=list)
    held_back: list[HeldBack] = Field(default_factory=list)
    absorbed: list[str] = Field(
        default_factory=list,
        description="Approved keys the contract covers without billing them (fixed-fee time, "
        "expenses not re-billed): not unbilled work.",
    )
    retainer: RetainerDrawdown | None = None

    @property
    def total(self) -> Decimal:
        return self.invoice.total

    @property
    def billed_keys(self) -> set[str]:
        return set(self.invoice.source_keys)

    @property
    def is_empty(self) -> bool:
        return not self.invoice.lines


# --- internals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LineGroup:
    """Sources sharing a group become one invoice line."""

    kind: LineKind
    description: str
    unit_price: Decimal | None = None  # hourly lines; None: quantity 1 at the line amount
    consultant: str | None = None
    role: str | None = None
    category: str | None = None
    # Time priced per another unit (a Day): the line bills the hours converted as Odoo does.
    unit: TimeConversion | None = None

    def quantity(self, sources: Sequence[BilledSource]) -> Decimal:
        total = sum((s.quantity for s in sources), Decimal(0))
        return total if self.unit is None else self.unit.quantity(total)

    def amount(self, sources: Sequence[BilledSource], currency: str) -> Decimal:
        """The line's rounded amount: sum of contributions; for converted time, Odoo's quantity
        (the hours converted and rounded once, for the whole line) x the unit price."""
        if self.unit is not None and self.unit_price is not None:
            return round_money(self.quantity(sources) * self.unit_price, currency)
        return round_money(sum((s.amount for s in sources), Decimal(0)), currency)


@dataclass
class _Candidate:
    """An indivisible piece of a line: billed whole, or held back whole."""

    group: _LineGroup
    sources: list[BilledSource]
    order: tuple[date, str]
    capped: bool = True

    @property
    def amount(self) -> Decimal:
        return sum((s.amount for s in self.sources), Decimal(0))


@dataclass
class _Run:
    project: ProjectBilling
    period: BillingPeriod
    already_billed: frozenset[str]
    fx: FxRates
    units: Mapping[str, TimeConversion] = field(default_factory=dict)
    candidates: list[_Candidate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    held: list[HeldBack] = field(default_factory=list)
    absorbed: list[str] = field(default_factory=list)
    retainer: RetainerDrawdown | None = None

    @property
    def currency(self) -> str:
        return self.project.terms.currency

    def hold(self, keys: Iterable[str], rule: ProblemRule, amount: Decimal | None = None) -> None:
        self.held.extend(HeldBack(key=key, rule=rule, amount=amount) for key in keys)


def _latest(records: Iterable[TimeEntry | Expense]) -> dict[str, Any]:
    """One record per key: a source that delivered a record twice bills it once, as last updated."""
    chosen: dict[str, Any] = {}
    for record in records:
        known = chosen.get(record.key)
        if (
            known is None
            or known.updated_at is None
            or record.updated_at is None
            or record.updated_at >= known.updated_at
        ):
            chosen[record.key] = record
    return chosen


def _eligible(run: _Run, records: Iterable[TimeEntry | Expense]) -> list[Any]:
    """This project's approved, billable, unbilled records dated up to the period's end."""
    project = run.project
    eligible = [
        record
        for record in _latest(records).values()
        if (
            (record.project_ref is not None and record.project_ref == project.project_ref)
            or (
                record.project_ref is None
                and project.deal_ref is not None
                and record.deal_ref == project.deal_ref
            )
        )
        and record.billable_now
        and record.date <= run.period.end
        and record.key not in run.already_billed
    ]
    return sorted(eligible, key=lambda record: (record.date, record.key))


# --- time & materials -------------------------------------------------------------------------


def _hourly_rate(run: _Run, entry: TimeEntry) -> tuple[Rate, Decimal] | ProblemRule:
    """The consultant's rate, else the role's, in the contract currency (converted if need be)."""
    card, currency = run.project.rate_card, run.currency
    subjects = [{"consultant": entry.consultant}] + ([{"role": entry.role}] if entry.role else [])
    missing_fx = False
    for subject in subjects:
        same_currency = card.lookup(day=entry.date, currency=currency, **subject)
        if same_currency:
            return same_currency[0], same_currency[0].hourly
        for rate in card.lookup(day=entry.date, **subject):
            factor = run.fx.factor(rate.currency, currency)
            if factor is not None:
                # A converted rate is a price: rounded like one, so hours x price matches Odoo.
                return rate, round_money(rate.hourly * factor, currency)
            missing_fx = True
    return ProblemRule.MISSING_FX_RATE if missing_fx else ProblemRule.MISSING_RATE


def _time_and_materials(run: _Run, entries: Sequence[TimeEntry]) -> None:
    missing: dict[tuple[str, str | None, ProblemRule], list[str]] = {}
    for entry in entries:
        found = _hourly_rate(run, entry)
        if isinstance(found, ProblemRule):
            missing.setdefault((entry.consultant, entry.role, found), []).append(entry.key)
            continue
        rate, unit_price = found
        label = entry.role or "Consulting"
        unit = run.units.get(entry.role) if entry.role else None
        billed = entry.hours if unit is None else unit.unrounded(entry.hours)
        run.candidates.append(
            _Candidate(
                group=_LineGroup(
                    kind=LineKind.TIME,
                    description=f"{label}: {entry.consultant}",
                    unit_price=unit_price,
                    consultant=entry.consultant,
                    role=entry.role,
                    unit=unit,
                ),
                sources=[
                    BilledSource(
                        key=entry.key,
                        quantity=entry.hours,
                        amount=billed * unit_price,
                        source_amount=billed * rate.hourly,
                        source_currency=rate.currency,
                    )
                ],
                order=(entry.date, entry.key),
            )
        )
    for (consultant, role, rule), keys in missing.items():
        run.hold(keys, rule)
        who = f"consultant {consultant}" + (f" (role {role})" if role else " (no role)")
        if rule is ProblemRule.MISSING_RATE:
            message = (
                f"no {run.currency} rate on rate card {run.project.rate_card.name!r} for {who}"
            )
            fix = f"Add a rate for {consultant} or for role {role or '<their role>'} covering these dates, then rerun."
        else:
            message = f"the rate for {who} is in another currency and no exchange rate to {run.currency} was given"
            fix = f"Provide the exchange rate to {run.currency} (or a {run.currency} rate), then rerun."
        run.problems.append(
            Problem(
                rule=rule,
                message=f"{message}: {len(keys)} entries held back",
                value=consultant,
                suggested_fix=fix,
                source_keys=keys,
            )
        )


# --- fixed fee, milestones, retainer ----------------------------------------------------------


def _fixed_fee(run: _Run) -> None:
    terms = run.project.terms.fixed_fee
    assert terms is not None  # BillingTerms guarantees it for fixed-fee contracts
    contract, currency = run.project.contract_ref, run.currency
    if not terms.schedule:
        key = fixed_fee_key(contract, "on_order")
        ordered = run.project.order_date or run.period.start
        if key not in run.already_billed and ordered <= run.period.end:
            amount = round_money(terms.amount, currency)
            run.candidates.append(
                _Candidate(
                    group=_LineGroup(kind=LineKind.FIXED_FEE, description="Fixed fee"),
                    sources=[BilledSource(key=key, quantity=Decimal(1), amount=amount)],
                    order=(ordered, key),
                )
            )
        return
    # Instalments are differences of rounded cumulative amounts, so they always add up to the fee.
    cumulative, billed_so_far = Decimal(0), Decimal(0)
    for instalment in sorted(terms.schedule, key=lambda i: (i.due, i.label)):
        cumulative += instalment.percentage
        reached = round_money(terms.amount * cumulative / 100, currency)
        amount, billed_so_far = reached - billed_so_far, reached
        key = fixed_fee_key(contract, instalment.label)
        if key in run.already_billed or instalment.due > run.period.end:
            continue
        run.candidates.append(
            _Candidate(
                group=_LineGroup(
                    kind=LineKind.FIXED_FEE,
                    description=f"Fixed fee: {instalment.label} ({instalment.percentage.normalize():f}%)",
                ),
                sources=[BilledSource(key=key, quantity=Decimal(1), amount=amount)],
                order=(instalment.due, key),
            )
        )


def _milestones(run: _Run, reported: Sequence[Milestone]) -> None:
    terms, currency = run.project.terms, run.currency
    by_id: dict[str, Milestone] = {}
    for milestone in [*terms.milestones, *reported]:
        known = by_id.get(milestone.milestone_id)
        if known is None:
            by_id[milestone.milestone_id] = milestone
        else:
            # A report completes the contract's definition: reached wins, the contract's price
            # stays, and a price only the report knows fills the gap.
            update: dict[str, Any] = {}
            if milestone.reached and not known.reached:
                update |= {"reached": True, "reached_on": milestone.reached_on or known.reached_on}
            if known.amount is None and known.percentage is None:
                update |= {"amount": milestone.amount, "percentage": milestone.percentage}
            by_id[milestone.milestone_id] = known.model_copy(update=update)
    for milestone in by_id.values():
        key = milestone_key(run.project.contract_ref, milestone.milestone_id)
        reached_on = milestone.reached_on or run.period.end
        if not milestone.reached or key in run.already_billed or reached_on > run.period.end:
            continue
        if milestone.amount is not None:
            amount = round_money(milestone.amount, currency)
        elif milestone.percentage is not None and terms.contract_value is not None:
            amount = round_money(terms.contract_value * milestone.percentage / 100, currency)
        else:
            run.hold([key], ProblemRule.MILESTONE_WITHOUT_PRICE)
            run.problems.append(
                Problem(
                    rule=ProblemRule.MILESTONE_WITHOUT_PRICE,
                    message=f"milestone {milestone.name!r} is reached but has no amount"
                    + (
                        " and the contract has no contract_value"
                        if milestone.percentage is not None
                        else ""
                    ),
                    value=milestone.milestone_id,
                    suggested_fix="Give the milestone an amount (or the contract a value), then rerun.",
                    source_keys=[key],
                )
            )
            continue
        run.candidates.append(
            _Candidate(
                group=_LineGroup(
                    kind=LineKind.MILESTONE, description=f"Milestone: {milestone.name}"
                ),
                sources=[BilledSource(key=key, quantity=Decimal(1), amount=amount)],
                order=(reached_on, key),
            )
        )


def _retainer(run: _Run, entries: Sequence[TimeEntry]) -> None:
    terms = run.project.terms.retainer
    assert terms is not None  # BillingTerms guarantees it for retainer contracts
    period, currency = run.period, run.currency
    key = retainer_key(run.project.contract_ref, period.label)
    entry_keys = [entry.key for entry in entries]
    active = (terms.starts is None or terms.starts <= period.end) and (
        terms.ends is None or terms.ends >= period.start
    )
    if not active:
        if entry_keys:
            run.hold(entry_keys, ProblemRule.RETAINER_INACTIVE)
            run.problems.append(
                Problem(
                    rule=ProblemRule.RETAINER_INACTIVE,
                    message=f"{len(entry_keys)} approved entries fall in {period.label}, outside the "
                    f"retainer ({terms.starts} to {terms.ends})",
                    value=period.label,
                    suggested_fix="Extend the retainer or move the entries to another contract, then rerun.",
                    source_keys=entry_keys,
                )
            )
        return
    if key in run.already_billed:
        # The month is invoiced: late entries are drawn against the next month's hours.
        if entry_keys:
            run.hold(entry_keys, ProblemRule.RETAINER_PERIOD_CLOSED)
            run.problems.append(
                Problem(
                    rule=ProblemRule.RETAINER_PERIOD_CLOSED,
                    severity="warning",
                    message=f"{len(entry_keys)} entries were approved after {period.label} was invoiced; "
                    "they will be drawn against the next period",
                    value=period.label,
                    suggested_fix="Nothing to do unless they must count against this period.",
                    source_keys=entry_keys,
                )
            )
        return
    remaining = terms.included_hours
    fee_sources = [
        BilledSource(
            key=key, quantity=Decimal(1), amount=round_money(terms.monthly_amount, currency)
        )
    ]
    overage: list[_Candidate] = []
    used = Decimal(0)
    for entry in entries:
        used += entry.hours
        if entry.hours <= remaining:
            remaining -= entry.hours
            fee_sources.append(BilledSource(key=entry.key, quantity=entry.hours, amount=Decimal(0)))
            continue
        # An entry straddling the included hours is billed on the overage line for its excess only.
        excess, remaining = entry.hours - remaining, Decimal(0)
        overage.append(
            _Candidate(
                group=_LineGroup(
                    kind=LineKind.RETAINER_OVERAGE,
                    description=f"Retainer overage {period.label}",
                    unit_price=terms.overage_rate,
                ),
                sources=[
                    BilledSource(key=entry.key, quantity=excess, amount=excess * terms.overage_rate)
                ],
                order=(entry.date, entry.key),
            )
        )
    run.candidates.append(
        _Candidate(
            group=_LineGroup(kind=LineKind.RETAINER, description=f"Retainer {period.label}"),
            sources=fee_sources,
            order=(max(period.start, terms.starts or period.start), key),
        )
    )
    run.candidates.extend(overage)
    run.retainer = RetainerDrawdown(
        period=period.label,
        included_hours=terms.included_hours,
        used_hours=used,
        overage_hours=max(used - terms.included_hours, Decimal(0)),
    )
    if run.retainer.overdrawn:
        run.problems.append(
            Problem(
                rule=ProblemRule.RETAINER_OVERDRAWN,
                severity="warning",
                message=f"retainer {period.label} overdrawn: {used} h used of {terms.included_hours} h; "
                f"{run.retainer.overage_hours} h billed at {terms.overage_rate} {currency}",
                value=str(run.retainer.overage_hours),
                suggested_fix="Discuss a larger retainer with the client if this repeats.",
                source_keys=[c.sources[0].key for c in overage],
            )
        )


# --- expenses ---------------------------------------------------------------------------------


def _expenses(run: _Run, expenses: Sequence[Expense]) -> None:
    policy, currency = run.project.terms.expenses, run.currency
    missing_fx: dict[str, list[str]] = {}
    for expense in expenses:
        if expense.markup_percent is not None:
            markup = expense.markup_percent
        elif policy.mode is ExpenseMode.NOT_REBILLED:
            run.absorbed.append(expense.key)
            continue
        else:
            markup = policy.markup_percent if policy.mode is ExpenseMode.MARKUP else Decimal(0)
        factor = run.fx.factor(expense.currency, currency)
        if factor is None:
            missing_fx.setdefault(expense.currency, []).append(expense.key)
            continue
        description = f"Expenses: {expense.category}" + (
            f" (+{markup.normalize():f}%)" if markup else ""
        )
        run.candidates.append(
            _Candidate(
                group=_LineGroup(
                    kind=LineKind.EXPENSE, description=description, category=expense.category
                ),
                sources=[
                    BilledSource(
                        key=expense.key,
                        quantity=Decimal(1),
                        amount=expense.amount * factor * (100 + markup) / 100,
                        source_amount=expense.amount,
                        source_currency=expense.currency,
                    )
                ],
                order=(expense.date, expense.key),
                capped=run.project.terms.cap_includes_expenses,
            )
        )
    for source_currency, keys in missing_fx.items():
        run.hold(keys, ProblemRule.MISSING_FX_RATE)
        run.problems.append(
            Problem(
                rule=ProblemRule.MISSING_FX_RATE,
                message=f"{len(keys)} expenses in {source_currency} and no exchange rate to {currency}",
                value=source_currency,
                suggested_fix=f"Provide the {source_currency}->{currency} rate for the run, then rerun.",
                source_keys=keys,
            )
        )


# --- cap and assembly -------------------------------------------------------------------------


def _apply_cap(run: _Run) -> list[_Candidate]:
    """Bill in date order up to the not-to-exceed cap; hold back the rest, from the first misfit on."""
    cap = run.project.terms.not_to_exceed
    ordered = sorted(run.candidates, key=lambda c: c.order)
    if cap is None:
        return ordered
    room = cap - run.project.invoiced_to_date
    group_sources: dict[_LineGroup, list[BilledSource]] = {}
    capped_total = Decimal(0)  # sum of the capped lines as they would be rounded
    accepted: list[_Candidate] = []
    refused: list[_Candidate] = []
    for candidate in ordered:
        if not candidate.capped:
            accepted.append(candidate)
            continue
        if refused:
            refused.append(candidate)
            continue
        group = candidate.group
        before = group_sources.get(group, [])
        after = [*before, *candidate.sources]
        new_total = (
            capped_total
            - (group.amount(before, run.currency) if before else Decimal(0))
            + group.amount(after, run.currency)
        )
        if new_total <= room:
            group_sources[group], capped_total = after, new_total
            accepted.append(candidate)
        else:
            refused.append(candidate)
    if refused:
        keys = [s.key for c in refused for s in c.sources]
        for candidate in refused:
            run.hold([s.key for s in candidate.sources], ProblemRule.CAP_REACHED, candidate.amount)
        held_amount = round_money(sum((c.amount for c in refused), Decimal(0)), run.currency)
        run.problems.append(
            Problem(
                rule=ProblemRule.CAP_REACHED,
                message=f"not-to-exceed cap of {cap} {run.currency} reached: {held_amount} {run.currency} "
                f"({len(keys)} items) held back",
                value=str(cap),
                suggested_fix="Agree a change order raising the cap (then rerun), or write the held work off.",
                source_keys=keys,
            )
        )
    return accepted


_KIND_ORDER = list(LineKind)


def _lines(run: _Run, candidates: Sequence[_Candidate]) -> list[InvoiceLine]:
    grouped: dict[_LineGroup, list[BilledSource]] = {}
    for candidate in candidates:
        grouped.setdefault(candidate.group, []).extend(candidate.sources)
    lines = []
    for group, sources in grouped.items():
        amount = group.amount(sources, run.currency)
        if group.unit_price is not None:
            quantity, unit_price = group.quantity(sources), group.unit_price
        else:
            quantity, unit_price = Decimal(1), amount
        lines.append(
            InvoiceLine(
                kind=group.kind,
                description=group.description,
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
                consultant=group.consultant,
                role=group.role,
                category=group.category,
                sources=sources,
            )
        )
    return sorted(lines, key=lambda line: _KIND_ORDER.index(line.kind))


def propose(
    project: ProjectBilling,
    entries: Iterable[TimeEntry],
    expenses: Iterable[Expense] = (),
    milestones: Sequence[Milestone] = (),
    *,
    period: BillingPeriod,
    already_billed: Iterable[str] = frozenset(),
    fx: FxRates = NO_RATES,
    units: Mapping[str, TimeConversion] | None = None,
) -> BillingProposal:
    """The invoice proposal for ``project`` over ``period``.

    ``entries``/``expenses`` may include other projects' records and anything not yet approved:
    the engine picks. ``milestones`` reports the current state (e.g. Odoo ``is_reached``) and is
    merged by id with the contract's milestones. ``already_billed`` holds every source key an
    earlier invoice bills. ``fx`` converts foreign rates and expenses into the contract currency.
    ``units`` names, per role, the unit its rate is a price of when it is not the hour the
    entries are logged in (a rate per Day): the line then bills the hours converted and rounded
    as Odoo converts timesheets (``handoff.billing.units``), caps included.
    """
    run = _Run(
        project=project,
        period=period,
        already_billed=frozenset(already_billed),
        fx=fx,
        units=dict(units or {}),
    )
    eligible_time: list[TimeEntry] = _eligible(run, entries)
    model = project.terms.billing_model
    if model is BillingModel.TIME_AND_MATERIALS:
        _time_and_materials(run, eligible_time)
    elif model is BillingModel.RETAINER:
        _retainer(run, eligible_time)
    else:
        run.absorbed.extend(entry.key for entry in eligible_time)
        if model is BillingModel.FIXED_FEE:
            _fixed_fee(run)
        else:
            _milestones(run, milestones)
    _expenses(run, _eligible(run, expenses))
    accepted = _apply_cap(run)
    invoice = InvoiceProposal(
        project_ref=project.project_ref,
        contract_ref=project.contract_ref,
        customer_ref=project.customer_ref,
        sale_order_ref=project.sale_order_ref,
        currency=project.terms.currency,
        lines=_lines(run, accepted),
    )
    return BillingProposal(
        period=period,
        invoice=invoice,
        problems=run.problems,
        held_back=run.held,
        absorbed=run.absorbed,
        retainer=run.retainer,
    )


def billed_keys(proposals: Iterable[BillingProposal]) -> set[str]:
    """Every key the given proposals bill: feed it into the next run's ``already_billed``."""
    return {key for proposal in proposals for key in proposal.billed_keys}


__all__ = [
    "BillingPeriod",
    "BillingProposal",
    "HeldBack",
    "Problem",
    "ProblemRule",
    "RetainerDrawdown",
    "billed_keys",
    "propose",
]
