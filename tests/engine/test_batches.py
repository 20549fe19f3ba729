"""The batch dispatcher (handoff.engine.batches) claims each waiting event exactly once, whatever
the number of dispatchers at work at the same time, and gives each group of one entity one run,
the groups of an entity in arrival order. On SQLite and on PostgreSQL (FOR UPDATE SKIP LOCKED and
a per-group advisory lock), with four dispatchers racing over the same waiting events."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from engine.conftest import engine_settings
from engine.test_flows import events
from handoff.config import BatchConfig, FlowConfig
from handoff.engine import batches, flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.models import InboxStatus
from support.ledger import Ledger

ENTITIES = 12
PER_ENTITY = 6
SIZE = 4


@pytest.fixture
def hub(store_url: str, ledger: tuple[str, Ledger]) -> Iterator[Hub]:
    """A hub that stores and dispatches, and runs nothing: every run stays enqueued."""
    settings = engine_settings(store_url, ledger[0])
    batch = BatchConfig(size=SIZE, linger_ms=0)
    hub = start_hub(
        settings.model_copy(update={"flows": {"ledger_batch": FlowConfig(batch=batch)}})
    )
    try:
        yield hub
    finally:
        hub.shutdown()
        flows.close_clients()
        set_current_hub(None)


def _runs(hub: Hub) -> dict[str, str]:
    """Enqueued runs of the batching flow: workflow id -> partition."""
    table = "dbos.workflow_status" if hub.store.dialect == "postgresql" else "workflow_status"
    with hub.store.engine.connect() as connection:
        rows = connection.execute(
            sa.text(f"SELECT workflow_uuid, queue_partition_key FROM {table} WHERE name = :n"),
            {"n": "ledger_batch"},
        ).all()
    return {str(r[0]): str(r[1]) for r in rows}


def test_racing_dispatchers_claim_every_waiting_event_once(
    hub: Hub, ledger: tuple[str, Ledger]
) -> None:
    url = ledger[0]
    # Deliveries of one event each, entities interleaved: each entity's first SIZE events fill
    # a group, dispatched in the transaction that stores the last; the rest of each wait.
    for n in range(PER_ENTITY):
        for e in range(ENTITIES):
            [event] = events(url, 1, entity=f"deal-{e}", prefix=f"d{e}-{n}", flow="ledger_batch")
            flows.submit(hub, "test", [event])
    waiting = [row for row in hub.inbox.list(limit=1000) if row.status == InboxStatus.WAITING]
    assert len(waiting) == ENTITIES * (PER_ENTITY - SIZE)
    assert len(_runs(hub)) == ENTITIES

    # Four dispatchers at once over the groups left waiting, each group tried five times by each
    # (as four workers would once the groups are due).
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def dispatcher() -> None:
        try:
            start.wait()
            for _ in range(5):
                for group_flow, entity in {(r.flow, r.entity_key) for r in waiting}:
                    with hub.store.session() as session:
                        assert group_flow is not None
                        flows.dispatch_group(hub, session, group_flow, entity, SIZE)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    batches.dispatch_due(hub)  # nothing is left to dispatch
    rows = hub.inbox.list(limit=1000)
    assert {row.status for row in rows} == {InboxStatus.QUEUED}

    # Every event in exactly one run; one run per group: two per entity, ordered by arrival.
    runs = _runs(hub)
    assert len(runs) == 2 * ENTITIES
    members: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        assert row.workflow_id in runs
        members[str(row.workflow_id)].append(row.id)
    by_entity: dict[str, list[list[int]]] = defaultdict(list)
    for workflow_id, ids in members.items():
        # A run is the run of its group's first event.
        assert workflow_id == flows.workflow_id_for(min(ids), "ledger_batch")
        by_entity[runs[workflow_id]].append(sorted(ids))
    for groups in by_entity.values():
        first, second = sorted(groups)
        assert (len(first), len(second)) == (SIZE, PER_ENTITY - SIZE)
        assert max(first) < min(second)  # the groups of an entity in arrival order
