"""The batch dispatcher: the waiting events of a batching flow become one run per group.

A flow that takes batches (``@flow(..., batch=BatchPolicy(...))``, tuned or turned off by
``flows.<name>.batch`` in handoff.yaml) does not get one run per event: ``flows.submit`` stores
its events *waiting* (inbox status ``waiting``) in the ingress transaction, and a group, the
waiting events of one flow and one entity (the run's queue partition: a partition of time
entries, a deal), gets ONE run once it holds ``size`` events (at once, in the transaction that
filled it: ``flows.dispatch_full``) or once its oldest event has waited ``linger_ms``
(here). Dispatching a group is one transaction of the store's database, which holds the engine's
tables: claim the group's oldest waiting rows (marked queued for the run of the first one),
enqueue that run (``flows.dispatch_group``). A crash before the commit leaves the rows waiting,
a crash after it leaves them queued for a run that is enqueued: no event is ever stored without
a way to its run, and none is dispatched twice.

Where it runs, and why: a loop thread in every process that runs flows (``launcher.launch``), not a
scheduled workflow. The engine's schedules tick once a second at best, and a linger of 200 ms
would become a second; a scheduled tick is itself a workflow with its bookkeeping, written
five times a second by every worker for nothing most of the time. The loop only reads (one
grouped query over a partial index that holds only waiting rows) until a group is due, and the
claim makes N loops safe: on PostgreSQL a transaction-scoped advisory lock per group (a group
another worker is dispatching is skipped, so an entity's groups are claimed one after the other,
in arrival order) and FOR UPDATE SKIP LOCKED on the rows; on SQLite one writer at a time, the
claim being the transaction's first write. With no worker running, events wait, as runs
enqueued with no worker would.

Linger, adaptively: a partial group is not dispatched while a run of the same flow and entity
still waits in the queue (ENQUEUED, not started): its run would only queue behind that one, so
the group keeps growing meanwhile (up to ``size``, which dispatches at once). Under load the
groups so grow to what one run can take while the previous one runs; idle, an event waits
``linger_ms`` at most.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.observability.logging import get_logger

log = get_logger("handoff.batches")

MIN_TICK_SECONDS = 0.02
MAX_TICK_SECONDS = 0.5


def dispatch_due(hub: Hub, now: datetime | None = None) -> int:
    """Dispatch every group due now (full, or lingered with no run of its own waiting in the
    queue); returns the events dispatched."""
    policies = flows.batching_flows(hub.settings)
    if not policies:
        return 0
    now = now or datetime.now(UTC)
    with hub.store.session() as session:
        groups = hub.inbox.waiting_groups(session, list(policies))
    dispatched = 0
    for group in groups:
        policy = policies[group.flow]
        oldest = group.oldest if group.oldest.tzinfo else group.oldest.replace(tzinfo=UTC)
        lingered = now - oldest >= timedelta(milliseconds=policy.linger_ms)
        with hub.store.session() as session:
            dispatched += flows.dispatch_full(
                hub, session, group.flow, group.entity_key, policy.size
            )
            if lingered and not _run_waiting(hub, session, group.flow, group.entity_key):
                dispatched += flows.dispatch_group(
                    hub, session, group.flow, group.entity_key, policy.size
                )
    return dispatched


def _run_waiting(hub: Hub, session: Session, flow_name: str, entity_key: str) -> bool:
    """Whether a run of this flow and entity is enqueued and not started yet."""
    schema = "dbos." if hub.store.dialect == "postgresql" else ""
    found = session.execute(
        text(
            f"SELECT 1 FROM {schema}workflow_status WHERE status = 'ENQUEUED' "
            "AND name = :flow AND queue_partition_key = :key LIMIT 1"
        ),
        {"flow": flow_name, "key": entity_key},
    ).first()
    return found is not None


class Dispatcher:
    """The loop of one process: every tick, the groups due are dispatched."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick_seconds(self) -> float | None:
        """A quarter of the shortest linger (bounded); None when no flow batches."""
        policies = flows.batching_flows(self.hub.settings)
        if not policies:
            return None
        shortest = min(policy.linger_ms for policy in policies.values()) / 1000.0
        return min(MAX_TICK_SECONDS, max(MIN_TICK_SECONDS, shortest / 4))

    def start(self) -> None:
        if self.tick_seconds() is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="handoff-batches", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            tick = self.tick_seconds() or MAX_TICK_SECONDS  # settings may change (tests)
            try:
                dispatch_due(self.hub)
            except Exception:  # the database away for a moment: the next tick tries again
                log.exception("batch dispatch failed; retrying")
                tick = max(tick, 1.0)
            self._stop.wait(tick)
