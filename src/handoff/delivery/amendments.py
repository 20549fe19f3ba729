"""Changes to a deal after it was won and delivered to Odoo: extra order lines, or a change order.

Nothing in Odoo is ever deleted or reduced automatically. Comparing the plan the order was created
from with the plan of the deal as it is now (both from ``plan_delivery``):

- ``amendments: order_lines``: a new deal line, or more of an existing one at the same price,
  becomes an extra line on the confirmed order; every other change (less, removed, repriced, other
  product, terms, company, currency, milestones, billing model) needs finance: a change order;
- ``amendments: exception``: every change needs finance.

The changes that need a person are ``Problem``s, raised together as one ``BusinessRuleError``
(rule ``deal_amendment``) by ``amendment_error``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from handoff.canonical.crm import Deal
from handoff.canonical.errors import BusinessRuleError
from handoff.delivery.plan import DeliveryPlan, PlannedLine

from .problems import DEAL_AMENDMENT_RULE, Problem, problems_to_error

AmendmentMode = Literal["order_lines", "exception"]
CHANGE_ORDER_FIX = (
    "finance: agree a change order with the customer and adjust the Odoo order by hand "
    "(Handoff never deletes or reduces what is in Odoo), then resolve this exception"
)
_ORDER_FIELDS = ("company", "payment_term", "currency")


class Amendment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    deal_reference: str
    mode: AmendmentMode
    extra_lines: list[PlannedLine]  # to append to the confirmed order
    changes: list[Problem]  # what needs a change order

    @property
    def unchanged(self) -> bool:
        return not self.extra_lines and not self.changes


def plan_amendment(previous: DeliveryPlan, current: DeliveryPlan, mode: AmendmentMode) -> Amendment:
    """What changed between the delivered plan and the deal's plan now. Pure."""
    if previous.deal_reference != current.deal_reference:
        raise ValueError("the two plans are of different deals")
    changes: list[Problem] = []
    extra: list[PlannedLine] = []

    def change(field: str, rule: str, value: object, message: str) -> None:
        changes.append(
            Problem(field=field, rule=rule, value=value, message=message, fix=CHANGE_ORDER_FIX)
        )

    if previous.billing_model != current.billing_model:
        change("billing_model", "billing_model_changed", current.billing_model.value,
               f"the billing model changed from {previous.billing_model.value}")  # fmt: skip
    for name in _ORDER_FIELDS:
        before, now = getattr(previous.order, name), getattr(current.order, name)
        if before != now:
            change(name, f"{name}_changed", now, f"the {name.replace('_', ' ')} changed from "
                   f"{before!r}")  # fmt: skip
    before_lines = {line.deal_line_id: line for line in previous.order.lines}
    now_lines = {line.deal_line_id: line for line in current.order.lines}
    for line_id, before in before_lines.items():
        if line_id not in now_lines:
            change(f"lines[{line_id}]", "line_removed", before.name,
                   f"line '{before.name}' was removed from the deal")  # fmt: skip
    for line_id, now in now_lines.items():
        before_line = before_lines.get(line_id)
        if before_line is None:
            if mode == "order_lines":
                extra.append(now)
            else:
                change(f"lines[{line_id}]", "line_added", now.name,
                       f"line '{now.name}' was added to the deal")  # fmt: skip
            continue
        _line_change(before_line, now, mode, extra, change)
    if [m.model_dump() for m in previous.milestones] != [
        m.model_dump() for m in current.milestones
    ]:
        change("milestones", "milestones_changed", [m.name for m in current.milestones],
               "the milestones changed")  # fmt: skip
    if previous.billing.events != current.billing.events and not changes and not extra:
        change("billing", "billing_schedule_changed", None, "the billing schedule changed")
    return Amendment(
        deal_reference=current.deal_reference, mode=mode, extra_lines=extra, changes=changes
    )


def _line_change(
    before: PlannedLine,
    now: PlannedLine,
    mode: AmendmentMode,
    extra: list[PlannedLine],
    change: Callable[[str, str, object, str], None],
) -> None:
    where = f"lines[{now.deal_line_id}]"
    same_terms = (before.product_id, before.price_unit, before.discount, before.tax_ids) == (
        now.product_id, now.price_unit, now.discount, now.tax_ids)  # fmt: skip
    if not same_terms:
        change(where, "line_repriced", now.name,
               f"line '{now.name}' changed product, price, discount or taxes")  # fmt: skip
        return
    if now.quantity == before.quantity:
        return
    if now.quantity < before.quantity or mode == "exception":
        change(where, "line_quantity_changed", str(now.quantity),
               f"line '{now.name}' quantity changed from {before.quantity}")  # fmt: skip
        return
    more: Decimal = now.quantity - before.quantity
    extra.append(
        now.model_copy(
            update={
                "deal_line_id": f"{now.deal_line_id}+{more}",
                "quantity": more,
                "name": f"{now.name} (amendment: +{more})",
            }
        )
    )


def amendment_error(deal: Deal, amendment: Amendment) -> BusinessRuleError | None:
    """The one exception for finance listing every change that needs a change order."""
    if not amendment.changes:
        return None
    return problems_to_error(deal, amendment.changes, rule=DEAL_AMENDMENT_RULE)


__all__ = ["Amendment", "AmendmentMode", "amendment_error", "plan_amendment"]
