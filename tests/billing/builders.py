"""Small builders for billing tests: a record with only what the test is about spelled out."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from handoff.canonical.delivery import (
    ApprovalStatus,
    BillingTerms,
    Expense,
    ProjectBilling,
    Rate,
    RateCard,
    TimeEntry,
)

D = Decimal
NOV = date(2026, 11, 1)


def day(n: int, month: int = 11) -> date:
    return date(2026, month, n)


def entry(source_id: str | int, hours: str | Decimal, **fields: Any) -> TimeEntry:
    values: dict[str, Any] = {
        "source": "psa",
        "source_id": str(source_id),
        "consultant": "alice",
        "project_ref": "P1",
        "date": NOV,
        "hours": D(hours),
        "approval": ApprovalStatus.APPROVED,
    }
    values.update(fields)
    return TimeEntry(**values)


def expense(
    source_id: str | int, amount: str | Decimal, currency: str = "EUR", **fields: Any
) -> Expense:
    values: dict[str, Any] = {
        "source": "psa",
        "source_id": str(source_id),
        "consultant": "alice",
        "project_ref": "P1",
        "date": NOV,
        "amount": D(amount),
        "currency": currency,
        "approval": ApprovalStatus.APPROVED,
    }
    values.update(fields)
    return Expense(**values)


def rates(*specs: tuple[str, str, str]) -> RateCard:
    """``rates(("consultant:alice", "EUR", "150"), ("role:senior", "EUR", "120"))``."""
    built = []
    for subject, currency, hourly in specs:
        kind, name = subject.split(":", 1)
        built.append(Rate(**{kind: name}, currency=currency, hourly=D(hourly)))
    return RateCard(rates=built)


def project(
    billing_model: str = "time_materials",
    currency: str = "EUR",
    rate_card: RateCard | None = None,
    **terms: Any,
) -> ProjectBilling:
    invoiced_to_date = terms.pop("invoiced_to_date", D(0))
    order_date = terms.pop("order_date", None)
    return ProjectBilling(
        project_ref="P1",
        contract_ref="C1",
        deal_ref="DEAL-1",
        order_date=order_date,
        invoiced_to_date=invoiced_to_date,
        terms=BillingTerms(billing_model=billing_model, currency=currency, **terms),
        rate_card=rate_card or rates(("consultant:alice", currency, "100")),
    )
