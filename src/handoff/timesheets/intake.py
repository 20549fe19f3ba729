"""The one way records enter the hub, shared by the webhook and the file drop: every entry's
event stored, its batch assigned and the batches' runs enqueued in one transaction
(``flows.enqueue_runs``): nothing half-imported, nothing stored without its run.

Batching: the new entries delivered together (up to ``time_entries.batch_limit``, any projects) are handed to one
run (the first entry's, the batch's *leader*), which pushes the new approved billable ones to
Odoo in one ``create`` per model (``handoff.flows.time_entries``). Intake marks the other events
queued for the leader's workflow id in the transaction that stores them and enqueues the leader.

Why this cannot reorder an entry's revisions: the partition key of every time-entry run (a
batch, or a run of its own) is the entry's partition (``records.entity_key``: a stable hash of
the entry key, one partition by default), so every run that touches an entry runs in the same
ordered partition, one at a time, in arrival order; a batch is cut per partition. Inside a
batch, an entry's revisions are folded into the latest (the older ones recorded as superseded);
an entry pushed before, or whose earlier revision still waits for a run of its own (released by
an earlier batch, so ahead in the partition), gets a run of its own after the batch
(``push.sort_batch``). Why not one partition per project, as before: a run would then hold 50
entries (20 projects x 1,000 per request), and the fixed cost per run and per Odoo call made the
push 5x slower than Odoo's own limit; and a batch across projects in a project's partition could
race with a run of the same entry in another. ``time_entries: {batch: false}`` in handoff.yaml
starts one run per entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import update
from sqlalchemy.orm import Session

from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.observability.metrics import count_received
from handoff.store.inbox import AcceptResult, IncomingEvent
from handoff.store.models import InboxEvent, InboxStatus
from handoff.timesheets.records import FLOW, TIMETRACKER_SYSTEM, DeliveryRecord, to_events


def submit_records(
    hub: Hub,
    records: Sequence[DeliveryRecord],
    *,
    source: str = TIMETRACKER_SYSTEM,
    on_started: Callable[[int], None] | None = None,
) -> list[AcceptResult]:
    """Store every record's event atomically, then start the runs of the new ones; duplicates
    (same entry and revision) start nothing. ``on_started(n)`` reports events handed over."""
    events = to_events(records, hub.settings.time_entries.partitions)
    sizes: dict[int, int] = {}
    batching = hub.settings.time_entries  # handoff.yaml time_entries: batch, batch_limit
    with hub.store.session() as session:
        results = hub.inbox.accept_many(source, events, session=session)
        fresh = [
            (result.inbox_id, event, result.correlation_id)
            for event, result in zip(events, results, strict=True)
            if not result.duplicate
        ]
        leaders = (
            _assign_batches(session, fresh, sizes, batching.batch_limit)
            if batching.batch
            else fresh
        )
        flows.enqueue_runs(hub, session, leaders, source)
    count_received(source, results)  # time entries count in events received like any event
    if on_started is not None:
        on_started(sum(sizes.get(item[0], 1) for item in leaders))
    return results


def _assign_batches(
    session: Session, fresh: list[tuple[int, IncomingEvent, str]], sizes: dict[int, int], limit: int
) -> list[tuple[int, IncomingEvent, str]]:
    """Per project, the first event leads a batch of up to ``limit``; the rest are queued for
    the leader's workflow. Returns the leaders, to start; ``sizes`` gets each batch's size."""
    by_entity: dict[str, list[tuple[int, IncomingEvent, str]]] = {}
    for item in fresh:
        by_entity.setdefault(item[1].entity_key, []).append(item)
    leaders = []
    for items in by_entity.values():
        for start in range(0, len(items), limit):
            batch = items[start : start + limit]
            leader = batch[0]
            leaders.append(leader)
            sizes[leader[0]] = len(batch)
            followers = [item[0] for item in batch[1:]]
            if followers:
                session.execute(
                    update(InboxEvent)
                    .where(InboxEvent.id.in_(followers))
                    .values(
                        status=InboxStatus.QUEUED,
                        workflow_id=flows.workflow_id_for(leader[0], FLOW),
                    )
                )
    return sorted(leaders, key=lambda item: item[0])
