"""Source keys of the things a contract bills besides time and expenses.

Time entries and expenses carry their own (``TimeEntry.key``: ``time:<source>:<id>``,
``Expense.key``: ``expense:<source>:<id>``). Fees and milestones are keyed by the contract, so an
instalment, a milestone or a retainer month is billed at most once, like an entry.
"""

from __future__ import annotations


def fixed_fee_key(contract_ref: str, instalment: str) -> str:
    """``fixed_fee:<contract>:<instalment label>``; the whole fee on order is ``on_order``."""
    return f"fixed_fee:{contract_ref}:{instalment}"


def milestone_key(contract_ref: str, milestone_id: str) -> str:
    return f"milestone:{contract_ref}:{milestone_id}"


def retainer_key(contract_ref: str, period_label: str) -> str:
    """``retainer:<contract>:<YYYY-MM>``: one monthly fee per contract and month."""
    return f"retainer:{contract_ref}:{period_label}"
