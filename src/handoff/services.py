"""Operations on the hub shared by the CLI, the API and the console: one implementation each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.registry import connectors_for
from handoff.engine import flows
from handoff.engine.breaker import CircuitView

# Operations implemented below the services (flows lift gates too) and offered here to the CLI,
# the API and the console like every other; ``as`` marks the re-exports.
from handoff.engine.runs import flow_output as flow_output
from handoff.engine.runtime import Hub
from handoff.flows.delivery_roles import PARTNER_MODEL, attach_external_id
from handoff.flows.gates import GATE_TOPIC as GATE_TOPIC
from handoff.flows.gates import deal_key as deal_key
from handoff.flows.gates import satisfy_gate
from handoff.store.inbox import IncomingEvent
from handoff.store.models import ExceptionRecord, ExceptionStatus, InboxEvent


class OperationError(Exception):
    """An operator's request that cannot be carried out, with the reason to show them."""


@dataclass(frozen=True)
class FlowRun:
    workflow_id: str
    flow: str
    status: str
    queue: str | None
    entity: str | None
    executor: str | None
    created_at: datetime | None
    updated_at: datetime | None
    error: str | None
    forked_from: str | None


@dataclass(frozen=True)
class FlowStep:
    number: int
    name: str
    outcome: str
    started_at: datetime | None
    finished_at: datetime | None


def _when(epoch_ms: int | None) -> datetime | None:
    return None if epoch_ms is None else datetime.fromtimestamp(epoch_ms / 1000, UTC)


def _run(status: Any) -> FlowRun:
    return FlowRun(
        workflow_id=status.workflow_id,
        flow=status.name,
        status=status.status,
        queue=status.queue_name,
        entity=status.queue_partition_key,
        executor=status.executor_id,
        created_at=_when(status.created_at),
        updated_at=_when(status.updated_at),
        error=None if status.error is None else str(status.error),
        forked_from=status.forked_from,
    )


def list_flow_runs(
    hub: Hub, *, status: str | None = None, flow: str | None = None, limit: int = 50
) -> list[FlowRun]:
    client = flows._client(hub)
    found = client.list_workflows(
        status=status.upper() if status else None,
        name=flow,
        limit=limit,
        sort_desc=True,
        load_input=False,
        load_output=False,
    )
    return [_run(s) for s in found]


def show_flow_run(hub: Hub, workflow_id: str) -> tuple[FlowRun, list[FlowStep]]:
    client = flows._client(hub)
    found = client.list_workflows(workflow_ids=[workflow_id], load_input=False, load_output=False)
    if not found:
        raise OperationError(f"no flow run {workflow_id!r}; see `handoff flows list`")
    steps = [
        FlowStep(
            number=step["function_id"],
            name=step["function_name"],
            outcome="error: " + str(step["error"]) if step["error"] is not None else "ok",
            started_at=_when(step["started_at_epoch_ms"]),
            finished_at=_when(step["completed_at_epoch_ms"]),
        )
        for step in client.list_workflow_steps(workflow_id, load_output=False)
    ]
    return _run(found[0]), steps


def replay_flow_run(hub: Hub, workflow_id: str, *, from_step: int | None = None) -> str:
    """Run a flow again from ``from_step`` (default: the start) as a new run on its own queue;
    steps before ``from_step`` keep their recorded results, later ones run again."""
    run, steps = show_flow_run(hub, workflow_id)
    if run.status in ("PENDING", "ENQUEUED"):
        raise OperationError(f"flow run {workflow_id} is still {run.status.lower()}; let it finish")
    return _fork(hub, run, steps, from_step if from_step is not None else 1)


def _fork(hub: Hub, run: FlowRun, steps: list[FlowStep], start: int) -> str:
    if start < 1 or (steps and start > steps[-1].number + 1):
        last = steps[-1].number if steps else 0
        raise OperationError(f"--from-step must be between 1 and {last + 1}")
    handle = flows._client(hub).fork_workflow(
        run.workflow_id,
        start,
        queue_name=run.queue or None,
        queue_partition_key=run.entity or None,
    )
    new_id: str = handle.get_workflow_id()
    hub.audit.record(
        actor="operator",
        action="replay",
        system="handoff",
        model="flow",
        record_id=new_id,
        after={"replayed": run.workflow_id, "from_step": start},
        workflow_id=new_id,
    )
    return new_id


def retry_exception(hub: Hub, exception_id: int, *, by: str = "operator") -> str:
    record = _exception(hub, exception_id)
    if record.status not in (ExceptionStatus.OPEN, ExceptionStatus.RETRYING):
        raise OperationError(f"exception {exception_id} is {record.status}; nothing to retry")
    if not record.workflow_id:
        raise OperationError(f"exception {exception_id} did not come from a flow run")
    # A person fixed something (reference data in Odoo, the deal in the CRM): a flow that reads
    # it in an earlier step must read it again, not replay the checkpointed read.
    flows.load_flow_modules(hub.settings)
    start = flows.retry_step(record.flow, record.step)
    # The exception is the run's last recorded step (flow.exception): every step the fork keeps
    # is recorded, whether or not the engine has yet marked the run as ended.
    run, steps = show_flow_run(hub, record.workflow_id)
    new_id = _fork(hub, run, steps, start)
    with hub.store.session() as session:
        row = session.get(ExceptionRecord, exception_id)
        assert row is not None
        row.status = ExceptionStatus.RETRYING
        row.workflow_id = new_id
        row.resolution = f"retried by {by} as {new_id}"
    return new_id


def ignore_exception(hub: Hub, exception_id: int, *, reason: str, by: str = "operator") -> None:
    if not reason.strip():
        raise OperationError("say why the exception is ignored (--reason)")
    record = _exception(hub, exception_id)
    if record.status in (ExceptionStatus.RESOLVED, ExceptionStatus.IGNORED):
        raise OperationError(f"exception {exception_id} is already {record.status}")
    hub.exceptions.set_status(exception_id, ExceptionStatus.IGNORED, by=by, resolution=reason)
    hub.audit.record(
        actor=by,
        action="ignore",
        system="handoff",
        model="exception",
        record_id=str(exception_id),
        after={"reason": reason},
        correlation_id=record.correlation_id,
    )


def _exception(hub: Hub, exception_id: int) -> ExceptionRecord:
    record = hub.exceptions.get(exception_id)
    if record is None:
        raise OperationError(f"no exception {exception_id}; see `handoff exceptions list`")
    return record


def circuits(hub: Hub) -> list[CircuitView]:
    known = {view.system: view for view in hub.breakers.all()}
    for name in hub.settings.systems:
        known.setdefault(name, hub.breakers.view(name))
    return sorted(known.values(), key=lambda v: v.system)


def queue_depths(hub: Hub) -> dict[tuple[str, str], int]:
    """Flows enqueued or running, per queue, read straight from the engine's status table (in
    the store's database)."""
    engine = hub.store.engine
    table = "dbos.workflow_status" if engine.dialect.name == "postgresql" else "workflow_status"
    query = sa.text(
        f"SELECT queue_name, status, COUNT(*) FROM {table} "
        "WHERE status IN ('ENQUEUED', 'PENDING') AND queue_name IS NOT NULL "
        "GROUP BY queue_name, status"
    )
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        return {}  # the engine has not created its tables yet: nothing is queued
    return {(str(q), str(s).lower()): int(n) for q, s, n in rows}


def envelope_completed(hub: Hub, crm: str, deal_id: str, envelope_id: str) -> bool:
    """A DocuSign envelope was completed for ``crm``'s deal: lift its signed_sow gate (True); for
    a deal the hub does not know, keep the envelope for audit (it starts nothing) and raise an
    exception for a person, lifting no gate (False)."""
    key = deal_key(crm, deal_id)
    if _deal_is_known(hub, key):
        satisfy_gate(hub, key, "signed_sow", by="docusign", evidence={"envelope_id": envelope_id})
        return True
    hub.inbox.accept_many(
        "docusign",
        [
            IncomingEvent(
                source_event_id=f"envelope-completed:{envelope_id}",
                entity_key=key,
                kind="envelope-completed",
                payload={"envelope_id": envelope_id, "deal": key},
            )
        ],
    )
    hub.exceptions.raise_for(
        BusinessRuleError(
            f"envelope {envelope_id} was completed for {key}, a deal the hub does not know; "
            "its signed_sow gate was not lifted",
            rule="docusign.unknown_deal",
            value=key,
            suggested_fix="check the envelope's handoff_deal field in DocuSign. If the deal is "
            "real but has not reached the hub yet, republish the envelope from DocuSign Connect "
            "once it has; if the reference is wrong, correct the template and ignore this "
            "exception",
            context={"envelope_id": envelope_id, "deal": key},
        ),
        flow="docusign",
        record=key,
    )
    return False


def _deal_is_known(hub: Hub, key: str) -> bool:
    """Whether the hub has seen the deal: an event of it from its CRM, a gate, or a binding."""
    if hub.gates.for_deal(key) or hub.bindings.for_canonical("deal", key):
        return True
    with hub.store.session() as session:
        seen = session.scalar(
            sa.select(InboxEvent.id)
            .where(InboxEvent.entity_key == key, InboxEvent.source != "docusign")
            .limit(1)
        )
    return seen is not None


def approve(hub: Hub, gate_id: int, *, by: str) -> None:
    row = hub.gates.get(gate_id)
    if row is None:
        raise OperationError(f"no approval {gate_id}; see `handoff approvals list`")
    if row.gate != "approval":
        raise OperationError(
            f"{gate_id} waits for {row.gate}, which is lifted by its own system, not by hand"
        )
    if row.status == "satisfied":
        raise OperationError(f"approval {gate_id} was already given by {row.satisfied_by}")
    satisfy_gate(hub, row.deal_key, row.gate, by=by)


NOT_SAME_MODEL = "customer.not_same"


def customer_key(source: str, external_id: str) -> str:
    return f"{source}:customer:{external_id}"


def bind_customer(hub: Hub, source: str, external_id: str, partner_id: int, *, by: str) -> None:
    """A person's decision: this CRM customer is that Odoo partner (resolves an ambiguous match),
    in the Odoo system the CRM system ``source`` feeds (``systems.<source>.odoo``)."""
    try:
        odoo = hub.settings.odoo_for(source)
    except LookupError as error:
        raise OperationError(str(error)) from None
    adapter = connectors_for(hub.settings).odoo(odoo).odoo
    if not adapter.read(PARTNER_MODEL, [partner_id], ["name"]):
        raise OperationError(f"Odoo ({odoo}) has no partner {partner_id}")
    attach_external_id(adapter, source, PARTNER_MODEL, external_id, partner_id)
    key = customer_key(source, external_id)
    hub.bindings.bind(
        odoo, PARTNER_MODEL, str(partner_id), canonical_type="customer", canonical_id=key
    )
    hub.audit.record(
        actor=by,
        action="bind",
        system=odoo,
        model=PARTNER_MODEL,
        record_id=str(partner_id),
        canonical_id=key,
        after={"decided_by": by},
    )


def mark_different(
    hub: Hub, source: str, external_id: str, partner_ids: list[int], *, by: str
) -> None:
    """A person's decision: this CRM customer is none of these partners (never match them)."""
    key = customer_key(source, external_id)
    for partner_id in partner_ids:
        hub.bindings.bind(
            "handoff",
            NOT_SAME_MODEL,
            f"{key}:{partner_id}",
            canonical_type="customer",
            canonical_id=key,
        )
    hub.audit.record(
        actor=by,
        action="mark_different",
        system="handoff",
        model="customer",
        record_id=key,
        canonical_id=key,
        after={"not_partners": partner_ids},
    )


def partners_marked_different(hub: Hub, source: str, external_id: str) -> list[int]:
    return [
        int(b.external_id.rsplit(":", 1)[1])
        for b in hub.bindings.for_canonical("customer", customer_key(source, external_id))
        if b.model == NOT_SAME_MODEL
    ]
