"""One problem with a won deal, and the single exception that lists all of a deal's problems."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict

from handoff.canonical.crm import Deal
from handoff.canonical.errors import BusinessRuleError

DEAL_VALIDATION_RULE = "deal_validation"
DEAL_AMENDMENT_RULE = "deal_amendment"


class Problem(BaseModel):
    """Which field of the deal, which rule, the offending value, what is wrong, how to fix it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    field: str  # a path in the canonical deal: "legal_entity", "lines[2].sku", "milestones"
    rule: str
    value: Any = None
    message: str
    fix: str

    def describe(self) -> str:
        shown = "" if self.value is None else f" (value: {self.value!r})"
        return f"{self.field}: {self.message}{shown}. Fix: {self.fix}"


def deal_reference(deal: Deal) -> str:
    """The deal's identity across CRMs, kept on the Odoo order as ``client_order_ref``."""
    return f"{deal.source}:{deal.external_id}"


def problems_to_error(
    deal: Deal, problems: Sequence[Problem], *, rule: str = DEAL_VALIDATION_RULE
) -> BusinessRuleError:
    """ONE business-rule error for the deal, listing every problem (``context["problems"]``)."""
    if not problems:
        raise ValueError("problems_to_error needs at least one problem")
    reference = deal_reference(deal)
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    lines = "\n".join(f"  - {problem.describe()}" for problem in problems)
    what = "cannot be delivered" if rule == DEAL_VALIDATION_RULE else "changed after won"
    return BusinessRuleError(
        f"Deal {deal.name!r} ({reference}) {what}: {count}\n{lines}",
        rule=rule,
        value=reference,
        suggested_fix="\n".join(f"{problem.field}: {problem.fix}" for problem in problems),
        context={
            "deal": reference,
            "deal_name": deal.name,
            "problems": [problem.model_dump(mode="json") for problem in problems],
        },
    )


__all__ = [
    "DEAL_AMENDMENT_RULE",
    "DEAL_VALIDATION_RULE",
    "Problem",
    "deal_reference",
    "problems_to_error",
]
