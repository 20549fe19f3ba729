"""The Odoo 18 product configuration each billing model needs (recorded in quote_to_cash.json).

Timesheet billing is ``type=service`` + ``invoice_policy=delivery`` + ``service_type=timesheet``,
which Odoo shows as the computed ``service_policy`` ``delivered_timesheet`` (README "Product
setup"); ``service_tracking=task_in_project`` makes confirming the order create the project and a
task. The other models follow the same mapping Odoo uses to compute ``service_policy``:
``order``+``manual`` is ``ordered_prepaid``, ``delivery``+``manual`` is ``delivered_manual``,
``delivery``+``milestones`` is ``delivered_milestones``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from handoff.canonical.crm import BillingModel

# Confirming the order must create the project the deal is delivered in.
PROJECT_TRACKING = frozenset({"task_in_project", "project_only"})

_SERVICE = {"type": "service", "service_tracking": "task_in_project"}
_ON_DELIVERED_MANUAL = {**_SERVICE, "invoice_policy": "delivery", "service_type": "manual"}

# (billing model, invoiced on a schedule) -> product.template values
PRODUCT_SETUP: dict[tuple[BillingModel, bool], dict[str, str]] = {
    (BillingModel.TIME_AND_MATERIALS, False): {
        **_SERVICE, "invoice_policy": "delivery", "service_type": "timesheet",
    },
    (BillingModel.FIXED_FEE, False): {**_SERVICE, "invoice_policy": "order", "service_type": "manual"},
    # A fixed fee on a percentage schedule: Handoff sets the delivered quantity on each date.
    (BillingModel.FIXED_FEE, True): _ON_DELIVERED_MANUAL,
    (BillingModel.MILESTONE, False): {
        **_SERVICE, "invoice_policy": "delivery", "service_type": "milestones",
    },
    # Odoo Community has no subscriptions: one month = one delivered unit, set by Handoff.
    (BillingModel.RETAINER, False): _ON_DELIVERED_MANUAL,
}  # fmt: skip

# What Odoo computes as product.template.service_policy for each setup.
SERVICE_POLICY: dict[tuple[BillingModel, bool], str] = {
    (BillingModel.TIME_AND_MATERIALS, False): "delivered_timesheet",
    (BillingModel.FIXED_FEE, False): "ordered_prepaid",
    (BillingModel.FIXED_FEE, True): "delivered_manual",
    (BillingModel.MILESTONE, False): "delivered_milestones",
    (BillingModel.RETAINER, False): "delivered_manual",
}

# How the order line's delivered quantity is measured (sale.order.line.qty_delivered_method).
QTY_DELIVERED_METHOD: dict[tuple[BillingModel, bool], str] = {
    (BillingModel.TIME_AND_MATERIALS, False): "timesheet",
    (BillingModel.FIXED_FEE, False): "manual",
    (BillingModel.FIXED_FEE, True): "manual",
    (BillingModel.MILESTONE, False): "milestones",
    (BillingModel.RETAINER, False): "manual",
}


def _key(billing_model: BillingModel | str, scheduled: bool) -> tuple[BillingModel, bool]:
    model = BillingModel(billing_model)
    return model, scheduled and model is BillingModel.FIXED_FEE


def required_product_setup(
    billing_model: BillingModel | str, *, scheduled: bool = False
) -> dict[str, str]:
    """The product.template values a product sold under ``billing_model`` must have.

    ``scheduled`` only matters for fixed fees: invoiced on a percentage schedule rather than on
    order.
    """
    return dict(PRODUCT_SETUP[_key(billing_model, scheduled)])


def expected_service_policy(billing_model: BillingModel | str, *, scheduled: bool = False) -> str:
    return SERVICE_POLICY[_key(billing_model, scheduled)]


def product_fits(
    product: BaseModel | Mapping[str, Any],
    billing_model: BillingModel | str,
    *,
    scheduled: bool = False,
) -> str | None:
    """None when the product can be sold under the billing model; otherwise what is wrong.

    ``product`` is an ``OdooProduct`` or a product.template row (``read``/``search_read``).
    """
    values = product.model_dump() if isinstance(product, BaseModel) else dict(product)
    wanted = required_product_setup(billing_model, scheduled=scheduled)
    wrong = [
        f"{field} is {values.get(field) or 'not set'!s}, needs {wanted[field]}"
        for field in ("type", "invoice_policy", "service_type")
        if values.get(field) != wanted[field]
    ]
    if values.get("service_tracking") not in PROJECT_TRACKING:
        wrong.append(
            f"service_tracking is {values.get('service_tracking') or 'not set'}, needs "
            f"task_in_project (or project_only) so that confirming the order creates the project"
        )
    if values.get("sale_ok") is False:
        wrong.append("sale_ok is false: the product cannot be sold")
    return "; ".join(wrong) or None


__all__ = [
    "PRODUCT_SETUP",
    "PROJECT_TRACKING",
    "QTY_DELIVERED_METHOD",
    "SERVICE_POLICY",
    "expected_service_policy",
    "product_fits",
    "required_product_setup",
]
