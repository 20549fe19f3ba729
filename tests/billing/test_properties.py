"""Properties of the engine over any sequence of runs (hypothesis).

Each example is a contract, a quarter of time entries and expenses arriving and getting approved
at different runs, and four runs (January, February, March, March again) where the keys billed by
run N are fed into run N+1, the way the invoice run keeps its bindings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.billing.engine import BillingPeriod, BillingProposal, propose
from handoff.billing.money import FxRates, round_money
from handoff.canonical.delivery import (
    ApprovalStatus,
    BillingTerms,
    Expense,
    ExpensePolicy,
    FixedFeeInstallment,
    FixedFeeTerms,
    LineKind,
    Milestone,
    ProjectBilling,
    Rate,
    RateCard,
    RetainerTerms,
    TimeEntry,
)

D = Decimal
RUNS = [BillingPeriod.month(m) for m in ("2026-01", "2026-02", "2026-03", "2026-03")]
FX = FxRates(base="EUR", rates={"USD": D("1.1"), "GBP": D("0.85")})
RATE_CARD = RateCard(
    rates=[
        Rate(consultant="ann", currency="EUR", hourly=D("120.5")),
        Rate(role="senior", currency="USD", hourly=D("99.99")),
        Rate(role="junior", currency="EUR", hourly=D("80.125")),
    ]
)
PEOPLE = {"ann": None, "ben": "senior", "cat": "junior"}
NEVER = 99


@dataclass(frozen=True)
class Arrival:
    """A record as the source shows it over time: visible from one run, approved from another."""

    record: TimeEntry | Expense
    visible_from: int
    approved_from: int

    def as_seen_in(self, run: int) -> TimeEntry | Expense | None:
        if run < self.visible_from:
            return None
        if run >= self.approved_from:
            return self.record
        status = (
            ApprovalStatus.SUBMITTED if self.approved_from != NEVER else ApprovalStatus.REJECTED
        )
        return self.record.model_copy(update={"approval": status})


days = st.integers(min_value=0, max_value=89).map(lambda n: date(2026, 1, 1) + timedelta(days=n))
runs = st.integers(min_value=0, max_value=3)
approvals = st.one_of(runs, st.just(NEVER))


@st.composite
def time_arrivals(draw: st.DrawFn, index: int) -> Arrival:
    consultant = draw(st.sampled_from(sorted(PEOPLE)))
    record = TimeEntry(
        source="psa",
        source_id=f"t{index}",
        consultant=consultant,
        role=PEOPLE[consultant],
        project_ref=draw(st.sampled_from(["P1", "P1", "P1", "P2"])),
        date=draw(days),
        hours=D(draw(st.integers(min_value=0, max_value=48))) / 4,
        billable=draw(st.sampled_from([True, True, True, False])),
        approval=ApprovalStatus.APPROVED,
    )
    return Arrival(record, draw(runs), draw(approvals))


@st.composite
def expense_arrivals(draw: st.DrawFn, index: int) -> Arrival:
    record = Expense(
        source="psa",
        source_id=f"e{index}",
        consultant="ann",
        project_ref="P1",
        date=draw(days),
        amount=D(draw(st.integers(min_value=0, max_value=50_000))) / 100,
        currency=draw(st.sampled_from(["EUR", "USD", "GBP"])),
        category=draw(st.sampled_from(["travel", "meals"])),
        billable=draw(st.booleans()),
        approval=ApprovalStatus.APPROVED,
        markup_percent=draw(st.one_of(st.none(), st.integers(0, 25).map(D))),
    )
    return Arrival(record, draw(runs), draw(approvals))


@st.composite
def contracts(draw: st.DrawFn) -> ProjectBilling:
    model = draw(st.sampled_from(["time_materials", "fixed_fee", "milestone", "retainer"]))
    terms: dict = {
        "billing_model": model,
        "currency": "EUR",
        "expenses": draw(
            st.sampled_from(
                [
                    ExpensePolicy(),
                    ExpensePolicy(mode="markup", markup_percent=D("12.5")),
                    ExpensePolicy(mode="not_rebilled"),
                ]
            )
        ),
        "not_to_exceed": draw(st.one_of(st.none(), st.integers(0, 20_000).map(D))),
        "cap_includes_expenses": draw(st.booleans()),
    }
    if model == "fixed_fee":
        terms["fixed_fee"] = FixedFeeTerms(
            amount=D("10000.01"),
            schedule=[
                FixedFeeInstallment(label="a", percentage=D("33.33"), due=date(2026, 1, 20)),
                FixedFeeInstallment(label="b", percentage=D("33.33"), due=date(2026, 2, 20)),
                FixedFeeInstallment(label="c", percentage=D("33.34"), due=date(2026, 3, 20)),
            ],
        )
    if model == "milestone":
        terms["contract_value"] = D(9000)
        terms["milestones"] = [
            Milestone(milestone_id="m1", name="One", amount=D("1000.005")),
            Milestone(milestone_id="m2", name="Two", percentage=D(40)),
        ]
    if model == "retainer":
        terms["retainer"] = RetainerTerms(
            monthly_amount=D(3000), included_hours=D(20), overage_rate=D("133.33")
        )
    return ProjectBilling(
        project_ref="P1", contract_ref="C1", terms=BillingTerms(**terms), rate_card=RATE_CARD
    )


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[ProjectBilling, list[Arrival], list[list[Milestone]]]:
    n_time = draw(st.integers(0, 40))
    n_expenses = draw(st.integers(0, 8))
    arrivals = [draw(time_arrivals(i)) for i in range(n_time)] + [
        draw(expense_arrivals(i)) for i in range(n_expenses)
    ]
    # Milestones reported reached at some run, possibly again (and again) at later runs.
    reached_from = {mid: draw(approvals) for mid in ("m1", "m2")}
    milestone_reports = [
        [
            Milestone(milestone_id=mid, name=mid, reached=True, reached_on=RUNS[run].start)
            for mid, start in reached_from.items()
            if run >= start
        ]
        for run in range(len(RUNS))
    ]
    return draw(contracts()), arrivals, milestone_reports


def check_arithmetic(
    proposal: BillingProposal, visible: dict[str, TimeEntry | Expense], policy: ExpensePolicy
) -> None:
    """Totals are sums of rounded lines; each line is the rounded sum of its sources' contributions."""
    currency = proposal.invoice.currency
    assert proposal.total == sum((line.amount for line in proposal.invoice.lines), D(0))
    for line in proposal.invoice.lines:
        assert line.amount == round_money(sum((s.amount for s in line.sources), D(0)), currency)
        for source in line.sources:
            record = visible.get(source.key)
            if line.kind in (LineKind.TIME, LineKind.RETAINER_OVERAGE):
                assert isinstance(record, TimeEntry)
                assert source.amount == source.quantity * line.unit_price
                assert source.quantity <= record.hours
                if line.kind is LineKind.TIME:
                    assert source.quantity == record.hours
            elif line.kind is LineKind.EXPENSE:
                assert isinstance(record, Expense)
                factor = FX.factor(record.currency, currency)
                assert factor is not None
                assert (
                    source.amount == record.amount * factor * (100 + markup(record, policy)) / 100
                )


def markup(record: Expense, policy: ExpensePolicy) -> Decimal:
    if record.markup_percent is not None:
        return record.markup_percent
    return policy.markup_percent if policy.mode == "markup" else D(0)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_key_billed_twice_and_only_approved_billable_work(
    scenario: tuple[ProjectBilling, list[Arrival], list[list[Milestone]]],
) -> None:
    contract, arrivals, milestone_reports = scenario
    already_billed: set[str] = set()
    invoiced = D(0)
    for run, period in enumerate(RUNS):
        visible = {
            seen.key: seen for arrival in arrivals if (seen := arrival.as_seen_in(run)) is not None
        }
        times = [r for r in visible.values() if isinstance(r, TimeEntry)]
        expenses = [r for r in visible.values() if isinstance(r, Expense)]
        project = contract.model_copy(update={"invoiced_to_date": invoiced})
        proposal = propose(
            project,
            times,
            expenses,
            milestone_reports[run],
            period=period,
            already_billed=already_billed,
            fx=FX,
        )
        keys = proposal.invoice.source_keys
        assert len(keys) == len(set(keys)), "a key billed twice within one invoice"
        assert not set(keys) & already_billed, "a key billed again by a later run"
        for key in keys:
            if key in visible:
                record = visible[key]
                assert record.billable_now, (
                    f"{key} billed while {record.approval}, billable={record.billable}"
                )
                assert record.project_ref == "P1" and record.date <= period.end
        check_arithmetic(proposal, visible, contract.terms.expenses)
        capped = sum(
            (
                line.amount
                for line in proposal.invoice.lines
                if line.kind is not LineKind.EXPENSE or contract.terms.cap_includes_expenses
            ),
            D(0),
        )
        invoiced += capped
        if contract.terms.not_to_exceed is not None:
            assert invoiced <= contract.terms.not_to_exceed
        already_billed |= set(keys)

    # Nothing is lost: with no cap, every approved billable T&M entry of the project ends up billed.
    if contract.terms.billing_model == "time_materials" and contract.terms.not_to_exceed is None:
        final = {arrival.record.key for arrival in arrivals if arrival.approved_from <= 3}
        expected = {
            arrival.record.key
            for arrival in arrivals
            if isinstance(arrival.record, TimeEntry)
            and arrival.record.key in final
            and arrival.record.billable
            and arrival.record.project_ref == "P1"
        }
        assert expected <= already_billed
