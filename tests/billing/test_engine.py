"""The billing engine per contract type, against hand-computed invoices."""

from __future__ import annotations

from datetime import date

from billing.builders import D, day, entry, expense, project, rates
from handoff.billing.engine import BillingPeriod, BillingProposal, ProblemRule, propose
from handoff.billing.money import FxRates
from handoff.canonical.delivery import (
    ApprovalStatus,
    ExpensePolicy,
    FixedFeeInstallment,
    FixedFeeTerms,
    LineKind,
    Milestone,
    Rate,
    RateCard,
    RetainerTerms,
)

NOVEMBER = BillingPeriod.month("2026-11")


def amounts(proposal: BillingProposal) -> list[tuple[str, str, str, list[str]]]:
    """(description, quantity, amount, keys) per line: the shape a person checks an invoice by."""
    return [
        (line.description, str(line.quantity), str(line.amount), line.source_keys)
        for line in proposal.invoice.lines
    ]


def rules(proposal: BillingProposal) -> list[ProblemRule]:
    return [problem.rule for problem in proposal.problems]


# --- time & materials -------------------------------------------------------------------------


def test_time_is_billed_at_the_consultants_rate_else_the_roles() -> None:
    card = rates(
        ("consultant:alice", "EUR", "150"),
        ("role:senior", "EUR", "120"),
        ("role:junior", "EUR", "80"),
    )
    work = [
        entry(1, "2", consultant="alice", role="senior"),  # alice's own rate wins over her role's
        entry(2, "3", consultant="bob", role="senior", date=day(2)),
        entry(3, "1.5", consultant="bob", role="senior", date=day(3)),
        entry(4, "4", consultant="carl", role="junior", date=day(4)),
    ]
    proposal = propose(project(rate_card=card), work, period=NOVEMBER)
    assert amounts(proposal) == [
        ("senior: alice", "2", "300.00", ["time:psa:1"]),
        ("senior: bob", "4.5", "540.00", ["time:psa:2", "time:psa:3"]),
        ("junior: carl", "4", "320.00", ["time:psa:4"]),
    ]
    assert proposal.total == D("1160.00")
    assert proposal.problems == []


def test_only_approved_billable_unbilled_work_of_this_project_up_to_the_period_end() -> None:
    work = [
        entry("ok", "1"),
        entry("draft", "1", approval=ApprovalStatus.DRAFT),
        entry("submitted", "1", approval=ApprovalStatus.SUBMITTED),
        entry("rejected", "1", approval=ApprovalStatus.REJECTED),
        entry("internal", "1", billable=False),
        entry("other-project", "1", project_ref="P2"),
        entry("december", "1", date=date(2026, 12, 1)),
        entry("billed", "1"),
        entry("october", "1", date=date(2026, 10, 20)),  # caught up
        entry("by-deal", "1", project_ref=None, deal_ref="DEAL-1"),
        entry("other-deal", "1", project_ref=None, deal_ref="DEAL-2"),
    ]
    proposal = propose(project(), work, period=NOVEMBER, already_billed={"time:psa:billed"})
    assert proposal.billed_keys == {"time:psa:ok", "time:psa:october", "time:psa:by-deal"}
    assert proposal.total == D("300.00")


def test_the_same_entry_delivered_twice_is_billed_once_as_last_updated() -> None:
    from datetime import UTC, datetime

    older = entry(1, "2", updated_at=datetime(2026, 11, 2, tzinfo=UTC))
    newer = entry(1, "3", updated_at=datetime(2026, 11, 3, tzinfo=UTC))
    proposal = propose(project(), [newer, older], period=NOVEMBER)
    assert amounts(proposal) == [("Consulting: alice", "3", "300.00", ["time:psa:1"])]


def test_a_missing_rate_holds_the_work_back_with_a_problem_not_a_zero_line() -> None:
    proposal = propose(
        project(), [entry(1, "2"), entry(2, "5", consultant="zoe", role="partner")], period=NOVEMBER
    )
    assert amounts(proposal) == [("Consulting: alice", "2", "200.00", ["time:psa:1"])]
    [problem] = proposal.problems
    assert problem.rule is ProblemRule.MISSING_RATE
    assert problem.source_keys == ["time:psa:2"]
    assert "zoe" in problem.message and "partner" in problem.suggested_fix
    assert [(h.key, h.rule) for h in proposal.held_back] == [
        ("time:psa:2", ProblemRule.MISSING_RATE)
    ]
    error = problem.to_error(project_ref="P1")
    assert error.rule == "missing_rate" and error.context["source_keys"] == ["time:psa:2"]


def test_rates_follow_their_effective_dates() -> None:
    card = RateCard(
        rates=[
            Rate(consultant="alice", currency="EUR", hourly=D(100), valid_to=date(2026, 11, 15)),
            Rate(consultant="alice", currency="EUR", hourly=D(110), valid_from=date(2026, 11, 16)),
        ]
    )
    work = [entry(1, "1", date=day(15)), entry(2, "1", date=day(16)), entry(3, "2", date=day(30))]
    proposal = propose(project(rate_card=card), work, period=NOVEMBER)
    assert [(str(line.unit_price), str(line.amount)) for line in proposal.invoice.lines] == [
        ("100", "100.00"),
        ("110", "330.00"),
    ]


def test_lines_are_rounded_once_and_totals_are_sums_of_rounded_lines() -> None:
    card = rates(("consultant:alice", "EUR", "10.0025"), ("consultant:bob", "EUR", "0.005"))
    work = [entry(1, "1"), entry(2, "1"), entry(3, "1", consultant="bob")]
    proposal = propose(project(rate_card=card), work, period=NOVEMBER)
    # alice: 10.0025 + 10.0025 = 20.005 -> 20.01 (rounding each entry would give 20.00).
    # bob: 0.005 -> 0.01. Total 20.02, not round(20.010) = 20.01.
    assert [str(line.amount) for line in proposal.invoice.lines] == ["20.01", "0.01"]
    assert proposal.total == D("20.02")


def test_zero_and_three_decimal_currencies() -> None:
    yen = propose(
        project(currency="JPY", rate_card=rates(("consultant:alice", "JPY", "1234.5"))),
        [entry(1, "1")],
        period=NOVEMBER,
    )
    assert str(yen.total) == "1235"
    dinar = propose(
        project(currency="KWD", rate_card=rates(("consultant:alice", "KWD", "1.0005"))),
        [entry(1, "1")],
        period=NOVEMBER,
    )
    assert str(dinar.total) == "1.001"


# --- not-to-exceed caps -----------------------------------------------------------------------


def test_work_exactly_at_the_cap_is_all_billed() -> None:
    work = [entry(1, "4", date=day(1)), entry(2, "6", date=day(2))]
    proposal = propose(project(not_to_exceed=D(1000)), work, period=NOVEMBER)
    assert proposal.total == D("1000.00")
    assert proposal.problems == [] and proposal.held_back == []


def test_work_across_the_cap_stops_at_the_first_misfit_and_raises_cap_reached() -> None:
    work = [entry(1, "4", date=day(1)), entry(2, "7", date=day(2)), entry(3, "1", date=day(3))]
    proposal = propose(project(not_to_exceed=D(1000)), work, period=NOVEMBER)
    assert amounts(proposal) == [("Consulting: alice", "4", "400.00", ["time:psa:1"])]
    [problem] = proposal.problems
    assert problem.rule is ProblemRule.CAP_REACHED
    # Later, smaller work does not jump the queue: it waits behind the held entry.
    assert problem.source_keys == ["time:psa:2", "time:psa:3"]
    assert "800.00 EUR" in problem.message
    assert [(h.key, h.amount) for h in proposal.held_back] == [
        ("time:psa:2", D(700)),
        ("time:psa:3", D(100)),
    ]


def test_the_cap_counts_what_was_invoiced_before_and_the_rounded_lines() -> None:
    at_cap = propose(
        project(not_to_exceed=D(1000), invoiced_to_date=D(900)), [entry(1, "1")], period=NOVEMBER
    )
    assert at_cap.total == D("100.00") and at_cap.problems == []
    over = propose(
        project(not_to_exceed=D(1000), invoiced_to_date=D("900.01")),
        [entry(1, "1")],
        period=NOVEMBER,
    )
    assert over.total == 0 and rules(over) == [ProblemRule.CAP_REACHED]
    # Two entries of 10.0025 make one line of 20.005, which rounds to 20.01: over a 20.00 cap.
    card = rates(("consultant:alice", "EUR", "10.0025"))
    rounded = propose(
        project(rate_card=card, not_to_exceed=D("20.00")),
        [entry(1, "1", date=day(1)), entry(2, "1", date=day(2))],
        period=NOVEMBER,
    )
    assert rounded.total == D("10.00") and rounded.held_back[0].key == "time:psa:2"


def test_held_work_is_billed_once_the_cap_is_raised() -> None:
    work = [entry(1, "4", date=day(1)), entry(2, "7", date=day(2))]
    first = propose(project(not_to_exceed=D(1000)), work, period=NOVEMBER)
    second = propose(
        project(not_to_exceed=D(1500), invoiced_to_date=first.total),
        work,
        period=NOVEMBER,
        already_billed=first.billed_keys,
    )
    assert second.billed_keys == {"time:psa:2"} and second.problems == []


def test_expenses_are_outside_the_cap_unless_the_contract_says_so() -> None:
    outside = propose(
        project(not_to_exceed=D(100)), [entry(1, "1")], [expense(1, "50")], period=NOVEMBER
    )
    assert outside.total == D("150.00") and outside.problems == []
    inside = propose(
        project(not_to_exceed=D(100), cap_includes_expenses=True),
        [entry(1, "1", date=day(1))],
        [expense(1, "50", date=day(2))],
        period=NOVEMBER,
    )
    assert inside.total == D("100.00") and inside.held_back[0].key == "expense:psa:1"


# --- currency ---------------------------------------------------------------------------------


def test_a_foreign_rate_is_converted_and_rounded_like_a_price() -> None:
    card = rates(("role:senior", "USD", "100"))
    fx = FxRates(base="EUR", rates={"USD": D("1.1")})  # 1 EUR = 1.1 USD
    proposal = propose(
        project(rate_card=card), [entry(1, "3", role="senior")], period=NOVEMBER, fx=fx
    )
    [line] = proposal.invoice.lines
    # 100 / 1.1 = 90.909.. -> 90.91 per hour; 3 h -> 272.73
    assert (str(line.unit_price), str(line.amount)) == ("90.91", "272.73")
    assert (line.sources[0].source_amount, line.sources[0].source_currency) == (D(300), "USD")


def test_a_rate_in_the_contract_currency_is_preferred_to_a_converted_one() -> None:
    card = rates(("consultant:alice", "USD", "200"), ("consultant:alice", "EUR", "150"))
    proposal = propose(
        project(rate_card=card),
        [entry(1, "1")],
        period=NOVEMBER,
        fx=FxRates(base="EUR", rates={"USD": D(2)}),
    )
    assert proposal.total == D("150.00")


def test_a_missing_exchange_rate_holds_back_time_and_expenses() -> None:
    card = rates(("consultant:alice", "USD", "100"))
    proposal = propose(
        project(rate_card=card),
        [entry(1, "1")],
        [expense(2, "10", currency="GBP")],
        period=NOVEMBER,
    )
    assert proposal.is_empty
    assert rules(proposal) == [ProblemRule.MISSING_FX_RATE, ProblemRule.MISSING_FX_RATE]
    assert {h.key for h in proposal.held_back} == {"time:psa:1", "expense:psa:2"}


def test_foreign_expenses_are_converted_into_the_contract_currency() -> None:
    fx = FxRates(base="USD", rates={"EUR": D("0.85"), "GBP": D("0.75"), "JPY": D("150")})
    proposal = propose(project(), [], [expense(1, "100", currency="GBP")], period=NOVEMBER, fx=fx)
    # 100 GBP x 0.85 / 0.75 = 113.3333.. -> 113.33
    assert amounts(proposal) == [("Expenses: other", "1", "113.33", ["expense:psa:1"])]
    yen = propose(
        project(currency="JPY"), [], [expense(1, "10.01", currency="USD")], period=NOVEMBER, fx=fx
    )
    assert str(yen.total) == "1502"  # 1501.5 -> 1502


# --- expenses ---------------------------------------------------------------------------------


def test_expenses_at_cost_with_markup_and_not_rebilled() -> None:
    costs = [
        expense(1, "123.45", category="travel"),
        expense(2, "10", category="travel"),
        expense(3, "20", category="meals"),
    ]
    at_cost = propose(project(), [], costs, period=NOVEMBER)
    assert amounts(at_cost) == [
        ("Expenses: travel", "1", "133.45", ["expense:psa:1", "expense:psa:2"]),
        ("Expenses: meals", "1", "20.00", ["expense:psa:3"]),
    ]
    marked_up = propose(
        project(expenses=ExpensePolicy(mode="markup", markup_percent=D(10))),
        [],
        costs[:1],
        period=NOVEMBER,
    )
    assert amounts(marked_up) == [
        ("Expenses: travel (+10%)", "1", "135.80", ["expense:psa:1"])
    ]  # 135.795
    absorbed = propose(
        project(expenses=ExpensePolicy(mode="not_rebilled")), [], costs, period=NOVEMBER
    )
    assert absorbed.is_empty and absorbed.absorbed == [
        "expense:psa:1",
        "expense:psa:2",
        "expense:psa:3",
    ]


def test_an_expense_can_carry_its_own_markup() -> None:
    proposal = propose(project(), [], [expense(1, "200", markup_percent=D("2.5"))], period=NOVEMBER)
    assert amounts(proposal) == [("Expenses: other (+2.5%)", "1", "205.00", ["expense:psa:1"])]


def test_unapproved_or_non_billable_expenses_are_never_billed() -> None:
    costs = [expense(1, "5", approval=ApprovalStatus.SUBMITTED), expense(2, "5", billable=False)]
    assert propose(project(), [], costs, period=NOVEMBER).is_empty


# --- fixed fee --------------------------------------------------------------------------------


def test_fixed_fee_on_order() -> None:
    fee = FixedFeeTerms(amount=D("12000"))
    ordered = propose(
        project("fixed_fee", fixed_fee=fee, order_date=day(10)), [entry(1, "8")], period=NOVEMBER
    )
    assert amounts(ordered) == [("Fixed fee", "1", "12000.00", ["fixed_fee:C1:on_order"])]
    assert ordered.absorbed == ["time:psa:1"]  # covered by the fee, not unbilled work
    later = propose(
        project("fixed_fee", fixed_fee=fee, order_date=date(2026, 12, 1)), [], period=NOVEMBER
    )
    assert later.is_empty
    again = propose(
        project("fixed_fee", fixed_fee=fee, order_date=day(10)),
        [],
        period=NOVEMBER,
        already_billed=ordered.billed_keys,
    )
    assert again.is_empty


def schedule(*parts: tuple[str, str, date]) -> list[FixedFeeInstallment]:
    return [
        FixedFeeInstallment(label=label, percentage=D(pct), due=due) for label, pct, due in parts
    ]


def test_fixed_fee_schedule_bills_what_is_due_by_the_period() -> None:
    fee = FixedFeeTerms(
        amount=D(1000),
        schedule=schedule(
            ("kickoff", "30", date(2026, 1, 15)),
            ("design", "30", date(2026, 3, 31)),
            ("go-live", "40", date(2026, 6, 1)),
        ),
    )
    contract = project("fixed_fee", fixed_fee=fee)
    february = propose(contract, [], period=BillingPeriod.month("2026-02"))
    assert amounts(february) == [
        ("Fixed fee: kickoff (30%)", "1", "300.00", ["fixed_fee:C1:kickoff"])
    ]
    march = propose(
        contract, [], period=BillingPeriod.month("2026-03"), already_billed=february.billed_keys
    )
    assert march.billed_keys == {"fixed_fee:C1:design"} and march.total == D("300.00")
    # A run skipped until June catches every instalment up, each once.
    june = propose(contract, [], period=BillingPeriod.month("2026-06"))
    assert [line.amount for line in june.invoice.lines] == [D(300), D(300), D(400)]
    # A mid-month period ending before a due date leaves that instalment for later.
    late_may = BillingPeriod(start=date(2026, 5, 15), end=date(2026, 5, 31))
    assert propose(
        contract,
        [],
        period=late_may,
        already_billed=march.billed_keys | february.billed_keys,
    ).is_empty


def test_fixed_fee_instalments_always_add_up_to_the_fee() -> None:
    fee = FixedFeeTerms(
        amount=D(1001),
        schedule=schedule(("a", "50", date(2026, 1, 1)), ("b", "50", date(2026, 2, 1))),
    )
    yen = propose(
        project("fixed_fee", currency="JPY", fixed_fee=fee),
        [],
        period=BillingPeriod.month("2026-02"),
    )
    assert [str(line.amount) for line in yen.invoice.lines] == [
        "501",
        "500",
    ]  # 500.5 -> 501, then 1001 - 501
    thirds = FixedFeeTerms(
        amount=D(100),
        schedule=schedule(
            ("a", "33.33", date(2026, 1, 1)),
            ("b", "33.33", date(2026, 1, 2)),
            ("c", "33.34", date(2026, 1, 3)),
        ),
    )
    proposal = propose(
        project("fixed_fee", fixed_fee=thirds), [], period=BillingPeriod.month("2026-01")
    )
    assert [str(line.amount) for line in proposal.invoice.lines] == ["33.33", "33.33", "33.34"]
    assert proposal.total == D(100)


# --- milestones -------------------------------------------------------------------------------


def test_reached_milestones_are_billed_once() -> None:
    contract = project(
        "milestone",
        contract_value=D(10000),
        milestones=[
            Milestone(milestone_id="m1", name="Discovery", amount=D("2500.005")),
            Milestone(milestone_id="m2", name="Build", percentage=D(50)),
            Milestone(milestone_id="m3", name="Launch", percentage=D("24.99")),
        ],
    )
    reached = [
        Milestone(milestone_id="m1", name="Discovery", reached=True, reached_on=day(5)),
        Milestone(
            milestone_id="m1", name="Discovery", reached=True, reached_on=day(6)
        ),  # reported twice
        Milestone(milestone_id="m2", name="Build", reached=True, reached_on=day(20)),
        Milestone(
            milestone_id="m3", name="Launch", reached=True, reached_on=date(2026, 12, 2)
        ),  # after the period
    ]
    first = propose(contract, [entry(1, "8")], milestones=reached, period=NOVEMBER)
    assert amounts(first) == [
        ("Milestone: Discovery", "1", "2500.01", ["milestone:C1:m1"]),
        ("Milestone: Build", "1", "5000.00", ["milestone:C1:m2"]),
    ]
    assert first.absorbed == ["time:psa:1"]
    december = propose(
        contract,
        [],
        milestones=reached,
        period=BillingPeriod.month("2026-12"),
        already_billed=first.billed_keys,
    )
    assert amounts(december) == [("Milestone: Launch", "1", "2499.00", ["milestone:C1:m3"])]


def test_a_milestone_without_a_price_is_a_problem() -> None:
    contract = project(
        "milestone",
        milestones=[Milestone(milestone_id="m1", name="Go", percentage=D(10), reached=True)],
    )
    proposal = propose(contract, [], period=NOVEMBER)
    assert proposal.is_empty and rules(proposal) == [ProblemRule.MILESTONE_WITHOUT_PRICE]
    assert proposal.held_back[0].key == "milestone:C1:m1"


def test_a_reported_milestone_brings_its_price_when_the_contract_has_none() -> None:
    contract = project("milestone", milestones=[Milestone(milestone_id="m1", name="Go")])
    reported = [Milestone(milestone_id="m1", name="Go", amount=D(750), reached=True)]
    assert amounts(propose(contract, [], milestones=reported, period=NOVEMBER)) == [
        ("Milestone: Go", "1", "750.00", ["milestone:C1:m1"])
    ]


def test_unreached_milestones_are_not_billed() -> None:
    contract = project(
        "milestone", milestones=[Milestone(milestone_id="m1", name="Go", amount=D(10))]
    )
    assert propose(contract, [], period=NOVEMBER).is_empty


# --- retainer ---------------------------------------------------------------------------------

RETAINER = RetainerTerms(
    monthly_amount=D(5000), included_hours=D(40), overage_rate=D(150), starts=date(2026, 1, 1)
)


def test_retainer_within_its_hours() -> None:
    proposal = propose(
        project("retainer", retainer=RETAINER),
        [entry(1, "30", date=day(3)), entry(2, "8", date=day(9))],
        period=NOVEMBER,
    )
    assert amounts(proposal) == [
        ("Retainer 2026-11", "1", "5000.00", ["retainer:C1:2026-11", "time:psa:1", "time:psa:2"])
    ]
    assert proposal.retainer is not None
    assert (
        proposal.retainer.used_hours,
        proposal.retainer.remaining_hours,
        proposal.retainer.overdrawn,
    ) == (D(38), D(2), False)
    assert proposal.problems == []


def test_retainer_overage_is_billed_at_the_overage_rate_and_flagged() -> None:
    work = [
        entry(1, "30", date=day(3)),
        entry(2, "8", date=day(9)),
        entry(3, "5", date=day(10)),
        entry(4, "0.5", date=day(11)),
    ]
    proposal = propose(project("retainer", retainer=RETAINER), work, period=NOVEMBER)
    # 30 + 8 fit; entry 3 straddles: 2 h included, 3 h over; entry 4 is all over. 3.5 h x 150 = 525.
    assert amounts(proposal) == [
        ("Retainer 2026-11", "1", "5000.00", ["retainer:C1:2026-11", "time:psa:1", "time:psa:2"]),
        ("Retainer overage 2026-11", "3.5", "525.00", ["time:psa:3", "time:psa:4"]),
    ]
    assert proposal.total == D("5525.00")
    assert proposal.retainer is not None and proposal.retainer.overdrawn
    assert proposal.retainer.overage_hours == D("3.5")
    [problem] = proposal.problems
    assert (problem.rule, problem.severity) == (ProblemRule.RETAINER_OVERDRAWN, "warning")


def test_retainer_entries_approved_after_the_month_was_invoiced_go_to_the_next_month() -> None:
    contract = project("retainer", retainer=RETAINER)
    november = propose(contract, [entry(1, "10", date=day(3))], period=NOVEMBER)
    late = [entry(1, "10", date=day(3)), entry(2, "6", date=day(28))]
    rerun = propose(contract, late, period=NOVEMBER, already_billed=november.billed_keys)
    assert rerun.is_empty and rules(rerun) == [ProblemRule.RETAINER_PERIOD_CLOSED]
    december = propose(
        contract, late, period=BillingPeriod.month("2026-12"), already_billed=november.billed_keys
    )
    assert amounts(december) == [
        ("Retainer 2026-12", "1", "5000.00", ["retainer:C1:2026-12", "time:psa:2"])
    ]


def test_no_retainer_fee_outside_its_dates() -> None:
    ended = RETAINER.model_copy(update={"ends": date(2026, 10, 31)})
    proposal = propose(project("retainer", retainer=ended), [entry(1, "1")], period=NOVEMBER)
    assert proposal.is_empty and rules(proposal) == [ProblemRule.RETAINER_INACTIVE]
    assert propose(project("retainer", retainer=ended), [], period=NOVEMBER).problems == []


def test_line_kinds_come_out_in_a_stable_order() -> None:
    proposal = propose(
        project("retainer", retainer=RETAINER), [entry(1, "41")], [expense(1, "1")], period=NOVEMBER
    )
    assert [line.kind for line in proposal.invoice.lines] == [
        LineKind.RETAINER,
        LineKind.RETAINER_OVERAGE,
        LineKind.EXPENSE,
    ]
