"""handoff.yaml's settings for time entries reach the runs (they replaced HANDOFF_TIME_BATCH and
HANDOFF_TIME_PARTITIONS): with ``flows.time_entry.batch: false`` every entry has a run of its
own, and entries are spread over ``time_entries.partitions`` ordered partitions. Over real HTTP against the Odoo sandbox; the
batched default (one run for the entries delivered together) is in test_batches.py."""

from __future__ import annotations

import zlib

from handoff.config import FlowConfig, TimeEntriesConfig
from support.waiting import wait_for
from timesheets.desk import Desk, entry

PARTITIONS = 3


def test_unbatched_entries_run_one_by_one_over_the_configured_partitions(desk: Desk) -> None:
    # The API and the worker read the hub's settings on every delivery and run.
    settings = desk.hub.settings
    configured = TimeEntriesConfig(partitions=PARTITIONS)
    desk.hub.settings = settings.model_copy(
        update={"time_entries": configured, "flows": {"time_entry": FlowConfig(batch=False)}}
    )
    items = [entry(f"s-{n}", hours=1 + n) for n in range(6)]
    assert desk.post(items).status_code == 202
    wait_for(desk.settled(6), timeout=60, what="6 entries done")

    events = desk.hub.inbox.list(limit=100)
    assert sorted(str(e.status) for e in events) == ["done"] * 6
    # One run per entry: six workflows, where the batched default starts one.
    assert len({e.workflow_id for e in events}) == 6
    expected = {
        f"time-entries:{zlib.crc32(f'time:timetracker:s-{n}'.encode()) % PARTITIONS}"
        for n in range(6)
    }
    assert {e.entity_key for e in events} == expected
    assert len(expected) > 1  # the ids above do land in several partitions
    assert sorted(t["unit_amount"] for t in desk.timesheets()) == [1, 2, 3, 4, 5, 6]
