"""Entries and expenses that change after they were pushed or invoiced.

The flow keeps, per source key it pushed to Odoo, a ``BilledSnapshot``: the record as it was
pushed, and the invoice (line) that bills it once there is one. ``reconcile_changes`` compares
the sources' current records with those snapshots and says, per changed record, what to do:

- not invoiced yet: ``adjust`` the pushed timesheet/expense, or ``withdraw`` it when the record
  is no longer approved and billable;
- invoiced: ``credit_note`` when the money changed (an exception naming the invoice, with the
  amount to credit when it can be computed), ``annotate`` when only wording changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from handoff.billing.engine import BillingProposal
from handoff.billing.money import round_money
from handoff.canonical.delivery import (
    ApprovalStatus,
    CreditNote,
    CreditNoteLine,
    Expense,
    TimeEntry,
)
from handoff.canonical.errors import BusinessRuleError

# Fields whose change alters what the client owes (hours, price, who, when, for whom, whether).
MONEY_FIELDS = frozenset(
    {
        "hours",
        "amount",
        "currency",
        "markup_percent",
        "consultant",
        "role",
        "date",
        "project_ref",
        "deal_ref",
        "billable",
        "approval",
    }
)
# Bookkeeping, not content: a new revision with the same content is no change.
_IGNORED_FIELDS = frozenset({"source", "source_id", "revision", "updated_at"})


class BilledSnapshot(BaseModel):
    """A record as it was pushed to Odoo and, once invoiced, the invoice that bills it."""

    model_config = ConfigDict(extra="forbid")

    record: TimeEntry | Expense
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="The invoice (contract) currency.")
    amount: Decimal | None = Field(
        default=None, description="Its billed contribution, unrounded, if known."
    )
    invoice_ref: str | None = Field(
        default=None, description="None while pushed but not yet invoiced."
    )
    invoice_line_ref: str | None = None

    @property
    def key(self) -> str:
        return self.record.key


class CorrectionAction(StrEnum):
    ADJUST = "adjust"
    WITHDRAW = "withdraw"
    CREDIT_NOTE = "credit_note"
    ANNOTATE = "annotate"


class Correction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str
    action: CorrectionAction
    reason: str = Field(description="edited | rejected | unapproved | not_billable")
    changes: dict[str, tuple[Any, Any]] = Field(description="field -> (as billed, now)")
    invoice_ref: str | None = None
    invoice_line_ref: str | None = None
    amount_delta: Decimal | None = Field(
        default=None,
        description="Change of the billed amount (negative: to credit), invoice currency, "
        "unrounded; None when the record must be re-rated to know it.",
    )
    message: str

    def to_error(self) -> BusinessRuleError:
        """The exception a flow records for an invoiced record that changed."""
        delta = "an amount to re-rate" if self.amount_delta is None else f"{self.amount_delta}"
        return BusinessRuleError(
            self.message,
            rule="invoiced_entry_changed",
            value=self.key,
            suggested_fix=f"Credit invoice {self.invoice_ref} ({delta}) and rebill the corrected "
            "record, or accept the difference and close this exception.",
            context={
                "invoice": self.invoice_ref,
                "invoice_line": self.invoice_line_ref,
                "changes": {
                    field: [str(old), str(new)] for field, (old, new) in self.changes.items()
                },
            },
        )


def _reason(record: TimeEntry | Expense) -> str:
    if record.approval is ApprovalStatus.REJECTED:
        return "rejected"
    if record.approval is not ApprovalStatus.APPROVED:
        return "unapproved"
    if not record.billable:
        return "not_billable"
    return "edited"


def _measure(record: TimeEntry | Expense) -> Decimal:
    """The quantity an amount is proportional to: a time entry's hours, an expense's amount."""
    return record.hours if isinstance(record, TimeEntry) else record.amount


def _amount_delta(
    snapshot: BilledSnapshot, current: TimeEntry | Expense, money_changes: set[str]
) -> Decimal | None:
    """What the billed amount becomes, when the change is a pure quantity change."""
    billed = snapshot.amount
    if billed is None:
        return None
    if not current.billable_now:
        return -billed
    if not money_changes:
        return Decimal(0)
    measure = "hours" if isinstance(current, TimeEntry) else "amount"
    if money_changes != {measure}:
        return None  # a different rate, currency, person or date: only a re-rating knows
    old, new = _measure(snapshot.record), _measure(current)
    if old == 0:
        return None
    return billed * new / old - billed


def reconcile_changes(
    billed: Mapping[str, BilledSnapshot], current: Iterable[TimeEntry | Expense]
) -> list[Correction]:
    """One correction per current record that differs from what was pushed or invoiced.

    Records not in ``billed`` were never pushed (the next run will simply pick them up); billed
    keys absent from ``current`` are not judged (a deleted source record arrives as ``rejected``).
    """
    corrections = []
    for record in current:
        snapshot = billed.get(record.key)
        if snapshot is None:
            continue
        before, now = snapshot.record.model_dump(), record.model_dump()
        changes = {
            name: (before[name], now[name])
            for name in now
            if name not in _IGNORED_FIELDS and before.get(name) != now[name]
        }
        if not changes:
            continue
        money_changes = set(changes) & MONEY_FIELDS
        withdrawn = not record.billable_now
        invoiced = snapshot.invoice_ref is not None
        delta = _amount_delta(snapshot, record, money_changes)
        if not invoiced:
            action = CorrectionAction.WITHDRAW if withdrawn else CorrectionAction.ADJUST
        elif (withdrawn or money_changes) and delta != 0:
            action = CorrectionAction.CREDIT_NOTE
        else:
            # Wording only, or hours drawn from a retainer without changing what it billed.
            action = CorrectionAction.ANNOTATE
        reason = _reason(record)
        what = ", ".join(f"{name} {old!s} -> {new!s}" for name, (old, new) in changes.items())
        where = f"invoice {snapshot.invoice_ref}" if invoiced else "not invoiced yet"
        corrections.append(
            Correction(
                key=record.key,
                action=action,
                reason=reason,
                changes=changes,
                invoice_ref=snapshot.invoice_ref,
                invoice_line_ref=snapshot.invoice_line_ref,
                amount_delta=delta,
                message=f"{record.key} {reason} after it was pushed ({where}): {what}",
            )
        )
    return corrections


def credit_notes(
    corrections: Iterable[Correction], billed: Mapping[str, BilledSnapshot]
) -> list[CreditNote]:
    """Credit notes for the invoiced records whose billed amount went down by a known amount.

    One per invoice, one line per record, each rounded once. Increases and amounts that need a
    re-rating are not credited here: they stay exceptions for a person.
    """
    by_invoice: dict[str, list[CreditNoteLine]] = {}
    currencies: dict[str, str] = {}
    for correction in corrections:
        if (
            correction.action is not CorrectionAction.CREDIT_NOTE
            or correction.invoice_ref is None
            or correction.amount_delta is None
            or correction.amount_delta >= 0
        ):
            continue
        currency = billed[correction.key].currency
        currencies[correction.invoice_ref] = currency
        by_invoice.setdefault(correction.invoice_ref, []).append(
            CreditNoteLine(
                source_key=correction.key,
                description=f"Correction of {correction.key} ({correction.reason})",
                amount=round_money(-correction.amount_delta, currency),
            )
        )
    return [
        CreditNote(
            invoice_ref=invoice,
            currency=currencies[invoice],
            reason="Delivery records changed after invoicing",
            lines=lines,
        )
        for invoice, lines in by_invoice.items()
    ]


def snapshots(
    proposal: BillingProposal,
    records: Iterable[TimeEntry | Expense],
    *,
    invoice_ref: str | None = None,
    line_refs: Mapping[int, str] | None = None,
) -> dict[str, BilledSnapshot]:
    """The snapshots to keep for the time entries and expenses a proposal bills.

    ``line_refs`` maps a line's index in ``proposal.invoice.lines`` to its Odoo invoice line id.
    """
    by_key = {record.key: record for record in records}
    kept: dict[str, BilledSnapshot] = {}
    for index, line in enumerate(proposal.invoice.lines):
        for source in line.sources:
            record = by_key.get(source.key)
            if record is None:
                continue  # fees, milestones and retainer months have no source record
            kept[source.key] = BilledSnapshot(
                record=record,
                currency=proposal.invoice.currency,
                amount=source.amount,
                invoice_ref=invoice_ref,
                invoice_line_ref=(line_refs or {}).get(index),
            )
    return kept


__all__ = [
    "MONEY_FIELDS",
    "BilledSnapshot",
    "Correction",
    "CorrectionAction",
    "credit_notes",
    "reconcile_changes",
    "snapshots",
]
