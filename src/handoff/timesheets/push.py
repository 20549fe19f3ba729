"""The roles the ``time_entry`` flow sequences: where an entry goes in Odoo, what was pushed
before, and the idempotent writes. Each public function is one durable step (store or Odoo).

Idempotency: every timesheet / expense Handoff creates carries an ``ir.model.data`` external id
derived from the entry key. Expenses get it in the same ``load`` as the record
(``OdooAdapter.upsert_many``); timesheets are created in one ``create`` carrying that external id
in their stored ``ref`` and bound by one ``ir.model.data`` ``create`` right after
(``OdooAdapter.create_bound_many``), a crash in between being repaired on retry by finding them by
``ref``. Either way a crash between "created in Odoo" and "bound in the store" finds the record on
retry instead of creating it twice. The store binding (system "odoo", canonical "time_entry"/"expense") keeps the
entry as pushed, to compare the next revision with.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from handoff.billing.corrections import (
    BilledSnapshot,
    CorrectionAction,
    reconcile_changes,
)
from handoff.canonical.delivery import Expense, TimeEntry
from handoff.connectors.registry import connectors_for
from handoff.engine.errors import BusinessRuleError
from handoff.engine.runtime import current_hub
from handoff.store.repositories import content_hash
from handoff.timesheets.records import DeliveryRecord

TIMESHEET_MODEL = "account.analytic.line"
EXPENSE_MODEL = "hr.expense"
PROJECT_MODEL = "project.project"
ORDER_MODEL = "sale.order"
# The ir.model.data namespace of the records Handoff creates for entries: <system>__<model>__<key>.
EXTERNAL_ID_SYSTEM = "handoff"
# The stored char field of a timesheet that carries its external id's full name, searched before
# creating so a crash between create and binding never duplicates it.
TIMESHEET_REFERENCE = "ref"
WITHDRAWN = "withdrawn"


class Target(BaseModel):
    """Where an entry lands in Odoo."""

    project_id: int
    order_id: int | None = None
    task_id: int | None = None
    employee_id: int
    # The company the record belongs to: the project's (its order's), else the employee's. Odoo
    # would default it to the API user's current company and refuse the record when that is not
    # the employee's/order's company ("Incompatible companies on records").
    company_id: int | None = None
    employee_company_id: int | None = None


class Pushed(BaseModel):
    """What Handoff pushed for an entry before (from its binding)."""

    model: str
    record_id: int
    record: dict[str, Any] | None
    content_hash: str | None
    withdrawn: bool = False


def _odoo() -> Any:
    return connectors_for(current_hub().settings).odoo()


def _correlation() -> str | None:
    from handoff.observability.logging import current_context

    value = current_context().get("correlation_id")
    return str(value) if value else None


def model_of(record: DeliveryRecord) -> str:
    return TIMESHEET_MODEL if isinstance(record, TimeEntry) else EXPENSE_MODEL


def canonical_type(record: DeliveryRecord) -> str:
    return "time_entry" if isinstance(record, TimeEntry) else "expense"


def pushed_content(record: DeliveryRecord) -> dict[str, Any]:
    """What counts as a change: everything but bookkeeping (revision, timestamps)."""
    return record.model_dump(mode="json", exclude={"revision", "updated_at"})


# -- store ---------------------------------------------------------------------------------------


def pushed_before(record: DeliveryRecord) -> Pushed | None:
    """The live binding of the entry (the latest one, a withdrawn entry keeps a tombstone)."""
    bindings = [
        b
        for b in current_hub().bindings.for_canonical(canonical_type(record), record.key)
        if b.system == "odoo" and b.model == model_of(record)
    ]
    if not bindings:
        return None
    latest = max(bindings, key=lambda b: b.synced_at)
    snapshot = latest.snapshot or {}
    return Pushed(
        model=latest.model,
        record_id=int(latest.external_id),
        record=snapshot.get("record"),
        content_hash=latest.content_hash,
        withdrawn=bool(snapshot.get(WITHDRAWN)),
    )


def is_stale(record: DeliveryRecord, pushed: Pushed | None) -> bool:
    """An older revision delivered after a newer one was pushed changes nothing."""
    if pushed is None or pushed.record is None or record.updated_at is None:
        return False
    held = pushed.record.get("updated_at")
    return held is not None and datetime.fromisoformat(held) > record.updated_at


def bind(records: Sequence[DeliveryRecord], record_ids: Sequence[int]) -> None:
    """Bind each entry to its Odoo record, all in one statement (the same upsert as
    ``Bindings.bind``, which takes one row per transaction: too slow for a batch of 1,000)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from handoff.store.models import Binding, utcnow

    if not records:
        return
    hub = current_hub()
    now = utcnow()
    rows = [
        {
            "system": "odoo",
            "model": model_of(record),
            "external_id": str(record_id),
            "canonical_type": canonical_type(record),
            "canonical_id": record.key,
            "content_hash": content_hash(pushed_content(record)),
            "snapshot": {"record": record.model_dump(mode="json")},
            "synced_at": now,
        }
        for record, record_id in zip(records, record_ids, strict=True)
    ]
    insert = postgresql.insert if hub.store.dialect == "postgresql" else sqlite.insert
    statement = insert(Binding).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=["system", "model", "external_id"],
        set_={
            name: getattr(statement.excluded, name)
            for name in ("canonical_type", "canonical_id", "content_hash", "snapshot", "synced_at")
        },
    )
    with hub.store.session() as session:
        session.execute(statement)


def audit_many(entries: Sequence[dict[str, Any]]) -> None:
    """Audit entries of one batch in one transaction (fields as ``AuditTrail.record``)."""
    from handoff.config import redact
    from handoff.store.models import AuditEntry
    from handoff.store.repositories import diff

    if not entries:
        return
    hub = current_hub()
    rows = [
        AuditEntry(
            actor="handoff",
            action=e["action"],
            system=e["system"],
            model=e["model"],
            record_id=e.get("record_id"),
            canonical_id=e.get("canonical_id"),
            diff=json.loads(json.dumps(redact(diff(e.get("before") or {}, e.get("after") or {})),
                                       default=str)),
            correlation_id=e.get("correlation_id"),
        )
        for e in entries
    ]
    with hub.store.session() as session:
        session.add_all(rows)


def not_pushed_reason(record: DeliveryRecord) -> str:
    return "not billable" if not record.billable else f"not approved ({record.approval.value})"


def _not_pushed(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "action": "recorded",
        "system": "handoff",
        "model": canonical_type(record),
        "record_id": record.key,
        "canonical_id": record.key,
        "after": {"pushed": False, "reason": not_pushed_reason(record),
                  "approval": record.approval.value, "billable": record.billable},
        "correlation_id": _correlation(),
    }


def record_not_pushed(records: Sequence[DeliveryRecord]) -> None:
    """Audit that entries were received but are not (yet) for Odoo: unapproved or not billable."""
    audit_many([_not_pushed(record) for record in records])


# -- where the entry goes ------------------------------------------------------------------------


def resolve_project(record: DeliveryRecord) -> tuple[int, int | None, int | None]:
    """(project id, sale order id, company id): the deal's delivered project (binding written by
    deal-to-delivery), else an explicit Odoo project (``odoo:project:<id>``, an id, or its name)."""
    hub = current_hub()
    odoo = _odoo().odoo
    project_id: int | None = None
    if record.deal_ref:
        projects = [
            int(b.external_id)
            for b in hub.bindings.for_canonical("deal", record.deal_ref)
            if b.system == "odoo" and b.model == PROJECT_MODEL
        ]
        project_id = min(projects) if projects else None
    if project_id is None and record.project_ref:
        project_id = _explicit_project(odoo, record.project_ref)
    if project_id is None:
        where = f"deal {record.deal_ref}" if record.deal_ref else f"project {record.project_ref}"
        raise BusinessRuleError(
            f"{record.key}: no Odoo project for {where}",
            rule="project_unknown",
            value=record.deal_ref or record.project_ref,
            suggested_fix="Deliver the deal first (deal-to-delivery creates its project), or set "
            "project_ref to an Odoo project (odoo:project:<id> or its exact name); then retry.",
        )
    rows = odoo.read(PROJECT_MODEL, [project_id], ["sale_order_id", "company_id"])
    if not rows:
        raise BusinessRuleError(
            f"{record.key}: Odoo project {project_id} no longer exists",
            rule="project_unknown",
            value=str(project_id),
            suggested_fix="Restore the project in Odoo or correct the entry's project; then retry.",
        )
    order_id = _id_of(rows[0].get("sale_order_id"))
    company_id = _id_of(rows[0].get("company_id"))
    if order_id is not None:
        # The order's company is what an expense re-invoiced on it must belong to (Odoo gives the
        # order's project the same company).
        orders = odoo.read(ORDER_MODEL, [order_id], ["company_id"])
        company_id = _id_of(orders[0].get("company_id")) if orders else company_id
    return project_id, order_id, company_id


def _id_of(many2one: Any) -> int | None:
    return int(many2one[0]) if isinstance(many2one, list) and many2one else None


def _explicit_project(odoo: Any, ref: str) -> int | None:
    text = ref.removeprefix("odoo:project:")
    if text.isdigit():
        return int(text)
    rows = odoo.search_read(PROJECT_MODEL, [["name", "=", ref]], ["id"], limit=2)
    if len(rows) > 1:
        raise BusinessRuleError(
            f"more than one Odoo project is named {ref!r}",
            rule="project_ambiguous",
            value=ref,
            suggested_fix="Use odoo:project:<id> as the entry's project_ref; then retry.",
        )
    return rows[0]["id"] if rows else None


def project_tasks(project_id: int) -> list[dict[str, Any]]:
    return list(
        _odoo().odoo.search_read(
            "project.task", [["project_id", "=", project_id]], ["name"], order="id asc"
        )
    )


def pick_task(tasks: Sequence[dict[str, Any]], task_ref: str | None) -> int | None:
    """The task named ``task_ref`` in the project, else the project's first task."""
    if task_ref:
        named = [t["id"] for t in tasks if t["name"] == task_ref]
        if named:
            return int(named[0])
    return int(tasks[0]["id"]) if tasks else None


def resolve_employees(
    consultants: Sequence[str], company_id: int | None = None
) -> dict[str, tuple[int, int | None]]:
    """consultant -> (hr.employee id, its company) by work email, else by exact name; one search
    for all of them. A person has one employee per company in Odoo: the one of ``company_id``
    is preferred."""
    wanted = sorted(set(consultants))
    if not wanted:
        return {}
    rows = _odoo().odoo.search_read(
        "hr.employee",
        ["|", ["work_email", "in", wanted], ["name", "in", wanted]],
        ["name", "work_email", "company_id"],
    )
    found: dict[str, tuple[int, int | None]] = {}
    for row in sorted(rows, key=lambda r: (_id_of(r.get("company_id")) != company_id, r["id"])):
        for key in (row.get("work_email"), row.get("name")):
            if key in wanted:
                found.setdefault(key, (row["id"], _id_of(row.get("company_id"))))
    return found


def employee_missing(record: DeliveryRecord) -> BusinessRuleError:
    return BusinessRuleError(
        f"{record.key}: no Odoo employee for consultant {record.consultant!r}",
        rule="employee_unknown",
        value=record.consultant,
        suggested_fix=f"Create the employee in Odoo with work email {record.consultant!r} (or "
        "that exact name), or correct the consultant in the time tracker; then retry.",
    )


def resolve_targets(records: Sequence[DeliveryRecord]) -> list[Target | None]:
    """Targets of records that share one project/deal reference (the first record's): one
    project read, one task search, one employee search for all. None: no such employee."""
    project_id, order_id, company_id = resolve_project(records[0])
    employees = resolve_employees([r.consultant for r in records], company_id)
    tasks = project_tasks(project_id) if any(isinstance(r, TimeEntry) for r in records) else []
    targets: list[Target | None] = []
    for record in records:
        employee = employees.get(record.consultant)
        task = pick_task(tasks, record.task_ref) if isinstance(record, TimeEntry) else None
        targets.append(
            None
            if employee is None
            else Target(project_id=project_id, order_id=order_id, task_id=task,
                        employee_id=employee[0], company_id=company_id or employee[1],
                        employee_company_id=employee[1])
        )
    return targets


def resolve_target(record: DeliveryRecord) -> Target:
    [target] = resolve_targets([record])
    if target is None:
        raise employee_missing(record)
    return target


# -- values ----------------------------------------------------------------------------------------


def timesheet_values(entry: TimeEntry, target: Target) -> dict[str, Any]:
    values: dict[str, Any] = {
        "name": entry.description or f"{entry.consultant} {entry.date.isoformat()}",
        "project_id": target.project_id,
        "employee_id": target.employee_id,
        "date": entry.date.isoformat(),
        "unit_amount": float(entry.hours),
    }
    if target.task_id is not None:
        values["task_id"] = target.task_id
    return values


def expense_product(category: str) -> int:
    rows = _odoo().odoo.search_read(
        "product.product",
        ["|", ["default_code", "=", category], ["name", "=", category]],
        ["id"],
        limit=1,
    )
    if not rows:
        raise BusinessRuleError(
            f"no Odoo product for expense category {category!r}",
            rule="expense_product_unknown",
            value=category,
            suggested_fix=f"Create an expensable product with internal reference {category!r} "
            "(re-invoice policy 'at cost'), or map the category in the time tracker; then retry.",
        )
    return int(rows[0]["id"])


def expense_values(
    expense: Expense, target: Target, product_id: int | None = None
) -> dict[str, Any]:
    if (
        target.company_id is not None
        and target.employee_company_id is not None
        and target.employee_company_id != target.company_id
    ):
        raise BusinessRuleError(
            f"{expense.key}: consultant {expense.consultant!r} is an employee of another company "
            "than the deal's order and project (Odoo company ids "
            f"{target.employee_company_id} and {target.company_id})",
            rule="employee_company_mismatch",
            value=expense.consultant,
            suggested_fix="Create the consultant's employee in the company of the deal's order "
            "(Odoo keeps one employee per company), or deliver the deal from the consultant's "
            "company; then retry.",
            context={"employee_company_id": target.employee_company_id,
                     "company_id": target.company_id},
        )
    values: dict[str, Any] = {
        "name": expense.description or f"{expense.category} {expense.date.isoformat()}",
        "employee_id": target.employee_id,
        "product_id": product_id or expense_product(expense.category),
        "total_amount_currency": float(expense.amount),
        "date": expense.date.isoformat(),
    }
    if target.order_id is not None:
        values["sale_order_id"] = target.order_id
    if target.company_id is not None:
        values["company_id"] = target.company_id
    return values


def values_for(
    record: DeliveryRecord, target: Target, expense_product_id: int | None = None
) -> dict[str, Any]:
    if isinstance(record, TimeEntry):
        return timesheet_values(record, target)
    return expense_values(record, target, expense_product_id)


# -- writes ----------------------------------------------------------------------------------------


def upsert(records: Sequence[DeliveryRecord], values: Sequence[dict[str, Any]]) -> list[int]:
    """Create (or update) the Odoo records of ``records`` (all of one model), each with the
    entry's external id: timesheets by ``create_bound_many`` (one ``create`` carrying the
    reference, one ``ir.model.data`` ``create``), expenses by ``load``; audit each; return their
    ids in order."""
    odoo = _odoo().odoo
    if not records:
        return []
    model = model_of(records[0])
    rows = [(r.key, v) for r, v in zip(records, values, strict=True)]
    if model == TIMESHEET_MODEL:
        # One create + one ir.model.data create, the reference in the timesheet's own stored
        # ``ref`` (create_bound_many): half the cost of load on a real Odoo 18.
        results = odoo.create_bound_many(model, EXTERNAL_ID_SYSTEM, rows, TIMESHEET_REFERENCE)
    else:
        # hr.expense has no stored reference field of its own to search (only ``name`` and the
        # person's ``description`` notes), so expenses keep ``load``.
        results = odoo.upsert_many(model, EXTERNAL_ID_SYSTEM, rows)
    correlation = _correlation()
    audit_many([
        {
            "action": "create" if result.created else "update",
            "system": "odoo",
            "model": model,
            "record_id": str(result.id),
            "canonical_id": record.key,
            "after": row if result.created else {k: row[k] for k in result.updated_fields},
            "correlation_id": correlation,
        }
        for record, row, result in zip(records, values, results, strict=True)
    ])
    return [result.id for result in results]


def invoice_of(pushed: Pushed) -> str | None:
    """The invoice that bills a pushed timesheet/expense, or None while it is not invoiced.

    A timesheet is invoiced when Odoo set its ``timesheet_invoice_id``; where that is not
    recorded, when its sale line has invoiced quantity (when unsure, a person decides: a
    wrong "invoiced" costs an exception, a wrong "not invoiced" would change billed hours)."""
    odoo = _odoo().odoo
    if pushed.model == TIMESHEET_MODEL:
        rows = odoo.read(TIMESHEET_MODEL, [pushed.record_id], ["timesheet_invoice_id", "so_line"])
        if not rows:
            return None
        invoice = rows[0].get("timesheet_invoice_id")
        if isinstance(invoice, list) and invoice:
            return str(invoice[1] or f"account.move {invoice[0]}")
        line = rows[0].get("so_line")
        line_ids = [line[0]] if isinstance(line, list) and line else []
    else:
        rows = odoo.read(EXPENSE_MODEL, [pushed.record_id], ["sale_order_id", "name"])
        order = rows[0].get("sale_order_id") if rows else None
        if not (isinstance(order, list) and order):
            return None
        line_ids = [
            r["id"]
            for r in odoo.search_read(
                "sale.order.line",
                [["order_id", "=", order[0]], ["name", "=", rows[0]["name"]]],
                ["id"],
            )
        ]
    if not line_ids:
        return None
    lines = odoo.read("sale.order.line", line_ids, ["qty_invoiced"])
    invoiced = [ln["id"] for ln in lines if (ln.get("qty_invoiced") or 0) > 0]
    if not invoiced:
        return None
    moves = odoo.search_read(
        "account.move.line",
        [["sale_line_ids", "in", invoiced], ["move_id.move_type", "=", "out_invoice"]],
        ["move_id"],
    )
    names = sorted({m["move_id"][1] for m in moves if isinstance(m.get("move_id"), list)})
    return names[-1] if names else f"sale.order.line {invoiced[0]} (invoiced)"


def correction_for(record: DeliveryRecord, pushed: Pushed, invoice: str | None) -> Any:
    """What the change means, by ``handoff.billing.corrections`` (adjust / withdraw / credit)."""
    previous = type(record).model_validate(pushed.record) if pushed.record else record
    snapshot = BilledSnapshot(record=previous, currency=_currency(record), invoice_ref=invoice)
    corrections = reconcile_changes({record.key: snapshot}, [record])
    return corrections[0] if corrections else None


def _currency(record: DeliveryRecord) -> str:
    # The snapshot carries no billed amount here (the billing engine owns amounts), so the
    # currency only has to be well-formed: the correction's action does not depend on it.
    return record.currency if isinstance(record, Expense) else "USD"


def correct(record: DeliveryRecord, pushed: Pushed, target: Target, reason: str) -> int:
    """Rewrite a pushed, not yet invoiced record to the entry's current values."""
    values = values_for(record, target)
    odoo = _odoo().odoo
    [before] = odoo.read(pushed.model, [pushed.record_id], sorted(values)) or [{}]
    changed = {k: v for k, v in values.items() if _plain(before.get(k)) != v}
    if changed:
        odoo.write(pushed.model, [pushed.record_id], changed)
    current_hub().audit.record(
        actor="handoff",
        action="correct",
        system="odoo",
        model=pushed.model,
        record_id=str(pushed.record_id),
        canonical_id=record.key,
        before={k: _plain(before.get(k)) for k in changed},
        after={**changed, "reason": f"{reason} before invoicing"},
        correlation_id=_correlation(),
    )
    return pushed.record_id


def _plain(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def withdraw(record: DeliveryRecord, pushed: Pushed, reason: str) -> None:
    """Remove a pushed record that is no longer approved/billable. Unlinking is allowed here only
    because Handoff created the record (its external id) and it is not invoiced."""
    odoo = _odoo().odoo
    before = odoo.read(pushed.model, [pushed.record_id], ["name", "date"])
    if before:
        odoo.call(pushed.model, "unlink", [[pushed.record_id]])
    stale = odoo.find_external_ids(EXTERNAL_ID_SYSTEM, pushed.model, [record.key])
    if stale:
        from handoff.connectors.odoo.adapter import EXTERNAL_ID_MODULE, external_id_name

        ids = odoo.call(
            "ir.model.data",
            "search",
            [[["module", "=", EXTERNAL_ID_MODULE],
              ["name", "=", external_id_name(EXTERNAL_ID_SYSTEM, pushed.model, record.key)]]],
        )
        if ids:
            odoo.call("ir.model.data", "unlink", [ids])
    hub = current_hub()
    hub.audit.record(
        actor="handoff",
        action="unlink",
        system="odoo",
        model=pushed.model,
        record_id=str(pushed.record_id),
        canonical_id=record.key,
        before=before[0] if before else {},
        after={
            "reason": f"{reason} after it was pushed",
            "why_unlink": "created by Handoff (external id) and not invoiced",
        },
        correlation_id=_correlation(),
    )
    hub.bindings.bind(
        "odoo",
        pushed.model,
        str(pushed.record_id),
        canonical_type=canonical_type(record),
        canonical_id=record.key,
        content={WITHDRAWN: pushed_content(record)},
        snapshot={"record": record.model_dump(mode="json"), WITHDRAWN: True},
    )


def unchanged(record: DeliveryRecord, pushed: Pushed) -> bool:
    if pushed.withdrawn:
        return pushed.content_hash == content_hash({WITHDRAWN: pushed_content(record)})
    return pushed.content_hash == content_hash(pushed_content(record))


__all__ = [
    "CorrectionAction",
    "Pushed",
    "Target",
    "bind",
    "correct",
    "correction_for",
    "invoice_of",
    "is_stale",
    "pushed_before",
    "record_not_pushed",
    "resolve_target",
    "unchanged",
    "upsert",
    "values_for",
    "withdraw",
]


# -- batching: one run pushes the new entries of its project delivered together -------------------

BATCH_LIMIT = 1000


def batching_enabled() -> bool:
    """On by default; HANDOFF_TIME_BATCH=0 starts strictly one run per entry (for comparison)."""
    import os

    return os.environ.get("HANDOFF_TIME_BATCH", "1") != "0"


class Assigned(BaseModel):
    """An entry's inbox event handed to another entry's run (its project's batch leader)."""

    inbox_id: int
    record: TimeEntry | Expense


def assigned_to(workflow_id: str, own_inbox_id: int) -> list[Assigned]:
    """The inbox events intake assigned to this run (status queued, this workflow id)."""
    from sqlalchemy import select

    from handoff.store.models import InboxEvent, InboxStatus
    from handoff.timesheets.records import record_of

    with current_hub().store.session() as session:
        rows = session.execute(
            select(InboxEvent.id, InboxEvent.payload)
            .where(
                InboxEvent.workflow_id == workflow_id,
                InboxEvent.status == InboxStatus.QUEUED,
                InboxEvent.id != own_inbox_id,
            )
            .order_by(InboxEvent.id)
        )
        return [Assigned(inbox_id=row[0], record=record_of(row[1])) for row in rows]


def batchable(records: Sequence[DeliveryRecord]) -> list[bool]:
    """Which records can be pushed together: new, approved and billable (see ``_fresh``)."""
    return [fresh and r.billable_now for r, fresh in zip(records, _fresh(records), strict=True)]


def recordable(records: Sequence[DeliveryRecord]) -> list[bool]:
    """Which records the batch can just record as not for Odoo: new, not approved or not
    billable (see ``_fresh``). Entries pushed before need their own run: a change may withdraw
    them from Odoo."""
    return [fresh and not r.billable_now
            for r, fresh in zip(records, _fresh(records), strict=True)]  # fmt: skip


def _fresh(records: Sequence[DeliveryRecord]) -> list[bool]:
    """New (never bound), the only revision of their entry in the batch, same kind and
    project/deal reference as the first."""
    from sqlalchemy import select

    from handoff.store.models import Binding

    if not records:
        return []
    first = records[0]
    counts: dict[str, int] = {}
    for record in records:
        counts[record.key] = counts.get(record.key, 0) + 1
    with current_hub().store.session() as session:
        bound = set(
            session.scalars(
                select(Binding.canonical_id).where(
                    Binding.canonical_type.in_(["time_entry", "expense"]),
                    Binding.canonical_id.in_(list(counts)),
                )
            )
        )
    return [
        counts[r.key] == 1
        and r.key not in bound
        and type(r) is type(first)
        and (r.project_ref, r.deal_ref) == (first.project_ref, first.deal_ref)
        for r in records
    ]


def plan_push(
    records: Sequence[DeliveryRecord], *, first_must_resolve: bool = True
) -> tuple[list[int], list[dict[str, Any]]]:
    """Indexes of the records that resolve to an Odoo target, and their values. A record that
    does not resolve is left to its own run (its exception is its own), except the first one
    when ``first_must_resolve`` (a run's own entry fails its run)."""
    targets = resolve_targets(records)
    if first_must_resolve and targets[0] is None:
        raise employee_missing(records[0])
    chosen: list[int] = []
    values: list[dict[str, Any]] = []
    categories: dict[str, int] = {}
    for index, (record, target) in enumerate(zip(records, targets, strict=True)):
        if target is None:
            continue
        try:
            product = None
            if isinstance(record, Expense):
                if record.category not in categories:
                    categories[record.category] = expense_product(record.category)
                product = categories[record.category]
            values.append(values_for(record, target, product))
        except BusinessRuleError:
            if index == 0 and first_must_resolve:
                raise
            continue
        chosen.append(index)
    return chosen, values


def finish_assigned(done: Sequence[int], own_run: Sequence[int]) -> None:
    """Batched events are done; the others get a run of their own (their own outcome, their own
    exception), started after this one in their project's order."""
    from sqlalchemy import update

    from handoff.engine import flows
    from handoff.store.inbox import IncomingEvent
    from handoff.store.models import InboxEvent, InboxStatus

    hub = current_hub()
    if done:
        with hub.store.session() as session:
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(done)))
                .values(status=InboxStatus.DONE)
            )
    if not own_run:
        return
    rows = [hub.inbox.get(inbox_id) for inbox_id in own_run]
    flows._enqueue(  # the engine's own hand-over, as for events stored but never started
        hub,
        None,
        [
            (
                row.id,
                IncomingEvent(source_event_id=row.source_event_id, entity_key=row.entity_key,
                              kind=row.kind, payload=row.payload, flow=row.flow),
                row.correlation_id,
            )
            for row in rows
            if row is not None
        ],
        sources={row.id: row.source for row in rows if row is not None},
    )
