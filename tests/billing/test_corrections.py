"""Entries edited or rejected after they were pushed or invoiced."""

from __future__ import annotations

from decimal import Decimal

from billing.builders import D, day, entry, expense, project, rates
from handoff.billing.corrections import (
    BilledSnapshot,
    CorrectionAction,
    credit_notes,
    reconcile_changes,
    snapshots,
)
from handoff.billing.engine import BillingPeriod, propose
from handoff.canonical.delivery import ApprovalStatus, Expense, TimeEntry

NOVEMBER = BillingPeriod.month("2026-11")


def snap(record: TimeEntry | Expense, amount: str, invoice: str | None = None) -> BilledSnapshot:
    return BilledSnapshot(
        record=record,
        currency="EUR",
        amount=Decimal(amount),
        invoice_ref=invoice,
        invoice_line_ref="L1" if invoice else None,
    )


def test_unchanged_or_never_pushed_records_need_nothing() -> None:
    pushed = entry(1, "8")
    billed = {pushed.key: snap(pushed, "800")}
    assert reconcile_changes(billed, [pushed, entry(2, "3")]) == []
    # A new revision with the same content is no change.
    assert reconcile_changes(billed, [pushed.model_copy(update={"revision": "r2"})]) == []


def test_edited_before_invoicing_is_adjusted() -> None:
    pushed = entry(1, "8")
    [correction] = reconcile_changes({pushed.key: snap(pushed, "800")}, [entry(1, "6")])
    assert correction.action is CorrectionAction.ADJUST
    assert correction.reason == "edited"
    assert correction.changes == {"hours": (D(8), D(6))}
    assert correction.amount_delta == D(-200)
    assert correction.invoice_ref is None


def test_rejected_before_invoicing_is_withdrawn() -> None:
    pushed = entry(1, "8")
    [correction] = reconcile_changes(
        {pushed.key: snap(pushed, "800")}, [entry(1, "8", approval=ApprovalStatus.REJECTED)]
    )
    assert (correction.action, correction.reason, correction.amount_delta) == (
        CorrectionAction.WITHDRAW,
        "rejected",
        D(-800),
    )


def test_rejected_after_invoicing_needs_a_credit_note_naming_the_invoice() -> None:
    pushed = entry(1, "8")
    billed = {pushed.key: snap(pushed, "800", invoice="INV/2026/00042")}
    [correction] = reconcile_changes(billed, [entry(1, "8", approval=ApprovalStatus.REJECTED)])
    assert correction.action is CorrectionAction.CREDIT_NOTE
    assert (correction.invoice_ref, correction.invoice_line_ref) == ("INV/2026/00042", "L1")
    assert "INV/2026/00042" in correction.message
    error = correction.to_error()
    assert error.rule == "invoiced_entry_changed" and error.value == "time:psa:1"
    assert error.context["invoice"] == "INV/2026/00042" and "INV/2026/00042" in (
        error.suggested_fix or ""
    )
    [note] = credit_notes([correction], billed)
    assert (note.invoice_ref, note.currency, note.total) == ("INV/2026/00042", "EUR", D("800.00"))


def test_fewer_hours_after_invoicing_credit_the_difference() -> None:
    pushed = entry(1, "3")
    billed = {pushed.key: snap(pushed, "100.005", invoice="INV1")}  # 3 h at 33.335
    [correction] = reconcile_changes(billed, [entry(1, "2")])
    assert correction.action is CorrectionAction.CREDIT_NOTE
    assert correction.amount_delta == D("-33.335")
    [note] = credit_notes([correction], billed)
    assert note.lines[0].amount == D("33.34")  # rounded once, half-up


def test_more_hours_or_a_new_rate_after_invoicing_stay_exceptions_without_a_credit_note() -> None:
    more = entry(1, "3")
    other = entry(2, "3")
    billed = {more.key: snap(more, "300", "INV1"), other.key: snap(other, "300", "INV1")}
    corrections = reconcile_changes(billed, [entry(1, "4"), entry(2, "3", consultant="bob")])
    assert [(c.key, c.action, c.amount_delta) for c in corrections] == [
        ("time:psa:1", CorrectionAction.CREDIT_NOTE, D(100)),
        ("time:psa:2", CorrectionAction.CREDIT_NOTE, None),  # someone else's rate: re-rate it
    ]
    assert credit_notes(corrections, billed) == []


def test_wording_changes_after_invoicing_are_annotated_only() -> None:
    pushed = entry(1, "3", description="Workshop")
    [correction] = reconcile_changes(
        {pushed.key: snap(pushed, "300", "INV1")}, [entry(1, "3", description="Workshop day 1")]
    )
    assert correction.action is CorrectionAction.ANNOTATE
    assert correction.changes == {"description": ("Workshop", "Workshop day 1")}


def test_expense_amount_changes_are_proportional_to_the_billed_amount() -> None:
    pushed = expense(1, "100")
    billed = {pushed.key: snap(pushed, "110", invoice="INV1")}  # 10 % markup when billed
    [correction] = reconcile_changes(billed, [expense(1, "50")])
    assert correction.amount_delta == D(-55)


def test_snapshots_from_a_proposal_let_a_rejection_credit_exactly_what_was_billed() -> None:
    work = [
        entry(1, "2", date=day(1)),
        entry(2, "1.5", date=day(2), consultant="bob"),
        expense(3, "40"),
    ]
    contract = project(
        rate_card=rates(("consultant:alice", "EUR", "150"), ("consultant:bob", "EUR", "99.99"))
    )
    proposal = propose(contract, work[:2], [work[2]], period=NOVEMBER)
    kept = snapshots(
        proposal, work, invoice_ref="INV7", line_refs={0: "line-a", 1: "line-b", 2: "line-c"}
    )
    assert set(kept) == proposal.billed_keys
    assert kept["time:psa:2"].invoice_line_ref == "line-b"
    rejected = [record.model_copy(update={"approval": ApprovalStatus.REJECTED}) for record in work]
    corrections = reconcile_changes(kept, rejected)
    assert {c.action for c in corrections} == {CorrectionAction.CREDIT_NOTE}
    [note] = credit_notes(corrections, kept)
    # 300.00 + 149.985 -> 149.99 + 40.00: each line credited as it was rounded on the invoice.
    assert note.total == proposal.total == D("489.99")


def test_a_retainer_entry_rejected_after_invoicing_changes_no_money() -> None:
    from handoff.canonical.delivery import RetainerTerms

    contract = project(
        "retainer",
        retainer=RetainerTerms(monthly_amount=D(1000), included_hours=D(10), overage_rate=D(100)),
    )
    work = [entry(1, "4")]
    proposal = propose(contract, work, period=NOVEMBER)
    kept = snapshots(proposal, work, invoice_ref="INV9")
    [correction] = reconcile_changes(kept, [entry(1, "4", approval=ApprovalStatus.REJECTED)])
    assert (correction.action, correction.amount_delta) == (CorrectionAction.ANNOTATE, D(0))
