"""Time entries and expenses -> Odoo timesheets and re-invoiced expenses, in order per entry.
Only approved, billable entries are pushed; an entry edited or rejected after it was pushed is
corrected in Odoo while not invoiced, and becomes an exception naming the invoice once it is.

The flow takes batches (``handoff.engine.batches``): the entries waiting in one partition, from
any deliveries and any projects, go to one run (by default up to 1,000, or what waited 200 ms;
``flows.time_entry.batch``; ``handoff.timesheets.intake`` explains why that keeps each entry's
revisions in order). The run sorts them (``push.sort_batch``): the new approved billable ones are pushed
together, one ``create`` per model for all their projects; the new ones not for Odoo are
recorded; an entry's older revisions in the batch are superseded by its latest; every other one
gets a run of its own. When a shared push fails, every batch-mate not finished gets a run of its
own too: each entry ends done or with its own exception, never queued behind a failed run. The
flow only sequences roles (``handoff.timesheets.push``)."""

from __future__ import annotations

from typing import Any

from dbos import DBOS
from dbos._error import DBOSException
from pydantic import BaseModel

from handoff.engine.flows import BatchPolicy, FlowEvent, flow
from handoff.engine.steps import call
from handoff.engine.targets import current_target
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


# A thousand entries per run: Odoo's batched create per 1,000 rows is the benchmark's raw limit;
# 200 ms: what an entry posted alone waits for others at most when the hub is idle.
DEFAULT_BATCH = BatchPolicy(size=1000, linger_ms=200)


@flow(FLOW, queue="odoo", record=_entry_key, retry_from="start", batch=DEFAULT_BATCH)
def time_entry(event: FlowEvent) -> dict[str, Any]:
    record = record_of(event.payload)
    assigned: list[push.Assigned] = []
    if DBOS.workflow_id:
        assigned = DBOS.run_step(
            {"name": "time.assigned"}, push.assigned_to, DBOS.workflow_id, event.inbox_id
        )
    if assigned:
        return _batch(record, event.inbox_id, assigned)
    return _one(record)


def _outcome(
    record: DeliveryRecord, name: str, odoo_id: int | None = None, batch: int = 1
) -> dict[str, Any]:
    return EntryOutcome(entry=record.key, outcome=name, odoo_id=odoo_id, batch=batch).model_dump()


def _batch(record: DeliveryRecord, inbox_id: int, assigned: list[push.Assigned]) -> dict[str, Any]:
    records = [record, *(a.record for a in assigned)]
    inbox_ids = [inbox_id, *(a.inbox_id for a in assigned)]
    roles = DBOS.run_step({"name": "time.sort_batch"}, push.sort_batch, records, inbox_ids)
    latest = {r.key: i for i, r in enumerate(records) if roles[i] is not push.Role.SUPERSEDED}
    superseded = [i for i, role in enumerate(roles) if role is push.Role.SUPERSEDED]
    recorded = [i for i, role in enumerate(roles) if role is push.Role.RECORD]
    if superseded or recorded:
        DBOS.run_step(
            {"name": "time.record"},
            _record_batch,
            [records[i] for i in recorded],
            [records[i] for i in superseded],
            [records[latest[records[i].key]] for i in superseded],
        )
    finished = set(superseded) | set(recorded)
    followers = range(1, len(records))
    candidates = [i for i, role in enumerate(roles) if role is push.Role.PUSH]
    pushed_ids: dict[int, int] = {}
    try:
        for model in (push.TIMESHEET_MODEL, push.EXPENSE_MODEL):
            group = [i for i in candidates if push.model_of(records[i]) == model]
            pushed_ids.update(_push_together(records, group))
    except DBOSException:
        raise
    except Exception as error:
        # The batch's shared work failed (Odoo refused a row, or stayed unreachable after every
        # retry): no batch-mate may be left queued behind this run. Each one not finished gets
        # a run of its own, ending with its own outcome or its own exception (one pushed by an
        # earlier write of this run finds itself up to date); this run's entry goes on alone.
        log.warning("batch of %d released to runs of their own: %s", len(records), error)
        DBOS.run_step(
            {"name": "time.release_assigned"},
            push.finish_assigned,
            [inbox_ids[i] for i in followers if i in finished],
            [inbox_ids[i] for i in followers if i not in finished],
        )
        return _leader_outcome(record, roles[0], {}, len(records)) or _one(record)
    finished |= set(pushed_ids)
    DBOS.run_step(
        {"name": "time.finish_assigned"},
        push.finish_assigned,
        [inbox_ids[i] for i in followers if i in finished],
        [inbox_ids[i] for i in followers if i not in finished],
    )
    return _leader_outcome(record, roles[0], pushed_ids, len(pushed_ids)) or _one(record)


def _leader_outcome(
    record: DeliveryRecord, role: push.Role, pushed_ids: dict[int, int], batch: int
) -> dict[str, Any] | None:
    """The batch run's own entry's outcome, None when it still has to be handled alone."""
    if 0 in pushed_ids:
        return _outcome(record, "pushed", pushed_ids[0], batch=batch)
    if role is push.Role.RECORD:
        return _outcome(record, "recorded", batch=batch)
    if role is push.Role.SUPERSEDED:
        return _outcome(record, "superseded", batch=batch)
    return None


def _record_batch(
    recorded: list[DeliveryRecord], superseded: list[DeliveryRecord], by: list[DeliveryRecord]
) -> None:
    push.record_not_pushed(recorded)
    push.record_superseded(superseded, by)


def _push_together(records: list[DeliveryRecord], candidates: list[int]) -> dict[int, int]:
    """Push the given records (one model, any projects) in one write; index in ``records`` ->
    Odoo id of those pushed (a record that does not resolve is left out, to its own run)."""
    if not candidates:
        return {}
    batch = [records[i] for i in candidates]
    chosen, values = call(
        current_target(), "plan_push", push.plan_push, batch, first_must_resolve=False
    )
    if not chosen:
        return {}
    # Created, audited and bound in one step: the store's bookkeeping runs while Odoo creates
    # the external ids (``push.upsert``).
    ids = call(
        current_target(), "upsert", push.upsert, [batch[i] for i in chosen], values, and_bind=True
    )
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
        _, values = call(current_target(), "plan_push", push.plan_push, [record])
        [odoo_id] = call(current_target(), "upsert", push.upsert, [record], values)
        DBOS.run_step({"name": "time.bind"}, push.bind, [record], [odoo_id])
        return _outcome(record, "pushed", odoo_id)

    # Pushed before, and the entry changed since.
    invoice = call(current_target(), "invoice_of", push.invoice_of, pushed)
    correction = push.correction_for(record, pushed, invoice)
    if correction is None:  # bookkeeping only (revision, timestamps)
        DBOS.run_step({"name": "time.rebind"}, push.bind, [record], [pushed.record_id])
        return _outcome(record, "up_to_date", pushed.record_id)
    if invoice is not None:
        raise correction.to_error()
    if correction.action is push.CorrectionAction.WITHDRAW:
        call(current_target(), "withdraw", push.withdraw, record, pushed, correction.reason)
        return _outcome(record, "withdrawn", pushed.record_id)
    target = call(current_target(), "resolve_target", push.resolve_target, record)
    call(current_target(), "correct", push.correct, record, pushed, target, correction.reason)
    DBOS.run_step({"name": "time.rebind"}, push.bind, [record], [pushed.record_id])
    return _outcome(record, "corrected", pushed.record_id)
