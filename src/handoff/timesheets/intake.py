"""The one way records enter the hub, shared by the webhook and the file drop: every entry's
event stored in one transaction with what starts it (``flows.submit``): nothing half-imported,
nothing stored without its way to a run.

Batching is the engine's (``handoff.engine.batches``): the ``time_entry`` flow takes batches, so
its events are stored *waiting*, and the waiting entries of one partition, whatever delivery
brought them (one entry per webhook call, or thousands in a file), go to one run once
``flows.time_entry.batch.size`` of them wait (at once, in the transaction that stored the last
one) or once the oldest has waited ``linger_ms``. That run (the run of the group's first event)
pushes the new approved billable ones to Odoo in one ``create`` per model
(``handoff.flows.time_entries``) and finishes the others in bulk.

Why this cannot reorder an entry's revisions: the partition key of every time-entry run (a
batch, or a run of its own) is the entry's partition (``records.entity_key``: a stable hash of
the entry key, one partition by default), so every run that touches an entry runs in the same
ordered partition, one at a time, in the order the runs were enqueued; a group is cut per
partition, and the groups of one partition are claimed oldest event first, one dispatcher at a
time (``flows.dispatch_group``), so a later revision never reaches a run enqueued before the run
of an earlier one. Inside a batch, an entry's revisions are folded into the latest (the older
ones recorded as superseded); an entry pushed before, or whose earlier revision still waits for a
run of its own (released by an earlier batch, so ahead in the partition), gets a run of its own
after the batch (``push.sort_batch``). Why not one partition per project, as before: a run would
then hold 50 entries (20 projects x 1,000 per request), and the fixed cost per run and per Odoo
call made the push 5x slower than Odoo's own limit; and a batch across projects in a project's
partition could race with a run of the same entry in another. ``flows: {time_entry: {batch:
false}}`` in handoff.yaml starts one run per entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.store.inbox import AcceptResult
from handoff.timesheets.records import TIMETRACKER_SYSTEM, DeliveryRecord, to_events


def submit_records(
    hub: Hub,
    records: Sequence[DeliveryRecord],
    *,
    source: str = TIMETRACKER_SYSTEM,
    on_started: Callable[[int], None] | None = None,
) -> list[AcceptResult]:
    """Store every record's event atomically, with the runs of the groups it fills; duplicates
    (same entry and revision) start nothing. ``on_started(n)`` reports new events handed over
    (time entries count in events received like any event)."""
    events = to_events(records, hub.settings.time_entries.partitions)
    results = flows.submit(hub, source, events)
    if on_started is not None:
        on_started(sum(not result.duplicate for result in results))
    return results
