"""The roles the deal-to-delivery flow sequences. Each function is one step: it talks to one
system (or the store), is safe to run again after a crash, and records what it changed.

Systems by name: ``odoo`` is the configured name of the run's Odoo system (its adapter, its
bindings' ``system``, its audit rows) and ``source`` the CRM system's name (its adapter, the
external ids and deal keys it owns); see ``handoff.engine.targets``."""

from __future__ import annotations

import threading
from typing import Any

from pydantic import BaseModel

from handoff.canonical.crm import Deal
from handoff.canonical.errors import BusinessRuleError, PermanentError
from handoff.connectors.odoo import ValidationError
from handoff.connectors.odoo.adapter import EXTERNAL_ID_MODULE, external_id_name
from handoff.connectors.registry import connectors_for
from handoff.crm.batching import BATCH_SIZE, SnapshotPrefetcher, Waiting, WriteBackBatcher
from handoff.crm.sources import (
    CrmSource,
    DealSnapshot,
    DeliveryStatus,
    HubSpotSource,
    SalesforceSource,
)
from handoff.customers import (
    ambiguous_error,
    contact_values,
    find_existing_contacts,
    find_partner_candidates,
    match_customer,
    partner_fields_to_read,
    partner_values_to_write,
)
from handoff.delivery import check_deal
from handoff.delivery import load_reference as load_odoo_reference
from handoff.delivery.amendments import amendment_error, plan_amendment
from handoff.delivery.plan import DeliveryPlan, plan_delivery
from handoff.engine.runtime import current_hub
from handoff.observability.logging import current_context

FLOW = "deal_to_delivery"  # whose waiting events a deal read reads ahead for
ORDER_MODEL = "sale.order"
PARTNER_MODEL = "res.partner"
PROJECT_MODEL = "project.project"


class DeliveredOrder(BaseModel):
    order_id: int
    order_name: str
    fingerprint: str | None
    plan: dict[str, Any] | None = None


def _settings() -> Any:
    return current_hub().settings


def _odoo(odoo: str) -> Any:
    return connectors_for(_settings()).odoo(odoo)


def crm_source(source: str) -> CrmSource:
    """The CRM system called ``source`` (its configured kind picks the role)."""
    connectors = connectors_for(_settings())
    system = _settings().systems.get(source)
    kind = system.kind if system is not None else None
    if kind == "hubspot":
        return HubSpotSource(connectors.hubspot(source), name=source)
    if kind == "salesforce":
        return SalesforceSource(connectors.salesforce(source), name=source)
    raise PermanentError(f"no CRM source {source!r}", rule="unknown_source", value=source)


# -- CRM side ------------------------------------------------------------------------------------


# Per process and per settings (a test's hub does not see another's snapshots), per CRM.
_batchers: dict[tuple[int, str], tuple[Any, SnapshotPrefetcher, WriteBackBatcher]] = {}
_batchers_lock = threading.Lock()


def crm_batching(source: str) -> tuple[SnapshotPrefetcher, WriteBackBatcher]:
    settings = _settings()
    key = (id(settings), source)
    with _batchers_lock:
        entry = _batchers.get(key)
        if entry is None or entry[0] is not settings:
            entry = _batchers[key] = (settings, SnapshotPrefetcher(), WriteBackBatcher())
        return entry[1], entry[2]


def fetch_deal(source: str, deal_id: str, inbox_id: int | None = None) -> DealSnapshot:
    """The deal's snapshot, read in one batch with the other deals waiting for this flow
    (``handoff.crm.batching``), never older than the event this run handles."""
    hub = current_hub()
    event = hub.inbox.get(inbox_id) if inbox_id is not None else None
    prefix = f"{source}:deal:"

    def waiting() -> list[Waiting]:
        rows = hub.inbox.waiting(FLOW, prefix, limit=2 * BATCH_SIZE)
        return [Waiting(event=row, deal_id=key.removeprefix(prefix)) for row, key in rows]

    prefetcher, _ = crm_batching(source)
    return prefetcher.snapshot(
        crm_source(source),
        deal_id,
        event=inbox_id,
        received_at=event.received_at if event is not None else None,
        pending=waiting,
    )


def fetch_deals(source: str, deal_ids: list[str]) -> dict[str, Any]:
    """Many deals' snapshots in one batch read (for a run that handles many deal events):
    deal id -> its DealSnapshot, or its own error."""
    return crm_source(source).fetch_deals(deal_ids)


def is_won(source: str, deal: Deal) -> bool:
    """Won by the firm's configured stages for this pipeline, else by the CRM's own won flag."""
    return bool(_settings().delivery.is_won(source, deal.pipeline, deal.stage, deal.is_won))


def gates_for(source: str, deal: Deal) -> list[str]:
    return [str(gate) for gate in _settings().delivery.gates_for(deal.pipeline)]


def write_back(
    source: str, deal_id: str, status: DeliveryStatus, key: str, correlation_id: str
) -> None:
    _, writer = crm_batching(source)
    writer.write(crm_source(source), deal_id, status)  # one batch update with concurrent runs
    current_hub().audit.record(
        actor="handoff",
        action="write_back",
        system=source,
        model="deal",
        record_id=deal_id,
        canonical_id=key,
        after=status.model_dump(exclude_none=True),
        correlation_id=correlation_id,
    )


def write_back_many(
    source: str, statuses: dict[str, DeliveryStatus], keys: dict[str, str], correlation_id: str
) -> dict[str, str]:
    """The write-backs of many deals in one batch update (for a run that handles many deal
    events): answers, per deal the CRM refused, why; the others are audited as written."""
    refused = crm_source(source).write_back_many(statuses)
    hub = current_hub()
    for deal_id, status in statuses.items():
        if deal_id not in refused:
            hub.audit.record(
                actor="handoff",
                action="write_back",
                system=source,
                model="deal",
                record_id=deal_id,
                canonical_id=keys.get(deal_id),
                after=status.model_dump(exclude_none=True),
                correlation_id=correlation_id,
            )
    return {deal_id: error.message for deal_id, error in refused.items()}


# -- gates ---------------------------------------------------------------------------------------


def require_gates(key: str, gates: list[str], deal_name: str, workflow_id: str) -> None:
    current_hub().gates.require(key, gates, deal_name=deal_name, workflow_id=workflow_id)


def pending_gates(key: str, gates: list[str]) -> list[str]:
    satisfied = {g.gate for g in current_hub().gates.for_deal(key) if g.status == "satisfied"}
    return [gate for gate in gates if gate not in satisfied]


# -- store ---------------------------------------------------------------------------------------


def delivered_order(odoo: str, key: str) -> DeliveredOrder | None:
    """The order this deal was delivered as in the Odoo system ``odoo``, from its binding, with
    its current Odoo name."""
    for binding in current_hub().bindings.for_canonical("deal", key):
        if binding.system == odoo and binding.model == ORDER_MODEL:
            order_id = int(binding.external_id)
            [order] = _odoo(odoo).odoo.read(ORDER_MODEL, [order_id], ["name"]) or [{"name": None}]
            return DeliveredOrder(
                order_id=order_id,
                order_name=order["name"] or f"sale.order {order_id} (deleted in Odoo)",
                fingerprint=binding.content_hash,
                plan=binding.snapshot,
            )
    return None


def project_url(odoo: str, order: Any) -> str | None:
    if not order.project_ids:
        return None
    system = connectors_for(_settings()).system_of_kind("odoo", odoo)[1]
    return f"{system.base_url}/odoo/project/{order.project_ids[0]}"


# -- customer --------------------------------------------------------------------------------------


def upsert_customer(odoo: str, source: str, snapshot: DealSnapshot, key: str) -> int:
    """One partner per customer: the bound one, else the one that matches, else a new one;
    the CRM writes only the field groups it owns. Contacts are linked to the company."""
    customer = snapshot.customer
    if customer is None:
        raise BusinessRuleError(
            f"{key} has no customer",
            rule="customer_missing",
            suggested_fix="Associate a company/account with the deal in the CRM, then retry.",
        )
    adapter = _odoo(odoo).odoo
    hub = current_hub()
    emails = [c.email for c in snapshot.contacts if c.email]
    bound = adapter.find_external_ids(source, PARTNER_MODEL, [customer.external_id])
    bound_id = bound.get(customer.external_id)
    candidates = [] if bound_id else find_partner_candidates(adapter, customer, emails)
    match = match_customer(customer, candidates, contact_emails=emails, bound_partner_id=bound_id)
    if match.outcome == "ambiguous":
        raise ambiguous_error(match, customer)
    ownership = hub.settings.ownership
    resolve_country = _country_resolver(adapter)
    if match.partner_id is None:
        values = partner_values_to_write(
            customer, None, ownership, source, country_id_of=resolve_country
        )
        result = adapter.upsert(PARTNER_MODEL, source, customer.external_id, values)
        partner_id, before = result.id, {}
        action = "create" if result.created else "update"
    else:
        partner_id = match.partner_id
        [existing] = adapter.read(PARTNER_MODEL, [partner_id], partner_fields_to_read())
        values = partner_values_to_write(
            customer, existing, ownership, source, country_id_of=resolve_country
        )
        if values:
            adapter.write(PARTNER_MODEL, [partner_id], values)
        if bound_id is None:
            attach_external_id(adapter, source, PARTNER_MODEL, customer.external_id, partner_id)
        before = {k: existing.get(k) for k in values}
        action = "update" if values else f"matched by {match.rule}"
    hub.audit.record(
        actor="handoff",
        action=action,
        system=odoo,
        model=PARTNER_MODEL,
        record_id=str(partner_id),
        canonical_id=f"{source}:customer:{customer.external_id}",
        before=before,
        after=values,
        correlation_id=_correlation(),
    )
    hub.bindings.bind(
        odoo,
        PARTNER_MODEL,
        str(partner_id),
        canonical_type="customer",
        canonical_id=f"{source}:customer:{customer.external_id}",
    )
    existing_contacts = find_existing_contacts(adapter, partner_id, emails)
    missing = [c for c in snapshot.contacts if (c.email or "") not in existing_contacts]
    if missing:
        rows = [(c.external_id, contact_values(c, partner_id)) for c in missing]
        for row, created in zip(
            rows, adapter.upsert_many(PARTNER_MODEL, source, rows), strict=True
        ):
            hub.audit.record(
                actor="handoff",
                action="create" if created.created else "update",
                system=odoo,
                model=PARTNER_MODEL,
                record_id=str(created.id),
                canonical_id=f"{source}:contact:{row[0]}",
                after=row[1],
                correlation_id=_correlation(),
            )
    return partner_id


def attach_external_id(
    adapter: Any, system: str, model: str, external_id: str, res_id: int
) -> None:
    """Give a partner found by matching our external id, so the next run finds it by binding."""
    try:
        adapter.create(
            "ir.model.data",
            {
                "module": EXTERNAL_ID_MODULE,
                "name": external_id_name(system, model, external_id),
                "model": model,
                "res_id": res_id,
                "noupdate": True,
            },
        )
    except ValidationError:
        # Another deal of the same customer bound it a moment ago: fine if it is this partner.
        bound = adapter.find_external_ids(system, model, [external_id]).get(external_id)
        if bound != res_id:
            raise


def _country_resolver(adapter: Any) -> Any:
    cache: dict[str, int | None] = {}

    def country_id_of(code: str) -> int | None:
        if code not in cache:
            rows = adapter.search_read("res.country", [["code", "=", code.upper()]], ["id"])
            cache[code] = rows[0]["id"] if rows else None
        return cache[code]

    return country_id_of


def _correlation() -> str | None:
    value = current_context().get("correlation_id")
    return str(value) if value else None


# -- validation and plan -------------------------------------------------------------------------


def load_reference(odoo: str) -> Any:
    return load_odoo_reference(_odoo(odoo).odoo, _settings().delivery)


def validate(snapshot: DealSnapshot, reference: Any) -> None:
    """Every problem of the deal in one exception, before anything is written."""
    check_deal(snapshot.deal, snapshot.customer, _settings().delivery, reference)


def plan(snapshot: DealSnapshot, partner_id: int, reference: Any, key: str) -> Any:
    return plan_delivery(
        snapshot.deal,
        partner_id,
        _settings().delivery,
        reference,
        customer_name=snapshot.customer.name if snapshot.customer else None,
    )


# -- order, project, milestones ---------------------------------------------------------------------


def create_order(odoo: str, delivery_plan: Any) -> Any:
    """The confirmed order (found by its client reference when it already exists), and the
    planned tasks in the project its confirmation created."""
    q2c = _odoo(odoo)
    order = q2c.create_sale_order(delivery_plan.order.sale_order_in(), confirm=True)
    hub = current_hub()
    hub.audit.record(
        actor="handoff",
        action="create",
        system=odoo,
        model=ORDER_MODEL,
        record_id=str(order.order_id),
        canonical_id=delivery_plan.deal_reference,
        after={
            "name": order.name,
            "state": order.state,
            "lines": len(order.line_ids),
            "projects": order.project_ids,
        },
        correlation_id=_correlation(),
    )
    if order.project_ids and delivery_plan.project.tasks:
        project_id = order.project_ids[0]
        existing = {
            row["name"]
            for row in q2c.odoo.search_read(
                "project.task", [["project_id", "=", project_id]], ["name"]
            )
        }
        missing = [name for name in delivery_plan.project.tasks if name not in existing]
        if missing:
            ids = q2c.odoo.create_many(
                "project.task", [{"name": name, "project_id": project_id} for name in missing]
            )
            hub.audit.record(
                actor="handoff",
                action="create",
                system=odoo,
                model="project.task",
                record_id=",".join(map(str, ids)),
                canonical_id=delivery_plan.deal_reference,
                after={"tasks": missing},
                correlation_id=_correlation(),
            )
    return order


def create_milestones(odoo: str, delivery_plan: Any, order: Any) -> list[int]:
    """The deal's milestones on the project, each billing its share of its order line; the ones
    already there (a step run again) are not created twice."""
    if not delivery_plan.milestones or not order.project_ids:
        return []
    q2c = _odoo(odoo)
    project_id = order.project_ids[0]
    before = {
        row["id"]: row["name"]
        for row in q2c.odoo.search_read(
            "project.milestone", [["project_id", "=", project_id]], ["name"]
        )
    }
    wanted = [
        m.milestone_in(project_id, order.line_ids[m.line_index]) for m in delivery_plan.milestones
    ]
    placed = q2c.place_milestones(project_id, wanted)
    changes = {
        "create": [(i, m) for i, m in zip(placed, wanted, strict=True) if i not in before],
        # Odoo's own 100 % milestone of the line, taken over by the deal's first one.
        "update": [(i, m) for i, m in zip(placed, wanted, strict=True)
                   if i in before and before[i] != m.name],
    }  # fmt: skip
    for action, done in changes.items():
        if done:
            current_hub().audit.record(
                actor="handoff",
                action=action,
                system=odoo,
                model="project.milestone",
                record_id=",".join(str(i) for i, _ in done),
                canonical_id=delivery_plan.deal_reference,
                after={"milestones": [
                    {"name": m.name, "quantity_percentage": m.quantity_percentage} for _, m in done
                ]},
                correlation_id=_correlation(),
            )  # fmt: skip
    return placed


def bind_delivery(
    odoo: str,
    key: str,
    fingerprint: dict[str, Any],
    partner_id: int,
    order: Any,
    delivery_plan: Any,
) -> None:
    """Bind the deal to what now represents it in Odoo; the plan is kept to compare amendments."""
    bindings = current_hub().bindings
    bindings.bind(
        odoo,
        ORDER_MODEL,
        str(order.order_id),
        canonical_type="deal",
        canonical_id=key,
        content=fingerprint,
        snapshot=delivery_plan.model_dump(mode="json"),
    )
    for project_id in order.project_ids:
        bindings.bind(odoo, PROJECT_MODEL, str(project_id), canonical_type="deal", canonical_id=key)


# -- amendments --------------------------------------------------------------------------------------


def amendment(snapshot: DealSnapshot, delivered: DeliveredOrder, reference: Any) -> Any:
    """What the change after won means: extra lines to add, or one exception for finance."""
    if delivered.plan is None:
        raise PermanentError(
            f"{delivered.order_name}: no delivered plan recorded to compare the change with",
            rule="amendment_without_plan",
        )
    previous = DeliveryPlan.model_validate(delivered.plan)
    settings = _settings()
    current = plan_delivery(snapshot.deal, previous.order.partner_id, settings.delivery, reference)
    change = plan_amendment(previous, current, settings.delivery.amendments)
    if (error := amendment_error(snapshot.deal, change)) is not None:
        error.context = {**error.context, "order": delivered.order_name}
        raise error
    return change, current


def amend_order(odoo: str, delivered: DeliveredOrder, change: Any, key: str) -> None:
    """Append the extra lines to the confirmed order (nothing is ever removed or reduced).

    Safe to run again (a crash, or `exceptions retry`, which runs the flow from its start): an
    extra line the order already carries beyond the delivered plan's lines is not added twice."""
    if not change.extra_lines:
        return
    adapter = _odoo(odoo).odoo
    [order] = adapter.read(ORDER_MODEL, [delivered.order_id], ["order_line"]) or [
        {"order_line": []}
    ]
    held = adapter.read("sale.order.line", order["order_line"], ["product_id", "name"])
    surplus = [(_plain_id(row.get("product_id")), row.get("name")) for row in held]
    for line in (delivered.plan or {}).get("order", {}).get("lines", []):
        planned = (line.get("product_id"), line.get("name"))
        if planned in surplus:
            surplus.remove(planned)
    extra = []
    for line in change.extra_lines:
        if (line.product_id, line.name) in surplus:
            surplus.remove((line.product_id, line.name))  # added by an earlier attempt
        else:
            extra.append(line)
    if not extra:
        return
    values = [[0, 0, line.odoo_values()] for line in extra]
    adapter.write(ORDER_MODEL, [delivered.order_id], {"order_line": values})
    current_hub().audit.record(
        actor="handoff",
        action="amend",
        system=odoo,
        model=ORDER_MODEL,
        record_id=str(delivered.order_id),
        canonical_id=key,
        after={"added_lines": [line.name for line in extra]},
        correlation_id=_correlation(),
    )


def _plain_id(value: Any) -> Any:
    return value[0] if isinstance(value, list | tuple) and value else value


def rebind(
    odoo: str, key: str, fingerprint: dict[str, Any], delivered: DeliveredOrder, current: Any
) -> None:
    current_hub().bindings.bind(
        odoo,
        ORDER_MODEL,
        str(delivered.order_id),
        canonical_type="deal",
        canonical_id=key,
        content=fingerprint,
        snapshot=current.model_dump(mode="json"),
    )
