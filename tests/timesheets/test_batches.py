"""A drained batch never strands its batch-mates: whatever fails in the batch's shared work (its
project, one entry, Odoo itself), every entry ends done or with its own exception record, never
`queued` with no run. Over real HTTP: signed webhook -> hub API -> durable flow -> Odoo sandbox."""

from __future__ import annotations

from collections import Counter

import httpx

from handoff.config import BatchConfig, FlowConfig
from support.waiting import wait_for
from timesheets.desk import Desk, entry


def _statuses(desk: Desk) -> dict[int, str]:
    return {e.id: str(e.status) for e in desk.hub.inbox.list(limit=5000)}


def _ended(desk: Desk, count: int) -> bool:
    statuses = _statuses(desk)
    return len(statuses) == count and all(s in ("done", "failed") for s in statuses.values())


def _assert_each_ended_with_its_own_outcome(desk: Desk, count: int) -> None:
    """Every inbox row done, or failed with an exception naming its own entry."""
    try:
        wait_for(lambda: _ended(desk, count), timeout=60, what=f"{count} entries done or failed")
    except AssertionError as error:
        raise AssertionError(f"{error}; inbox: {Counter(_statuses(desk).values())}") from None
    failed = {e.id for e in desk.hub.inbox.list(limit=5000) if e.status == "failed"}
    records = {e.id: e.payload["record"]["source_id"] for e in desk.hub.inbox.list(limit=5000)}
    open_exceptions = [x for x in desk.hub.exceptions.list() if x.status == "open"]
    assert sorted(x.record for x in open_exceptions) == sorted(
        f"time:timetracker:{records[i]}" for i in failed
    )


def test_a_batch_for_a_deal_not_delivered_gives_every_entry_its_own_exception(
    desk: Desk,
) -> None:
    items = [entry(f"nd-{n}", deal_ref="hubspot:deal:9999", hours=1 + n) for n in range(5)]
    assert desk.post(items).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 5)
    exceptions = desk.hub.exceptions.list()
    assert len(exceptions) == 5
    assert {x.rule for x in exceptions} == {"project_unknown"}
    assert desk.timesheets() == []


def test_one_bad_entry_fails_alone_and_its_batch_mates_are_pushed(desk: Desk) -> None:
    # The batch's own entry (its leader) and one in the middle name no Odoo employee.
    items = [entry("bad-0", consultant="nobody@firm.example")]
    items += [entry(f"ok-{n}", hours=1 + n) for n in range(1, 4)]
    items += [entry("bad-4", consultant="ghost@firm.example"), entry("ok-5", hours=2)]
    assert desk.post(items).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 6)
    rules = sorted((x.record, x.rule) for x in desk.hub.exceptions.list())
    assert rules == [
        ("time:timetracker:bad-0", "employee_unknown"),
        ("time:timetracker:bad-4", "employee_unknown"),
    ]
    assert sorted(t["unit_amount"] for t in desk.timesheets()) == [1 + 1, 2, 1 + 2, 1 + 3]


def test_odoo_failing_the_batch_shared_push_leaves_no_entry_queued(desk: Desk) -> None:
    odoo_url = str(desk.hub.settings.systems["odoo"].url).rstrip("/")
    # Every attempt (3, handoff.yaml retry) of the batch's shared Odoo work answers 503.
    state = httpx.post(
        f"{odoo_url}/sandbox/control",
        json={"fail_next": 3, "fail_kind": "http", "fail_status": 503},
    ).json()
    assert state["fail_next"] == 3
    items = [entry(f"e-{n}", hours=1 + n) for n in range(5)]
    assert desk.post(items).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 5)
    assert httpx.get(f"{odoo_url}/sandbox/control").json()["faults_served"] == 3
    done = [e for e in desk.hub.inbox.list(limit=5000) if e.status == "done"]
    assert len(desk.timesheets()) == len(done) == 5  # the faults ran out: each pushed on its own


def test_one_run_pushes_the_new_entries_of_every_project_delivered_together(desk: Desk) -> None:
    other = desk.odoo.create(
        "project.project", {"name": "Internal tooling", "allow_timesheets": True}
    )
    items = [entry(f"d-{n}", hours=1 + n) for n in range(3)]
    items += [
        entry(f"p-{n}", hours=5 + n, deal_ref=None, project_ref=f"odoo:project:{other}")
        for n in range(2)
    ]
    assert desk.post(items).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 5)
    assert {e.workflow_id for e in desk.hub.inbox.list(limit=10)} == {"000000000001-time_entry"}
    assert sorted(t["unit_amount"] for t in desk.timesheets()) == [1, 2, 3]
    others = desk.odoo.search_read(
        "account.analytic.line", [["project_id", "=", other]], ["unit_amount"]
    )
    assert sorted(t["unit_amount"] for t in others) == [5, 6]


def test_revisions_delivered_together_fold_into_the_latest(desk: Desk) -> None:
    # Three revisions of one new entry in one request, the newest delivered in the middle.
    items = [
        entry("T-7", hours=1, revision="1", updated_at="2026-11-02T09:00:00+00:00"),
        entry("T-7", hours=3, revision="3", updated_at="2026-11-02T11:00:00+00:00"),
        entry("T-7", hours=2, revision="2", updated_at="2026-11-02T10:00:00+00:00"),
        entry("T-8", hours=4),
    ]
    assert desk.post(items).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 4)
    assert desk.hub.exceptions.list() == []
    # The latest revision created the timesheet once: never corrected, never created twice.
    assert sorted(t["unit_amount"] for t in desk.timesheets()) == [3, 4]
    audit = desk.hub.audit.search(limit=50)
    superseded = sorted(
        (a.diff["revision"][1], a.diff["superseded_by"][1])
        for a in audit
        if a.action == "superseded"
    )
    assert superseded == [("1", "3"), ("2", "3")]
    assert not [a for a in audit if a.action == "correct"]


def _batching(desk: Desk, size: int, linger_ms: int) -> None:
    """handoff.yaml's flows.time_entry.batch, for the API's submits and the worker's dispatcher
    (both read the hub's settings each time)."""
    batch = BatchConfig(size=size, linger_ms=linger_ms)
    desk.hub.settings = desk.hub.settings.model_copy(
        update={"flows": {"time_entry": FlowConfig(batch=batch)}}
    )


def test_entries_delivered_one_per_request_share_runs_of_the_batch_size(desk: Desk) -> None:
    # Linger a minute: only full groups are dispatched, in the transaction that fills them.
    _batching(desk, size=10, linger_ms=60_000)
    for n in range(30):
        assert desk.post([entry(f"one-{n}", hours=1 + n % 4)]).status_code == 202
    _assert_each_ended_with_its_own_outcome(desk, 30)
    runs = Counter(e.workflow_id for e in desk.hub.inbox.list(limit=100))
    assert sorted(runs.values()) == [10, 10, 10]  # 30 deliveries, 3 runs
    # Each run is the run of its group's oldest event, the groups cut in arrival order.
    ids = sorted(e.id for e in desk.hub.inbox.list(limit=100))
    assert set(runs) == {f"{ids[k]:012d}-time_entry" for k in (0, 10, 20)}
    assert len(desk.timesheets()) == 30


def test_a_partial_group_is_dispatched_once_its_oldest_entry_lingered(desk: Desk) -> None:
    _batching(desk, size=1000, linger_ms=1500)
    for n in range(3):
        assert desk.post([entry(f"lone-{n}", hours=1 + n)]).status_code == 202
    # Stored, waiting for their group: no run yet.
    assert {str(e.status) for e in desk.hub.inbox.list(limit=10)} == {"waiting"}
    _assert_each_ended_with_its_own_outcome(desk, 3)
    assert len({e.workflow_id for e in desk.hub.inbox.list(limit=10)}) == 1
    assert sorted(t["unit_amount"] for t in desk.timesheets()) == [1, 2, 3]
