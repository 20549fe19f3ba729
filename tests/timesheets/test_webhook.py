"""POST /webhooks/time over real HTTP: signed bodies become timesheets in the Odoo sandbox; every
bad input is refused with nothing stored."""

from __future__ import annotations

import json

from handoff.ingress.events import sign
from support.waiting import wait_for
from timesheets.desk import DEAL, SECRET, Desk, entry


def test_signed_entries_become_timesheets_only_when_approved_and_billable(desk: Desk) -> None:
    items = [
        entry("T-1", hours=4, task="Build"),
        entry("T-2", hours=2.5, task="No such task", consultant="Grace Hopper"),
        entry("T-3", hours=3, approval="submitted"),
        entry("T-4", hours=1, billable=False),
    ]
    response = desk.post(items)
    assert response.status_code == 202, response.text
    assert [a["duplicate"] for a in response.json()["accepted"]] == [False] * 4
    wait_for(desk.settled(4), timeout=60, what="4 time entry flows")
    assert desk.hub.exceptions.list() == []

    sheets = desk.timesheets()
    first_task = desk.odoo.search_read(
        "project.task", [["project_id", "=", desk.project_id]], ["id"], order="id asc", limit=1
    )[0]["id"]
    assert [(s["unit_amount"], s["task_id"][0], s["employee_id"][0]) for s in sheets] == [
        (4.0, desk.tasks["Build"], desk.employees["ada@firm.example"]),
        # an unknown task falls back to the project's first task; a consultant found by name
        (2.5, first_task, desk.employees["grace@firm.example"]),
    ]
    assert {s["so_line"][0] for s in sheets} == {desk.order_line_id}
    assert desk.delivered() == 6.5
    recorded = [a for a in desk.hub.audit.search(system="handoff") if a.action == "recorded"]
    assert sorted(a.canonical_id for a in recorded) == [
        "time:timetracker:T-3",
        "time:timetracker:T-4",
    ]
    binding = desk.hub.bindings.find("odoo", "account.analytic.line", str(sheets[0]["id"]))
    assert binding is not None and binding.canonical_id == "time:timetracker:T-1"

    # Delivered together: one run pushed the two new approved entries (one load) and recorded
    # the two that are not for Odoo; none of the four needed a run of its own.
    runs = {e.source_event_id.split("@")[0]: e.workflow_id for e in desk.hub.inbox.list(limit=10)}
    assert len(set(runs.values())) == 1
    assert {e.status for e in desk.hub.inbox.list(limit=10)} == {"done"}

    # The tracker delivers the same body again: duplicates, nothing new in Odoo.
    again = desk.post(items)
    assert [a["duplicate"] for a in again.json()["accepted"]] == [True] * 4
    assert len(desk.timesheets()) == 2


def test_every_bad_input_is_refused_and_nothing_is_stored(desk: Desk) -> None:
    good = [entry("T-1")]
    body = json.dumps(good).encode()
    assert desk.post(good, signature="").status_code == 401
    assert desk.post(good, signature="sha256=" + "0" * 64).status_code == 401
    assert desk.post(good, secret="not-the-secret").status_code == 401
    assert desk.post(None, body=b"{not json").status_code == 400
    assert desk.post({"kind": "time"}).status_code == 422
    assert desk.post([]).status_code == 422
    # Signed for one body, sent with another.
    tampered = desk.post(None, body=body.replace(b"4", b"9"), signature=sign(SECRET, body))
    assert tampered.status_code == 401

    mixed = [
        entry("T-1"),
        entry("T-2", hours=-1),
        {**entry("T-3"), "date": "2026-13-40"},
        {**entry("T-4"), "deal_ref": None},
        {"kind": "invoice", "source_id": "X"},
        {**entry("T-5"), "colour": "blue"},
        {
            "kind": "expense",
            "source_id": "E-1",
            "consultant": "ada@firm.example",
            "deal_ref": DEAL,
            "date": "2026-11-02",
            "amount": "12.50",
            "currency": "euro",
        },
    ]
    response = desk.post(mixed)
    assert response.status_code == 422
    problems = response.json()["items"]
    assert {(p["row"], p["column"]) for p in problems} >= {
        (2, "hours"),
        (3, "date"),
        (4, "project_ref/deal_ref"),
        (5, "kind"),
        (6, "colour"),
        (7, "currency"),
    }
    assert 1 not in {p["row"] for p in problems}
    assert next(p for p in problems if p["row"] == 2)["value"] == "-1"
    assert desk.hub.inbox.list(limit=100) == []
    assert desk.timesheets() == []
