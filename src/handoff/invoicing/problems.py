"""The engine's problems of an invoice run as records in the exception queue.

Per deal and rule (flow ``billing_run``, record = the deal key): one open exception while a run
finds the problem (a later run updates it, never duplicates it: ``ExceptionQueue.raise_for`` keeps
one open exception per flow, record and rule), resolved by the first run that no longer finds it.
Only problems of severity ``exception`` are recorded; warnings stay on the proposal.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select

from handoff.canonical.errors import BusinessRuleError
from handoff.engine.runtime import Hub
from handoff.store.models import ExceptionRecord, ExceptionStatus

from .proposals import BillingProblem, ProposalDraft

FLOW = "billing_run"
RESOLVER = "billing_run"


def record_problems(hub: Hub, drafts: Sequence[ProposalDraft], period: str) -> dict[str, list[int]]:
    """Raise or refresh an exception per (deal, rule) the drafts report; resolve the deal's open
    ones no draft reports any more. Returns the open exception ids per deal."""
    raised: dict[str, list[int]] = {}
    for draft in drafts:
        by_rule: dict[str, list[BillingProblem]] = {}
        for problem in draft.problems:
            if problem.severity == "exception":
                by_rule.setdefault(problem.rule, []).append(problem)
        for rule, problems in by_rule.items():
            error = _error(draft, rule, problems, period)
            raised.setdefault(draft.deal_key, []).append(
                hub.exceptions.raise_for(error, flow=FLOW, record=draft.deal_key)
            )
        _resolve_others(hub, draft.deal_key, set(by_rule), period)
    return raised


def _error(
    draft: ProposalDraft, rule: str, problems: list[BillingProblem], period: str
) -> BusinessRuleError:
    keys = [key for problem in problems for key in problem.source_keys]
    amounts = [p.held_amount for p in problems if p.held_amount is not None]
    hours = [p.held_hours for p in problems if p.held_hours is not None]
    held_amount = sum(amounts, Decimal(0)) if amounts else None
    held_hours = sum(hours, Decimal(0)) if hours else None
    message = "; ".join(dict.fromkeys(p.message for p in problems))
    values = list(dict.fromkeys(p.value for p in problems if p.value is not None))
    return BusinessRuleError(
        f"{draft.order_name} ({period}): {message}",
        rule=rule,
        value=", ".join(values) if values else None,
        suggested_fix=" ".join(dict.fromkeys(p.suggested_fix for p in problems)),
        context={
            "project": draft.project,
            "order": draft.order_name,
            "order_id": draft.order_id,
            "period": period,
            "currency": draft.currency,
            "held_back_amount": None if held_amount is None else str(held_amount),
            "held_back_hours": None if held_hours is None else str(held_hours),
            "held_back_keys": keys,
            "proposed_total": str(draft.total),
        },
    )


def _resolve_others(hub: Hub, deal_key: str, current: set[str], period: str) -> None:
    query = select(ExceptionRecord.id, ExceptionRecord.rule).where(
        ExceptionRecord.flow == FLOW,
        ExceptionRecord.record == deal_key,
        ExceptionRecord.status.in_([ExceptionStatus.OPEN, ExceptionStatus.RETRYING]),
    )
    with hub.store.session() as session:
        gone = [row.id for row in session.execute(query) if row.rule not in current]
    for exception_id in gone:
        hub.exceptions.set_status(
            exception_id,
            ExceptionStatus.RESOLVED,
            by=RESOLVER,
            resolution=f"the invoice run for {period} no longer finds the problem",
        )
