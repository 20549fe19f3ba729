"""Time entries and expenses -> Odoo timesheets and re-invoiced expenses, ordered per project.
Only approved, billable entries are pushed; an entry edited or rejected after it was pushed is
corrected in Odoo while not invoiced, and becomes an exception naming the invoice once it is.

One run per entry; when intake handed a run the other new entries of its project delivered with
it (``handoff.timesheets.intake``), the run pushes those that are new, approved and billable in
one ``load`` and gives every other one a run of its own. When that shared push fails, every
batch-mate gets a run of its own too: each entry ends done or with its own exception, never
queued behind a failed run. The flow only sequences roles
(``handoff.timesheets.push``)."""

from __future__ import annotations

from typing import Any

from dbos import DBOS
from dbos._error import DBOSException
from pydantic import BaseModel

from handoff.engine.flows import FlowEvent, flow
from handoff.engine.steps import call
from handoff.observability.logging import get_logger
from handoff.timesheets import push
from handoff.timesheets.records import FLOW, DeliveryRecord, record_of

log = get_logger("handoff.flows.time_entries")


class EntryOutcome(BaseModel):
    entry: str
    # pushed | recorded | up_to_date | stale | corrected | withdrawn
    outcome: str
    odoo_id: int | None = None
    batch: int = 1  # entries this run pushed to Odoo together


def _entry_key(event: FlowEvent) -> str:
    record = event.payload.get("record") or {}
    prefix = "time" if event.payload.get("kind") == "time" else "expense"
    return f"{prefix}:{record.get('source')}:{record.get('source_id')}"


@flow(FLOW, queue="odoo", record=_entry_key, retry_from="start")
def time_entry(event: FlowEvent) -> dict[str, Any]:
    record = record_of(event.payload)
    assigned: list[push.Assigned] = []
    if DBOS.workflow_id:
        assigned = DBOS.run_step(
            {"name": "time.assigned"}, push.assigned_to, DBOS.workflow_id, event.inbox_id
        )
    if assigned:
        return _batch(record, assigned)
    return _one(record)


def _outcome(record: DeliveryRecord, name: str, odoo_id: int | None = None,
             batch: int = 1) -> dict[str, Any]:
    return EntryOutcome(entry=record.key, outcome=name, odoo_id=odoo_id, batch=batch).model_dump()


def _batch(record: DeliveryRecord, assigned: list[push.Assigned]) -> dict[str, Any]:
    records = [record, *(a.record for a in assigned)]
    fits = DBOS.run_step({"name": "time.batchable"}, push.batchable, records)
    candidates = [i for i, ok in enumerate(fits) if ok]
    held = DBOS.run_step({"name": "time.recordable"}, push.recordable, records)
    recorded = {i for i, ok in enumerate(held) if ok}
    if recorded:
        DBOS.run_step(
            {"name": "time.record"}, push.record_not_pushed, [records[i] for i in sorted(recorded)]
        )
    followers = range(1, len(records))
    try:
        pushed_ids = _push_together(records, candidates)
    except DBOSException:
        raise
    except Exception as error:
        # The batch's shared work failed (its project unknown, one row refused by Odoo, Odoo
        # unreachable after every retry): no batch-mate may be left queued behind this run.
        # Each gets a run of its own, ending with its own outcome or its own exception; this
        # run's entry goes on alone below.
        log.warning("batch of %d released to runs of their own: %s", len(records), error)
        DBOS.run_step(
            {"name": "time.release_assigned"},
            push.finish_assigned,
            [assigned[i - 1].inbox_id for i in followers if i in recorded],
            [assigned[i - 1].inbox_id for i in followers if i not in recorded],
        )
        if 0 in recorded:
            return _outcome(record, "recorded")
        return _one(record)
    DBOS.run_step(
        {"name": "time.finish_assigned"},
        push.finish_assigned,
        [assigned[i - 1].inbox_id for i in followers if i in pushed_ids or i in recorded],
        [assigned[i - 1].inbox_id for i in followers if i not in pushed_ids and i not in recorded],
    )
    if 0 in pushed_ids:
        return _outcome(record, "pushed", pushed_ids[0], batch=len(pushed_ids))
    if 0 in recorded:
        return _outcome(record, "recorded", batch=len(pushed_ids))
    return _one(record)


def _push_together(records: list[DeliveryRecord], candidates: list[int]) -> dict[int, int]:
    """Push the batchable records in one ``load``; index in ``records`` -> Odoo id of those
    pushed (a record that does not resolve is left out, to its own run)."""
    if not candidates:
        return {}
    batch = [records[i] for i in candidates]
    chosen, values = call("odoo", "plan_push", push.plan_push, batch, first_must_resolve=False)
    if not chosen:
        return {}
    ids = call("odoo", "upsert", push.upsert, [batch[i] for i in chosen], values)
    DBOS.run_step({"name": "time.bind"}, push.bind, [batch[i] for i in chosen], ids)
    return {candidates[i]: rid for i, rid in zip(chosen, ids, strict=True)}


def _one(record: DeliveryRecord) -> dict[str, Any]:
    pushed = DBOS.run_step({"name": "time.pushed_before"}, push.pushed_before, record)
    if pushed is not None and push.is_stale(record, pushed):
        return _outcome(record, "stale", pushed.record_id)
    if pushed is not None and push.unchanged(record, pushed):
        return _outcome(record, "up_to_date", pushed.record_id)

    if pushed is None or pushed.withdrawn:
        if not record.billable_now:
            DBOS.run_step({"name": "time.record"}, push.record_not_pushed, [record])
            return _outcome(record, "recorded")
        _, values = call("odoo", "plan_push", push.plan_push, [record])
        [odoo_id] = call("odoo", "upsert", push.upsert, [record], values)
        DBOS.run_step({"name": "time.bind"}, push.bind, [record], [odoo_id])
        return _outcome(record, "pushed", odoo_id)

    # Pushed before, and the entry changed since.
    invoice = call("odoo", "invoice_of", push.invoice_of, pushed)
    correction = push.correction_for(record, pushed, invoice)
    if correction is None:  # bookkeeping only (revision, timestamps)
        DBOS.run_step({"name": "time.rebind"}, push.bind, [record], [pushed.record_id])
        return _outcome(record, "up_to_date", pushed.record_id)
    if invoice is not None:
        raise correction.to_error()
    if correction.action is push.CorrectionAction.WITHDRAW:
        call("odoo", "withdraw", push.withdraw, record, pushed, correction.reason)
        return _outcome(record, "withdrawn", pushed.record_id)
    target = call("odoo", "resolve_target", push.resolve_target, record)
    call("odoo", "correct", push.correct, record, pushed, target, correction.reason)
    DBOS.run_step({"name": "time.rebind"}, push.bind, [record], [pushed.record_id])
    return _outcome(record, "corrected", pushed.record_id)
