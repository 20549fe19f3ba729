"""The delivery plan of a won deal: the Odoo order, project, milestones and billing schedule.

Pure: a deal, the customer's Odoo partner id, the configuration and an ``OdooReference`` in, a
``DeliveryPlan`` out. The flow writes it; the values follow the recorded quote-to-cash run:
``sale.order.create`` with ``partner_id`` and the lines as ``[0, 0, vals]`` commands, taxes as the
many2many ``tax_id`` (``[6, 0, ids]``), ``client_order_ref`` = the deal reference (searched before
creating, so a retry finds the order instead of duplicating it), and milestones created on the
project with their ``sale_line_id`` and ``quantity_percentage``, the first one of a line taking over
the 100 % milestone Odoo creates on confirmation (milestone_billing.json).

Per billing model (``billing.products``):
- time & materials: product ``invoice_policy=delivery`` + ``service_type=timesheet``
  (``service_policy`` ``delivered_timesheet``), invoiced from approved timesheets;
- fixed fee: ``invoice_policy=order`` (invoiced on confirmation), or ``delivery`` + ``manual`` with
  a schedule of percentages (Handoff sets the delivered quantity on each date);
- milestone: ``delivery`` + ``milestones``, one ``project.milestone`` per deal milestone;
- retainer: ``delivery`` + ``manual``, a monthly amount with included hours scheduled by Handoff
  (Odoo Community has no subscriptions).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.billing.products import (
    QTY_DELIVERED_METHOD,
    expected_service_policy,
    product_fits,
    required_product_setup,
)
from handoff.canonical.crm import BillingModel, Deal
from handoff.config import DeliveryConfig
from handoff.connectors.odoo.quote_to_cash import MilestoneIn, OrderLineIn, SaleOrderIn
from handoff.delivery.problems import deal_reference, problems_to_error
from handoff.delivery.reference import OdooReference
from handoff.delivery.validation import Resolution, resolve_deal

CENT = Decimal("0.01")


class PlanModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannedLine(PlanModel):
    deal_line_id: str
    name: str
    product_id: int  # product.product
    product_code: str
    quantity: Decimal
    price_unit: Decimal
    price_source: Literal["deal", "rate_card"]
    role: str | None = None
    discount: Decimal = Decimal(0)
    tax_ids: list[int] = Field(default_factory=list)
    qty_delivered_method: str  # what Odoo will compute: timesheet / milestones / manual

    @property
    def subtotal(self) -> Decimal:
        return (self.quantity * self.price_unit * (1 - self.discount / 100)).quantize(CENT)

    def odoo_values(self) -> dict[str, Any]:
        """``sale.order.line`` values (Odoo 18 calls the taxes many2many ``tax_id``)."""
        return {
            "product_id": self.product_id,
            # Decimal up to the wire: the Odoo client sends them as JSON numbers.
            "product_uom_qty": self.quantity,
            "price_unit": self.price_unit,
            "discount": self.discount,
            "tax_id": [[6, 0, list(self.tax_ids)]],
            "name": self.name,
        }


class PlannedOrder(PlanModel):
    partner_id: int | None  # None: the customer is not in Odoo yet (set when it is)
    client_order_ref: str  # the deal reference
    company_id: int
    company: str
    payment_term_id: int
    payment_term: str
    currency: str
    currency_id: int
    # Odoo's order currency is its pricelist's: a currency other than the company's needs one.
    needs_pricelist: bool
    lines: list[PlannedLine]

    @property
    def amount_untaxed(self) -> Decimal:
        return sum((line.subtotal for line in self.lines), Decimal(0))

    def odoo_values(self, partner_id: int | None = None) -> dict[str, Any]:
        """``sale.order.create`` values, lines as one2many ``[0, 0, vals]`` commands."""
        partner = partner_id or self.partner_id
        if partner is None:
            raise ValueError("the order needs the customer's Odoo partner id")
        return {
            "partner_id": partner,
            "client_order_ref": self.client_order_ref,
            "company_id": self.company_id,
            "payment_term_id": self.payment_term_id,
            "order_line": [[0, 0, line.odoo_values()] for line in self.lines],
        }

    def sale_order_in(self, partner_id: int | None = None) -> SaleOrderIn:
        """The same order for ``QuoteToCashAdapter.create_sale_order`` (idempotent by reference)."""
        partner = partner_id or self.partner_id
        if partner is None:
            raise ValueError("the order needs the customer's Odoo partner id")
        return SaleOrderIn(
            reference=self.client_order_ref,
            partner_id=partner,
            company_id=self.company_id,
            payment_term_id=self.payment_term_id,
            lines=[
                OrderLineIn(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    price_unit=line.price_unit,
                    discount=line.discount,
                    tax_ids=list(line.tax_ids),
                    description=line.name,
                )
                for line in self.lines
            ],
        )


class PlannedProject(PlanModel):
    template: str
    name_pattern: str  # {order} is filled in once Odoo has named the order
    tasks: list[str]
    stages: list[str]
    odoo_template_project_id: int | None = None
    allow_milestones: bool

    def name(self, order_name: str) -> str:
        return self.name_pattern.replace("{order}", order_name)


class PlannedMilestone(PlanModel):
    name: str
    line_index: int  # the order line (in ``PlannedOrder.lines``) the milestone bills a share of
    quantity_percentage: Decimal  # share of that line, 0..1 (as Odoo stores it)
    amount: Decimal
    deadline: date | None = None

    def milestone_in(self, project_id: int, sale_line_id: int) -> MilestoneIn:
        """The ``project.milestone`` to place once the order is confirmed."""
        return MilestoneIn(
            name=self.name,
            project_id=project_id,
            deadline=self.deadline,
            sale_line_id=sale_line_id,
            quantity_percentage=self.quantity_percentage,
        )


class BillingEvent(PlanModel):
    label: str
    trigger: Literal["order_confirmed", "date", "milestone_reached", "timesheets", "monthly"]
    due_date: date | None = None
    percentage: Decimal | None = None  # of the order line(s) it bills
    amount: Decimal | None = None


class RetainerPlan(PlanModel):
    monthly_amount: Decimal
    included_hours: Decimal | None
    currency: str
    start_date: date | None
    line_index: int  # the order line each month's delivered unit is set on


class BillingSchedule(PlanModel):
    billing_model: BillingModel
    scheduled: bool  # a fixed fee invoiced on a percentage schedule
    product_setup: dict[str, str]  # what every line's product has (required_product_setup)
    service_policy: str  # what Odoo computes from that setup
    invoice_method: Literal["delivered"] = "delivered"  # sale.advance.payment.inv method
    events: list[BillingEvent]
    retainer: RetainerPlan | None = None
    # Not-to-exceed cap (untaxed, order currency) on everything invoiced for a time & materials
    # contract; None = uncapped. The CRM deal carries no cap yet: agreed caps are recorded on the
    # plan by the operator (``handoff billing set-cap``, ``invoicing.service.set_cap``).
    not_to_exceed: Decimal | None = Field(default=None, ge=0)


class DeliveryPlan(PlanModel):
    deal_reference: str
    deal_name: str
    billing_model: BillingModel
    order: PlannedOrder
    project: PlannedProject
    milestones: list[PlannedMilestone]
    billing: BillingSchedule


def plan_delivery(
    deal: Deal,
    customer_partner_id: int | None,
    config: DeliveryConfig,
    reference: OdooReference,
    *,
    customer_name: str | None = None,
) -> DeliveryPlan:
    """The Odoo configuration of the won deal. Raises the deal's one ``BusinessRuleError`` (rule
    ``deal_validation``) when its references do not resolve."""
    found = resolve_deal(deal, config, reference)
    if found.problems:
        raise problems_to_error(deal, found.problems)
    # resolve_deal reports a problem for each of these when missing.
    assert found.billing_model and found.company and found.payment_term and found.template
    assert found.currency and found.currency_id is not None and found.template_name
    model, ref = found.billing_model, deal_reference(deal)
    lines = [
        PlannedLine(
            deal_line_id=resolved.line.external_id,
            name=resolved.line.description or resolved.line.name,
            product_id=resolved.product.id,
            product_code=resolved.product.default_code,
            quantity=resolved.line.quantity,
            price_unit=resolved.price_unit,
            price_source=resolved.price_source,
            role=resolved.role,
            discount=resolved.line.discount,
            tax_ids=[tax.id for tax in found.taxes],
            qty_delivered_method=QTY_DELIVERED_METHOD[(model, found.scheduled)],
        )
        for resolved in found.lines
    ]
    order = PlannedOrder(
        partner_id=customer_partner_id,
        client_order_ref=ref,
        company_id=found.company.id,
        company=found.company.name,
        payment_term_id=found.payment_term.id,
        payment_term=found.payment_term.name,
        currency=found.currency,
        currency_id=found.currency_id,
        needs_pricelist=found.currency != found.company.currency,
        lines=lines,
    )
    milestones = _milestones(found) if model is BillingModel.MILESTONE else []
    template = found.template
    project = PlannedProject(
        template=found.template_name,
        name_pattern=template.project_name.format(
            deal=deal.name, customer=customer_name or "", reference=ref, order="{order}"
        ),
        tasks=list(template.tasks),
        stages=list(template.stages),
        odoo_template_project_id=found.template_project_id,
        allow_milestones=bool(milestones),
    )
    return DeliveryPlan(
        deal_reference=ref,
        deal_name=deal.name,
        billing_model=model,
        order=order,
        project=project,
        milestones=milestones,
        billing=_schedule(deal, found, order),
    )


def _milestones(found: Resolution) -> list[PlannedMilestone]:
    assert found.milestone_line is not None
    return [
        PlannedMilestone(
            name=resolved.milestone.name,
            line_index=found.milestone_line,
            quantity_percentage=resolved.fraction,
            amount=resolved.amount,
            deadline=resolved.milestone.due_date,
        )
        for resolved in found.milestones
    ]


def _schedule(deal: Deal, found: Resolution, order: PlannedOrder) -> BillingSchedule:
    model, scheduled = found.billing_model, found.scheduled
    assert model is not None
    events: list[BillingEvent]
    retainer = None
    if model is BillingModel.TIME_AND_MATERIALS:
        events = [
            BillingEvent(label="Approved timesheets at each billing run", trigger="timesheets")
        ]
    elif model is BillingModel.FIXED_FEE and not scheduled:
        events = [
            BillingEvent(
                label="Whole fee once the order is confirmed",
                trigger="order_confirmed",
                percentage=Decimal(100),
                amount=order.amount_untaxed,
            )
        ]
    elif model is BillingModel.FIXED_FEE:
        events = [
            BillingEvent(
                label=resolved.milestone.name,
                trigger="date",
                due_date=resolved.milestone.due_date,
                percentage=(resolved.fraction * 100).quantize(CENT),
                amount=resolved.amount,
            )
            for resolved in found.milestones
        ]
    elif model is BillingModel.MILESTONE:
        events = [
            BillingEvent(
                label=resolved.milestone.name,
                trigger="milestone_reached",
                due_date=resolved.milestone.due_date,
                percentage=(resolved.fraction * 100).quantize(CENT),
                amount=resolved.amount,
            )
            for resolved in found.milestones
        ]
    else:
        assert deal.retainer_monthly_amount is not None and found.currency is not None
        retainer = RetainerPlan(
            monthly_amount=deal.retainer_monthly_amount,
            included_hours=deal.retainer_hours,
            currency=found.currency,
            start_date=deal.close_date,
            line_index=0,
        )
        events = [
            BillingEvent(
                label="Monthly retainer fee (overage hours billed at the rate card)",
                trigger="monthly",
                due_date=deal.close_date,
                amount=deal.retainer_monthly_amount,
            )
        ]
    return BillingSchedule(
        billing_model=model,
        scheduled=scheduled,
        product_setup=required_product_setup(model, scheduled=scheduled),
        service_policy=expected_service_policy(model, scheduled=scheduled),
        events=events,
        retainer=retainer,
    )


__all__ = [
    "BillingEvent",
    "BillingSchedule",
    "DeliveryPlan",
    "PlannedLine",
    "PlannedMilestone",
    "PlannedOrder",
    "PlannedProject",
    "RetainerPlan",
    "plan_delivery",
    "product_fits",
    "required_product_setup",
]
