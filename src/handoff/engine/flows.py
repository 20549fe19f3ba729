"""Flows are durable workflows that only sequence roles; this module registers them, routes inbox
events to them, and turns every failure into an exception record a person can act on."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from dbos import DBOS, EnqueueOptions
from dbos._queue import QueueRateLimit
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.orm import Session

from handoff.canonical.errors import HandoffError, classify_exception
from handoff.engine import failpoints
from handoff.engine.runtime import APP_VERSION, DEFAULT_QUEUE, Hub, current_hub
from handoff.engine.steps import CircuitWait
from handoff.engine.targets import running, systems_for, target_of
from handoff.observability.logging import bound_context, get_logger
from handoff.observability.metrics import (
    BATCH_EVENTS,
    EVENTS_RECEIVED,
    FLOWS_FAILED,
    FLOWS_STARTED,
    FLOWS_SUCCEEDED,
)
from handoff.store.inbox import AcceptResult, IncomingEvent
from handoff.store.models import InboxStatus

if TYPE_CHECKING:
    from handoff.config import Settings

log = get_logger("handoff.flows")

# Modules whose import registers the product's flows; tests and plugins add their own through
# handoff.yaml's runtime.flow_modules so every process knows them.
BUILTIN_FLOW_MODULES: tuple[str, ...] = (
    "handoff.flows.deal_to_delivery",
    "handoff.flows.time_entries",
    "handoff.flows.invoicing",
    "handoff.flows.payments",
    "handoff.flows.billing_run",
    "handoff.flows.polling",  # the jobs of the hub's schedules
)


class FlowEvent(BaseModel):
    """What a flow receives: the inbox event it was started for."""

    inbox_id: int
    source: str
    kind: str
    entity_key: str
    correlation_id: str
    payload: dict[str, Any]
    # The configured system the run works against (queue, breaker, bindings), resolved from the
    # source when enqueued (``handoff.engine.targets``); None only in runs enqueued before.
    target: str | None = None


FlowFunction = Callable[[FlowEvent], Any]

# Where `handoff exceptions retry` starts a failed run again:
# - "failed_step": the step that failed (or the one that would have run next); every earlier step
#   replays its recorded output. Right for a flow whose earlier steps only wrote.
# - "start": the whole flow runs again, so every read sees what the person fixed (a tax created
#   in Odoo, a deal corrected in the CRM). Only for flows whose writes are idempotent (external
#   ids, client references, bindings): the writes that already happened are found, not repeated.
RetryFrom = Literal["failed_step", "start"]


@dataclass(frozen=True)
class BatchPolicy:
    """How many waiting events of one entity go to one run, and how long the oldest may wait
    for its group to fill (``handoff.engine.batches``)."""

    size: int
    linger_ms: int


@dataclass(frozen=True)
class FlowSpec:
    name: str
    queue: str
    record: Callable[[FlowEvent], str]
    workflow: Callable[[dict[str, Any]], Any]
    retry_from: RetryFrom = "failed_step"
    module: str = ""  # where the flow is defined
    # A flow that takes batches: its run handles the events queued for it besides its own
    # (``batch_mates``), and this is its default policy; None: one run per event.
    batch: BatchPolicy | None = None


@dataclass(frozen=True)
class QueueSpec:
    name: str
    concurrency: int | None  # across every worker
    limiter: QueueRateLimit | None
    polling_interval_sec: float = 0.05
    worker_concurrency: int | None = None  # in one worker process (None: ``concurrency``)


_FLOWS: dict[str, FlowSpec] = {}


def flow(
    name: str,
    *,
    queue: str = DEFAULT_QUEUE,
    record: Callable[[FlowEvent], str] | None = None,
    retry_from: RetryFrom = "failed_step",
    batch: BatchPolicy | None = None,
) -> Callable[[FlowFunction], FlowFunction]:
    """Register ``fn`` as the durable flow ``name`` run on the queue of system ``queue``: a kind
    (``"odoo"``) means the system of that kind each run's event feeds, by name
    (``handoff.engine.targets``); ``retry_from`` says where a retry of its exception starts. With
    ``batch``, the flow takes batches: ``fn`` must finish or release the events queued for its
    run besides its own (``batch_mates``); ``batch`` is its default size and linger time."""

    def register(fn: FlowFunction) -> FlowFunction:
        describe = record or (lambda event: f"{event.source}:{event.entity_key}")

        def run(event_data: dict[str, Any]) -> Any:
            event = FlowEvent.model_validate(event_data)
            if event.target is None:
                settings = current_hub().settings
                event.target = queue_of(_FLOWS[name], settings, event.source)
            workflow_id = DBOS.workflow_id or ""
            with (
                running(event.target),
                bound_context(
                    correlation_id=event.correlation_id, flow=name, workflow_id=workflow_id
                ),
            ):
                DBOS.run_step({"name": "flow.start"}, _started, name, event.inbox_id, workflow_id)
                try:
                    result = fn(event)
                except Exception as raw:
                    error = classify_exception(raw, system=name)
                    step = _failed_step(workflow_id)
                    DBOS.run_step(
                        {"name": "flow.exception"},
                        _record_failure,
                        name,
                        describe(event),
                        event.model_dump(mode="json"),
                        workflow_id,
                        step,
                        error,
                    )
                    raise error from None
                DBOS.run_step(
                    {"name": "flow.finish"},
                    _finished,
                    name,
                    event.inbox_id,
                    workflow_id,
                    describe(event),
                )
                return result

        run.__name__ = run.__qualname__ = f"flow_{name}"
        workflow = DBOS.workflow(name=name)(run)
        _FLOWS[name] = FlowSpec(
            name=name,
            queue=queue,
            record=describe,
            workflow=workflow,
            retry_from=retry_from,
            module=fn.__module__,
            batch=batch,
        )
        return fn

    return register


def registered() -> dict[str, FlowSpec]:
    return dict(_FLOWS)


def retry_step(flow_name: str, failed_step: int | None) -> int:
    """The step a retry of a failed run of ``flow_name`` forks from (1 is the start)."""
    spec = _FLOWS.get(flow_name)
    if spec is not None and spec.retry_from == "start":
        return 1
    return max(1, failed_step or 1)


def load_flow_modules(settings: Settings | None = None) -> None:
    """Register the product's flows and those of handoff.yaml's ``runtime.flow_modules``."""
    extra = settings.runtime.flow_modules if settings is not None else []
    for module in (*BUILTIN_FLOW_MODULES, *extra):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as missing:
            if missing.name is None or not module.startswith(missing.name):
                raise
            raise ValueError(
                f"runtime.flow_modules: no module named {module!r} where this process runs "
                "(check the name and that its package is installed or on PYTHONPATH)"
            ) from None


def batch_policy(flow_name: str, settings: Settings) -> BatchPolicy | None:
    """The batch policy of a flow: ``flows.<name>.batch`` from handoff.yaml, else the flow's
    own; None for one run per event (a flow that takes no batch, or ``batch: false``)."""
    spec = _FLOWS.get(flow_name)
    configured = settings.flows.get(flow_name)
    setting = configured.batch if configured is not None else None
    if spec is None or spec.batch is None:
        if setting is not None and setting.enabled:
            raise ValueError(
                f"flows.{flow_name}.batch: flow {flow_name!r} takes no batches (it has one run "
                "per event); delete the key"
            )
        return None
    if setting is None:
        return spec.batch
    if not setting.enabled:
        return None
    return BatchPolicy(size=setting.size, linger_ms=setting.linger_ms)


def batching_flows(settings: Settings) -> dict[str, BatchPolicy]:
    """Every registered flow that batches, with its policy (raises on a misplaced setting)."""
    policies = {name: batch_policy(name, settings) for name in _FLOWS}
    for name in settings.flows:
        batch_policy(name, settings)  # a setting for a flow this process does not know
    return {name: policy for name, policy in policies.items() if policy is not None}


def queue_specs(settings: Settings) -> list[QueueSpec]:
    """One queue per target system, with that system's concurrency and rate limit."""
    names = {
        name
        for spec in _FLOWS.values()
        for name in systems_for(settings, spec.queue, _configured_queue(spec, settings))
    } | {DEFAULT_QUEUE}
    specs = []
    for name in sorted(names):
        system = settings.systems.get(name)
        limiter: QueueRateLimit | None = None
        concurrency: int | None = None
        per_worker: int | None = None
        if system is not None:
            concurrency = per_worker = system.concurrency
            if system.worker_concurrency is not None:
                per_worker = min(system.worker_concurrency, system.concurrency)
            if system.rate_limit is not None:
                limiter = {
                    "limit": system.rate_limit.calls,
                    "period": system.rate_limit.per_seconds,
                }
        specs.append(
            QueueSpec(
                name=name,
                concurrency=concurrency,
                limiter=limiter,
                worker_concurrency=per_worker,
            )
        )
    return specs


def queue_of(spec: FlowSpec, settings: Settings, source: str = "") -> str:
    """The queue (and target system) of a run of the flow for an event of ``source``:
    `flows.<name>.queue` from handoff.yaml, else the system of the kind it declares that the
    source feeds (``handoff.engine.targets.target_of``), else the queue it declares."""
    return target_of(settings, spec.queue, source, _configured_queue(spec, settings))


def _configured_queue(spec: FlowSpec, settings: Settings) -> str | None:
    configured = settings.flows.get(spec.name)
    return configured.queue if configured is not None and configured.queue else None


def workflow_id_for(inbox_id: int, flow_name: str) -> str:
    # Zero-padded inbox id first: DBOS breaks created-at ties by workflow id, so events of one
    # entity enqueued in the same millisecond still start in arrival order.
    return f"{inbox_id:012d}-{flow_name}"


# A stored event whose run is to be enqueued: its inbox id, the event, its correlation id.
Startable = tuple[int, IncomingEvent, str]


def submit(hub: Hub, source: str, events: Sequence[IncomingEvent]) -> list[AcceptResult]:
    """Store events and enqueue the flow of every new one in ONE transaction of the store's
    database, where the engine's tables are too: whatever dies on the way, either the events are
    stored with their runs enqueued, or nothing is (the source redelivers; the inbox dedups).
    Duplicates start nothing."""
    for event in events:
        if event.flow is not None and event.flow not in _FLOWS:
            raise ValueError(f"event {event.source_event_id}: unknown flow {event.flow!r}")
    policies = {
        name: policy
        for name in {event.flow for event in events if event.flow is not None}
        if (policy := batch_policy(name, hub.settings)) is not None
    }
    with hub.store.session() as session:
        results = hub.inbox.accept_many(source, events, session=session, waiting=policies)
        fresh = [
            (result.inbox_id, event, result.correlation_id)
            for event, result in zip(events, results, strict=True)
            if not result.duplicate and event.flow is not None
        ]
        enqueue_runs(hub, session, [item for item in fresh if item[1].flow not in policies],
                     source)  # fmt: skip
        # A batching flow's events wait for their group; a group this delivery filled gets
        # its run now, in this transaction (the others: the dispatcher, once they lingered).
        groups = {(item[1].flow, item[1].entity_key) for item in fresh if item[1].flow in policies}
        for flow_name, entity_key in sorted(groups, key=str):
            assert flow_name is not None
            dispatch_full(hub, session, flow_name, entity_key, policies[flow_name].size)
    # Counted once committed: a delivery undone by a crash above is counted when redelivered.
    for result in results:
        EVENTS_RECEIVED.labels(source, str(result.duplicate).lower()).inc()
    return results


def enqueue_runs(
    hub: Hub, session: Session, items: Sequence[Startable], sources: str | Mapping[int, str]
) -> None:
    """Enqueue the flow run of each stored event and mark the event queued, inside the caller's
    transaction (``session``, on the store's database, which holds the engine's tables): no
    worker sees a run before the transaction commits, and a crash before it leaves neither the
    events nor their runs. ``sources``: the events' source, or each one's by inbox id."""
    if not items:
        return
    failpoints.reached(failpoints.INBOX_ACCEPTED)  # stored, nothing enqueued: all undone
    client = _client(hub)
    queued: dict[int, str] = {}
    for inbox_id, event, correlation_id in items:
        assert event.flow is not None
        spec = _FLOWS[event.flow]
        workflow_id = workflow_id_for(inbox_id, spec.name)
        source = sources if isinstance(sources, str) else sources[inbox_id]
        target = queue_of(spec, hub.settings, source)
        options: EnqueueOptions = {
            "workflow_name": spec.name,
            "queue_name": target,
            "workflow_id": workflow_id,
            "queue_partition_key": event.entity_key,
            "app_version": APP_VERSION,
        }
        flow_event = FlowEvent(
            inbox_id=inbox_id,
            source=source,
            kind=event.kind,
            entity_key=event.entity_key,
            correlation_id=correlation_id,
            payload=event.payload,
            target=target,
        )
        client.enqueue_in_transaction(session, options, flow_event.model_dump(mode="json"))
        if not queued:
            failpoints.reached(failpoints.FIRST_ENQUEUED)  # one run enqueued: all undone
        queued[inbox_id] = workflow_id
    hub.inbox.mark_queued(session, queued)


def dispatch_full(hub: Hub, session: Session, flow_name: str, entity_key: str, size: int) -> int:
    """Give every full group of ``size`` waiting events of one flow and entity a run of its
    own, in the caller's transaction; the events left (fewer than ``size``) go on waiting.
    Returns the events dispatched."""
    dispatched = 0
    while hub.inbox.waiting_count(session, flow_name, entity_key, size) >= size:
        taken = dispatch_group(hub, session, flow_name, entity_key, size)
        if not taken:
            break  # the group is another transaction's (PostgreSQL): its dispatcher goes on
        dispatched += taken
    return dispatched


def dispatch_group(hub: Hub, session: Session, flow_name: str, entity_key: str, size: int) -> int:
    """Claim up to ``size`` waiting events of one flow and entity (oldest first) and, in the
    caller's transaction, enqueue one run for them: the run of the first (its workflow id),
    the others queued for it (``batch_mates``). Returns the events claimed (0: none waited, or
    another transaction is dispatching this group)."""
    if not _group_lock(session, flow_name, entity_key):
        return 0
    claimed = hub.inbox.claim_waiting(session, flow_name, entity_key, size)
    if not claimed:
        return 0
    failpoints.reached(failpoints.BATCH_CLAIMED)  # claimed, no run enqueued: all undone
    leader = claimed[0]
    hub.inbox.assign(
        session,
        [item.inbox_id for item in claimed[1:]],
        workflow_id_for(leader.inbox_id, flow_name),
    )
    event = IncomingEvent(
        source_event_id=leader.source_event_id,
        entity_key=leader.entity_key,
        kind=leader.kind,
        payload=leader.payload,
        flow=leader.flow,
    )
    enqueue_runs(hub, session, [(leader.inbox_id, event, leader.correlation_id)], leader.source)
    BATCH_EVENTS.labels(flow_name).observe(len(claimed))
    return len(claimed)


def _group_lock(session: Session, flow_name: str, entity_key: str) -> bool:
    """One dispatcher at a time per group, so an entity's groups are claimed, and their runs
    enqueued, in arrival order: on PostgreSQL a transaction-scoped advisory lock (not waited
    for: a group another worker is dispatching is skipped); SQLite has one writer at a time."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.scalar(
            text("SELECT pg_try_advisory_xact_lock(hashtext(:key))"),
            {"key": f"handoff.batch:{flow_name}:{entity_key}"},
        )
    )


def batch_mates(workflow_id: str, own_inbox_id: int) -> list[tuple[int, dict[str, Any]]]:
    """The events queued for a batch run besides its own (inbox id, payload), oldest first."""
    return current_hub().inbox.batch_mates(workflow_id, own_inbox_id)


def finish_batch_mates(done: Sequence[int], own_run: Sequence[int]) -> None:
    """What a batch run does with its batch-mates, as one durable step of it: ``done`` are
    finished (one statement); ``own_run`` each get a run of their own, enqueued now, after
    this one in their partition (their own outcome, their own exception: an event the batch
    could not finish is never left queued behind it)."""
    hub = current_hub()
    if done:
        with hub.store.session() as session:
            hub.inbox.mark_done(session, list(done))
    if not own_run:
        return
    rows = [row for row in (hub.inbox.get(inbox_id) for inbox_id in own_run) if row is not None]
    _enqueue(
        hub,
        None,
        [
            (
                row.id,
                IncomingEvent(
                    source_event_id=row.source_event_id,
                    entity_key=row.entity_key,
                    kind=row.kind,
                    payload=row.payload,
                    flow=row.flow,
                ),
                row.correlation_id,
            )
            for row in rows
        ],
        sources={row.id: row.source for row in rows},
    )


def _enqueue(
    hub: Hub,
    source: str | None,
    items: Sequence[Startable],
    sources: Mapping[int, str] | None = None,
) -> None:
    """:func:`enqueue_runs` in a transaction of its own (``timesheets.push`` gives events of a
    batch a run of their own with it)."""
    with hub.store.session() as session:
        enqueue_runs(hub, session, list(items), source if source is not None else sources or {})


_clients: dict[str, Any] = {}


def _client(hub: Hub) -> Any:
    url = hub.system_database_url()
    if url not in _clients:
        _clients[url] = hub.client()
    return _clients[url]


def steps_of(hub: Hub, workflow_id: str) -> list[dict[str, Any]]:
    """A run's recorded steps so far, in order (none before a worker takes it)."""
    return list(_client(hub).list_workflow_steps(workflow_id, load_output=False))


def run_status(hub: Hub, workflow_id: str) -> str | None:
    """The engine's status of a run (ENQUEUED, PENDING, SUCCESS, ERROR, ...), None if unknown."""
    found = _client(hub).list_workflows(workflow_ids=[workflow_id], load_input=False,
                                        load_output=False)  # fmt: skip
    return str(found[0].status) if found else None


def close_clients() -> None:
    for client in _clients.values():
        client.destroy()
    _clients.clear()


def _failed_step(workflow_id: str) -> int:
    """The durable step to replay from: the one that failed, else the next one to run."""
    steps = DBOS.list_workflow_steps(workflow_id)
    own = [s for s in steps if not str(s["function_name"]).startswith("DBOS.")]
    for step in reversed(own):
        # A recorded circuit wait is not a failure: the call after it is the one to retry.
        if step.get("error") is not None and not isinstance(step["error"], CircuitWait):
            return int(step["function_id"])
    return int(steps[-1]["function_id"]) + 1 if steps else 0


def _started(flow_name: str, inbox_id: int, workflow_id: str) -> None:
    FLOWS_STARTED.labels(flow_name).inc()
    log.info("flow started", extra={"inbox_id": inbox_id})


def _finished(flow_name: str, inbox_id: int, workflow_id: str, record: str) -> None:
    hub = current_hub()
    # The inbox's "done" comes last: whoever sees it finds the flow's bookkeeping complete.
    hub.exceptions.resolve_workflow(workflow_id, by="handoff", flow=flow_name, record=record)
    hub.inbox.mark(inbox_id, InboxStatus.DONE)
    FLOWS_SUCCEEDED.labels(flow_name).inc()
    log.info("flow finished", extra={"inbox_id": inbox_id})


def _record_failure(
    flow_name: str,
    record: str,
    event: dict[str, Any],
    workflow_id: str,
    step: int,
    error: HandoffError,
) -> int:
    hub = current_hub()
    exception_id = hub.exceptions.raise_for(
        error,
        flow=flow_name,
        record=record,
        workflow_id=workflow_id,
        step=step,
        correlation_id=event["correlation_id"],
    )
    hub.inbox.mark(event["inbox_id"], InboxStatus.FAILED)
    FLOWS_FAILED.labels(flow_name, error.kind.value).inc()
    log.warning(
        "flow failed: %s",
        error.message,
        extra={"exception_id": exception_id, "rule": error.rule, "kind": error.kind.value},
    )
    return exception_id
