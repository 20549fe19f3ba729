"""Deal to delivery: a won deal becomes, after validation, one customer, a confirmed sales order,
a project with tasks and milestones and a billing plan in Odoo; the order and project go back
to the deal. The flow only sequences roles; every call to another system is a durable step.

Systems by name: the deal's source is the CRM system's configured name (``hubspot_eu``, the
first part of the event's entity key) and the Odoo is the run's target (``event.target``, the
source's ``systems.<source>.odoo`` or the only Odoo system): each call goes through that
system's breaker and retry, and the bindings are stored under the Odoo system's name."""

from __future__ import annotations

from typing import Any

from dbos import DBOS
from pydantic import BaseModel

from handoff.canonical.crm import Deal
from handoff.canonical.errors import BusinessRuleError
from handoff.crm.sources import DealSnapshot, DeliveryStatus
from handoff.engine.flows import FlowEvent, flow
from handoff.engine.steps import call
from handoff.flows import delivery_roles as roles
from handoff.flows.gates import GATE_TOPIC, deal_key
from handoff.store.repositories import content_hash

FLOW = "deal_to_delivery"
GATE_WAIT_SECONDS = 3600.0

# What, once delivered, counts as a change to the deal: the commercial content, not its stage.
AMENDABLE_FIELDS = {"amount", "currency", "lines", "billing_model", "milestones"}


class DeliveryOutcome(BaseModel):
    deal: str
    outcome: str  # delivered | not_won | up_to_date | amended
    order: str | None = None
    order_id: int | None = None
    project_ids: list[int] = []
    partner_id: int | None = None


def deal_content(deal: Deal) -> dict[str, Any]:
    return deal.model_dump(mode="json", include=AMENDABLE_FIELDS)


def deal_fingerprint(deal: Deal) -> str:
    return content_hash(deal_content(deal))


def parse_deal_key(entity_key: str) -> tuple[str, str]:
    source, kind, deal_id = entity_key.split(":", 2)
    if kind != "deal" or not deal_id:
        raise BusinessRuleError(
            f"event entity {entity_key!r} is not a deal",
            rule="not_a_deal",
            value=entity_key,
            suggested_fix="Route only deal events to the deal_to_delivery flow.",
        )
    return source, deal_id


# A retry runs the whole flow again (fresh deal, fresh reference data): every write is found
# before it is made again (partner by external id, order by client reference, tasks and
# milestones by name, extra lines against the delivered plan, bindings by key).
@flow(FLOW, queue="odoo", record=lambda event: event.entity_key, retry_from="start")
def deal_to_delivery(event: FlowEvent) -> dict[str, Any]:
    source, deal_id = parse_deal_key(event.entity_key)
    key = deal_key(source, deal_id)
    odoo = _target(event)
    snapshot: DealSnapshot = call(
        source, "fetch_deal", roles.fetch_deal, source, deal_id, event.inbox_id
    )
    deal = snapshot.deal
    delivered = call(odoo, "delivered_order", roles.delivered_order, odoo, key)

    if not roles.is_won(source, deal):
        if delivered is not None:
            raise BusinessRuleError(
                f"{source} deal {deal_id} ({deal.name}) was won and delivered as "
                f"{delivered.order_name}, and is now in stage {deal.stage_label or deal.stage}",
                rule="reopened_after_won",
                value=deal.stage,
                suggested_fix=(
                    f"Nothing in Odoo was changed. Decide with finance whether {delivered.order_name} "
                    "must be cancelled in Odoo; then ignore this exception."
                ),
                context={"order": delivered.order_name, "order_id": delivered.order_id},
            )
        return DeliveryOutcome(deal=key, outcome="not_won").model_dump()

    if delivered is not None:
        return _amend(odoo, source, deal_id, key, snapshot, delivered).model_dump()

    _wait_for_gates(source, key, deal)
    reference = call(odoo, "load_reference", roles.load_reference, odoo)
    DBOS.run_step({"name": "delivery.validate"}, roles.validate, snapshot, reference)
    partner_id: int = call(
        odoo, "upsert_customer", roles.upsert_customer, odoo, source, snapshot, key
    )
    plan = DBOS.run_step(
        {"name": "delivery.plan"}, roles.plan, snapshot, partner_id, reference, key
    )
    order = call(odoo, "create_order", roles.create_order, odoo, plan)
    call(odoo, "create_milestones", roles.create_milestones, odoo, plan, order)
    DBOS.run_step(
        {"name": "delivery.bind"},
        roles.bind_delivery,
        odoo,
        key,
        deal_content(deal),
        partner_id,
        order,
        plan,
    )
    status = DeliveryStatus(
        odoo_order=order.name,
        odoo_project_url=DBOS.run_step(
            {"name": "delivery.project_url"}, roles.project_url, odoo, order
        ),
        sync_status="delivered",
    )
    call(source, "write_back", roles.write_back, source, deal_id, status, key, event.correlation_id)
    return DeliveryOutcome(
        deal=key,
        outcome="delivered",
        order=order.name,
        order_id=order.order_id,
        project_ids=order.project_ids,
        partner_id=partner_id,
    ).model_dump()


def _target(event: FlowEvent) -> str:
    """The Odoo system this run delivers to (set when the event was enqueued)."""
    assert event.target is not None  # the flow wrapper resolves it for older runs
    return event.target


def _wait_for_gates(source: str, key: str, deal: Deal) -> None:
    """A gated deal waits visibly (`handoff approvals list`); it does not fail."""
    gates = roles.gates_for(source, deal)
    if not gates:
        return
    workflow_id = DBOS.workflow_id or ""
    DBOS.run_step(
        {"name": "gates.require"}, roles.require_gates, key, gates, deal.name, workflow_id
    )
    while DBOS.run_step({"name": "gates.pending"}, roles.pending_gates, key, gates):
        DBOS.recv(GATE_TOPIC, timeout_seconds=GATE_WAIT_SECONDS)


def _amend(
    odoo: str,
    source: str,
    deal_id: str,
    key: str,
    snapshot: DealSnapshot,
    delivered: roles.DeliveredOrder,
) -> DeliveryOutcome:
    """Changes after won: extra order lines, or a change-order exception for finance."""
    if delivered.fingerprint == deal_fingerprint(snapshot.deal):
        return DeliveryOutcome(
            deal=key, outcome="up_to_date", order=delivered.order_name, order_id=delivered.order_id
        )
    reference = call(odoo, "load_reference", roles.load_reference, odoo)
    change, current = DBOS.run_step(
        {"name": "delivery.amendment"}, roles.amendment, snapshot, delivered, reference
    )
    call(odoo, "amend_order", roles.amend_order, odoo, delivered, change, key)
    DBOS.run_step(
        {"name": "delivery.rebind"},
        roles.rebind,
        odoo,
        key,
        deal_content(snapshot.deal),
        delivered,
        current,
    )
    return DeliveryOutcome(
        deal=key, outcome="amended", order=delivered.order_name, order_id=delivered.order_id
    )
