"""Entries that change after they were pushed: corrected or removed in Odoo while not invoiced,
an exception naming the invoice once they are; a crash between create and bind duplicates nothing."""

from __future__ import annotations

from handoff.canonical.delivery import TimeEntry
from handoff.connectors.odoo.quote_to_cash import InvoiceRequest
from handoff.timesheets import push
from handoff.timesheets.records import parse_items
from support.waiting import wait_for
from timesheets.desk import Desk, entry


def _audit(desk: Desk, action: str) -> list[dict[str, object]]:
    return [
        {"record": a.record_id, "diff": a.diff}
        for a in desk.hub.audit.search(system="odoo", limit=500)
        if a.action == action
    ]


def test_edited_before_invoicing_is_corrected_and_rejected_is_removed(desk: Desk) -> None:
    assert desk.post([entry("T-1", hours=4)]).status_code == 202
    wait_for(desk.settled(1), timeout=60, what="first revision")
    [sheet] = desk.timesheets()

    edited = entry("T-1", hours=6, revision="2", day="2026-11-03", description="Workshop, day 2")
    assert desk.post([edited]).status_code == 202
    wait_for(desk.settled(2), timeout=60, what="edit")
    [corrected] = desk.timesheets()
    assert corrected["id"] == sheet["id"]
    assert (corrected["unit_amount"], corrected["date"], corrected["name"]) == (
        6.0,
        "2026-11-03",
        "Workshop, day 2",
    )
    assert desk.delivered() == 6.0

    rejected = {**edited, "revision": "3", "approval": "rejected"}
    assert desk.post([rejected]).status_code == 202
    wait_for(desk.settled(3), timeout=60, what="rejection")
    assert desk.hub.exceptions.list() == []
    assert desk.timesheets() == []
    assert desk.delivered() == 0.0
    [unlinked] = _audit(desk, "unlink")
    assert unlinked["record"] == str(sheet["id"])
    assert "not invoiced" in str(unlinked["diff"])

    # Approved again later: a new timesheet, once.
    back = {**edited, "revision": "4", "approval": "approved"}
    assert desk.post([back]).status_code == 202
    wait_for(desk.settled(4), timeout=60, what="re-approval")
    assert [s["unit_amount"] for s in desk.timesheets()] == [6.0]


def test_edited_after_invoicing_is_an_exception_naming_the_invoice(desk: Desk) -> None:
    assert desk.post([entry("T-1", hours=5)]).status_code == 202
    wait_for(desk.settled(1), timeout=60, what="first revision")
    [invoice_id] = desk.q2c.invoice_orders([desk.order_id], InvoiceRequest())
    [invoice] = desk.odoo.read("account.move", [invoice_id], ["name"])

    assert desk.post([entry("T-1", hours=3, revision="2")]).status_code == 202
    wait_for(desk.settled(2), timeout=60, what="edit after invoicing")
    [exception] = desk.hub.exceptions.list()
    assert exception.rule == "invoiced_entry_changed"
    assert invoice["name"] in exception.message or invoice["name"] in str(exception.context)
    assert [s["unit_amount"] for s in desk.timesheets()] == [5.0]  # billed hours untouched


def test_duplicate_delivery_and_a_crash_between_create_and_bind_leave_one_timesheet(
    desk: Desk,
) -> None:
    item = entry("T-9", hours=2)
    [record] = parse_items([item]).records
    assert isinstance(record, TimeEntry)
    # A run that created the timesheet in Odoo and died before binding it in the store.
    target = push.resolve_target(record)
    push.upsert([record], [push.values_for(record, target)])
    assert len(desk.timesheets()) == 1
    assert desk.hub.bindings.for_canonical("time_entry", record.key) == []

    assert desk.post([item]).status_code == 202
    assert desk.post([item]).json()["accepted"][0]["duplicate"] is True
    wait_for(desk.settled(1), timeout=60, what="redelivered entry")
    [sheet] = desk.timesheets()
    [binding] = desk.hub.bindings.for_canonical("time_entry", record.key)
    assert binding.external_id == str(sheet["id"])


def test_unknown_consultant_is_an_exception_of_that_entry_only(desk: Desk) -> None:
    items = [entry("T-4"), entry("T-5", consultant="linus@firm.example"), entry("T-6", hours=1)]
    assert desk.post(items).status_code == 202
    wait_for(desk.settled(3), timeout=60, what="entries, one of an unknown consultant")
    [exception] = desk.hub.exceptions.list()
    assert (exception.rule, exception.record) == ("employee_unknown", "time:timetracker:T-5")
    assert "linus@firm.example" in (exception.suggested_fix or "")
    assert sorted(s["unit_amount"] for s in desk.timesheets()) == [1.0, 4.0]
