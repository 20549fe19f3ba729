"""The roles the ``time_entry`` flow sequences: where an entry goes in Odoo, what was pushed
before, and the idempotent writes. Each public function is one durable step (store or Odoo).

Idempotency: every timesheet / expense Handoff creates carries an ``ir.model.data`` external id
derived from the entry key. Expenses get it in the same ``load`` as the record
(``OdooAdapter.upsert_many``); timesheets are created in one ``create`` carrying that external id
in their stored ``ref`` and bound by one ``ir.model.data`` ``create`` right after
(``OdooAdapter.create_bound_many``), a crash in between being repaired on retry by finding them by
``ref``. Either way a crash between "created in Odoo" and "bound in the store" finds the record on
retry instead of creating it twice. The store binding (system: the run's Odoo system by name, canonical "time_entry"/"expense") keeps the
entry as pushed, to compare the next revision with.
"""

from __future__ import annotations

import json
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

from pydantic import BaseModel
from sqlalchemy import Table

from handoff.billing.corrections import (
    BilledSnapshot,
    CorrectionAction,
    reconcile_changes,
)
from handoff.canonical.delivery import Expense, TimeEntry
from handoff.canonical.errors import BusinessRuleError
from handoff.config import redact
from handoff.connectors.odoo.adapter import EXTERNAL_ID_MODULE, external_id_name
from handoff.connectors.odoo.quote_to_cash import active_currency_ids
from handoff.connectors.registry import connectors_for
from handoff.engine import flows
from handoff.engine.runtime import current_hub
from handoff.engine.targets import odoo_target
from handoff.observability.logging import current_context
from handoff.store.models import AuditEntry, Binding, InboxEvent, InboxStatus, utcnow
from handoff.store.repositories import content_hash, diff
from handoff.timesheets.records import FLOW, DeliveryRecord, entity_key, record_of

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


def _system() -> str:
    """The name of the Odoo system this run pushes to (``handoff.engine.targets``)."""
    return odoo_target(current_hub().settings)


def _correlation() -> str | None:
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
        if b.system == _system() and b.model == model_of(record)
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


def bind(
    records: Sequence[DeliveryRecord],
    record_ids: Sequence[int],
    audit: Sequence[dict[str, Any]] = (),
) -> None:
    """Bind each entry to its Odoo record in one transaction (with ``audit``'s entries, as
    ``audit_many``) (the same upsert as
    ``Bindings.bind``, which takes one row per transaction: too slow for a batch of 1,000), as
    one executemany: a single INSERT of 1,000 rows x 8 parameters takes SQLAlchemy longer to
    compile than the store to run."""
    from sqlalchemy.dialects import postgresql, sqlite

    if not records:
        return
    hub = current_hub()
    now = utcnow()
    rows = [
        {
            "system": _system(),
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
    statement = insert(cast(Table, Binding.__table__))  # Core: one executemany upsert
    statement = statement.on_conflict_do_update(
        index_elements=["system", "model", "external_id"],
        set_={
            name: getattr(statement.excluded, name)
            for name in ("canonical_type", "canonical_id", "content_hash", "snapshot", "synced_at")
        },
    )
    with hub.store.session() as session:
        session.connection().execute(statement, rows)
        if audit:
            _insert_audit(session, audit)


def audit_many(entries: Sequence[dict[str, Any]]) -> None:
    """Audit entries of one batch in one transaction and one executemany (fields as
    ``AuditTrail.record``; ORM objects cost more than the insert itself at 1,000 rows)."""
    if not entries:
        return
    with current_hub().store.session() as session:
        _insert_audit(session, entries)


def _insert_audit(session: Any, entries: Sequence[dict[str, Any]]) -> None:
    from sqlalchemy import insert

    now = utcnow()
    rows = [
        {
            "at": now,
            "actor": "handoff",
            "action": e["action"],
            "system": e["system"],
            "model": e["model"],
            "record_id": e.get("record_id"),
            "canonical_id": e.get("canonical_id"),
            "diff": json.loads(
                json.dumps(redact(diff(e.get("before") or {}, e.get("after") or {})), default=str)
            ),
            "correlation_id": e.get("correlation_id"),
            "workflow_id": None,
        }
        for e in entries
    ]
    session.connection().execute(insert(cast(Table, AuditEntry.__table__)), rows)


def not_pushed_reason(record: DeliveryRecord) -> str:
    return "not billable" if not record.billable else f"not approved ({record.approval.value})"


def _not_pushed(record: DeliveryRecord) -> dict[str, Any]:
    return {
        "action": "recorded",
        "system": "handoff",
        "model": canonical_type(record),
        "record_id": record.key,
        "canonical_id": record.key,
        "after": {
            "pushed": False,
            "reason": not_pushed_reason(record),
            "approval": record.approval.value,
            "billable": record.billable,
        },
        "correlation_id": _correlation(),
    }


def record_not_pushed(records: Sequence[DeliveryRecord]) -> None:
    """Audit that entries were received but are not (yet) for Odoo: unapproved or not billable."""
    audit_many([_not_pushed(record) for record in records])


# -- where the entry goes ------------------------------------------------------------------------


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
    rows = _employee_rows(consultants)
    found = {c: _pick_employee(rows, c, company_id) for c in set(consultants)}
    return {c: e for c, e in found.items() if e is not None}


def _employee_rows(consultants: Sequence[str]) -> list[dict[str, Any]]:
    wanted = sorted(set(consultants))
    if not wanted:
        return []
    return list(
        _odoo().odoo.search_read(
            "hr.employee",
            ["|", ["work_email", "in", wanted], ["name", "in", wanted]],
            ["name", "work_email", "company_id"],
        )
    )


def _cached_employee_rows(cache: _TargetCache, consultants: Sequence[str]) -> list[dict[str, Any]]:
    """``_employee_rows``, the consultants found by an earlier run not searched again (one not
    found is searched every time: an employee created since is found at once)."""
    rows: dict[int, dict[str, Any]] = {}
    missing = []
    for consultant in sorted(set(consultants)):
        cached = cache.get("hr.employee", consultant)
        if cached is None:
            missing.append(consultant)
        else:
            rows.update((row["id"], row) for row in cached)
    if missing:
        found = _employee_rows(missing)
        for consultant in missing:
            matching = [r for r in found if consultant in (r.get("work_email"), r.get("name"))]
            if matching:
                cache.put("hr.employee", consultant, matching)
        rows.update((row["id"], row) for row in found)
    return list(rows.values())


def _pick_employee(
    rows: Sequence[dict[str, Any]], consultant: str, company_id: int | None
) -> tuple[int, int | None] | None:
    """The consultant's employee (work email or exact name), the one of ``company_id`` first."""
    matching = [r for r in rows if consultant in (r.get("work_email"), r.get("name"))]
    if not matching:
        return None
    row = min(matching, key=lambda r: (_id_of(r.get("company_id")) != company_id, r["id"]))
    return row["id"], _id_of(row.get("company_id"))


def employee_missing(record: DeliveryRecord) -> BusinessRuleError:
    return BusinessRuleError(
        f"{record.key}: no Odoo employee for consultant {record.consultant!r}",
        rule="employee_unknown",
        value=record.consultant,
        suggested_fix=f"Create the employee in Odoo with work email {record.consultant!r} (or "
        "that exact name), or correct the consultant in the time tracker; then retry.",
    )


def resolve_targets(records: Sequence[DeliveryRecord]) -> list[Target | None]:
    """Targets of records of any projects / deals, in four Odoo calls whatever their number: one
    project read, one order read, one employee search, one task search. None: the record's
    project or employee is unknown (left to the record's own run, whose exception is its own)."""
    return [t if isinstance(t, Target) else None for t in _targets_or_errors(records)]


class _TargetCache:
    """What earlier runs read of the Odoo records entries land on (projects with their order and
    company, orders' companies, employees by consultant, tasks by project), reused for
    ``TARGET_CACHE_SECONDS``: they change rarely, and reading them again cost a 1,000-entry
    batch a third of a second. Only ever read inside a durable step (``plan_push``), whose
    recorded result a replay reuses, so replays stay deterministic. Misses are read (a named
    task not among a project's cached tasks reads them again; an unknown employee or project is
    never cached); the whole cache is dropped when Odoo refuses a write (``forget_targets``)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[tuple[str, Any], tuple[float, Any]] = {}

    def get(self, kind: str, key: Any) -> Any:
        with self.lock:
            hit = self.rows.get((kind, key))
        if hit is None or time.monotonic() - hit[0] > TARGET_CACHE_SECONDS:
            return None
        return hit[1]

    def put(self, kind: str, key: Any, value: Any) -> None:
        with self.lock:
            self.rows[(kind, key)] = (time.monotonic(), value)


TARGET_CACHE_SECONDS = 120.0
_target_caches: weakref.WeakKeyDictionary[Any, _TargetCache] = weakref.WeakKeyDictionary()
_target_caches_lock = threading.Lock()


def _target_cache(odoo: Any) -> _TargetCache:
    with _target_caches_lock:
        cache = _target_caches.get(odoo)
        if cache is None:
            cache = _target_caches[odoo] = _TargetCache()
        return cache


def forget_targets() -> None:
    """Drop what was cached of the hub's Odoo targets (Odoo refused a write: something the
    cache holds may have changed, e.g. a task or project deleted)."""
    with _target_caches_lock:
        _target_caches.pop(_odoo().odoo, None)


def _cached_read(
    cache: _TargetCache, odoo: Any, model: str, ids: Sequence[int], fields: list[str]
) -> dict[int, dict[str, Any]]:
    """id -> row of ``model`` (``fields``), read from Odoo only for the ids not cached."""
    rows: dict[int, dict[str, Any]] = {}
    missing = []
    for rid in ids:
        row = cache.get(model, rid)
        if row is None:
            missing.append(rid)
        else:
            rows[rid] = row
    if missing:
        for row in odoo.read(model, missing, fields):
            cache.put(model, row["id"], row)
            rows[row["id"]] = row
    return rows


def _deal_projects(deal_refs: Sequence[str]) -> dict[str, int]:
    """deal -> its Odoo project (the lowest bound), in one store query."""
    from sqlalchemy import select

    if not deal_refs:
        return {}
    found: dict[str, int] = {}
    with current_hub().store.session() as session:
        for deal, external_id in session.execute(
            select(Binding.canonical_id, Binding.external_id).where(
                Binding.canonical_type == "deal",
                Binding.canonical_id.in_(list(deal_refs)),
                Binding.system == _system(),
                Binding.model == PROJECT_MODEL,
            )
        ):
            found[deal] = min(int(external_id), found.get(deal, int(external_id)))
    return found


def _targets_or_errors(records: Sequence[DeliveryRecord]) -> list[Target | BusinessRuleError]:
    odoo = _odoo().odoo
    cache = _target_cache(odoo)
    refs = sorted({(r.deal_ref or "", r.project_ref or "") for r in records})
    deal_projects = _deal_projects(sorted({deal for deal, _ in refs if deal}))
    project_of: dict[tuple[str, str], int | BusinessRuleError] = {}
    for deal_ref, project_ref in refs:
        project_id: int | None = deal_projects.get(deal_ref) if deal_ref else None
        if project_id is None and project_ref:
            try:
                project_id = _explicit_project(odoo, project_ref)
            except BusinessRuleError as error:
                project_of[(deal_ref, project_ref)] = error
                continue
        if project_id is not None:
            project_of[(deal_ref, project_ref)] = project_id
    project_ids = sorted({p for p in project_of.values() if isinstance(p, int)})
    projects = _cached_read(
        cache, odoo, PROJECT_MODEL, project_ids, ["sale_order_id", "company_id"]
    )
    order_ids = sorted(
        {o for row in projects.values() if (o := _id_of(row.get("sale_order_id"))) is not None}
    )
    # The order's company is what an expense re-invoiced on it must belong to (Odoo gives the
    # order's project the same company).
    order_company = {
        rid: _id_of(row.get("company_id"))
        for rid, row in _cached_read(cache, odoo, ORDER_MODEL, order_ids, ["company_id"]).items()
    }
    employees = _cached_employee_rows(cache, [r.consultant for r in records])
    tasks: dict[int, list[dict[str, Any]]] = {}
    timesheet_projects = sorted(
        {
            p
            for r in records
            if isinstance(r, TimeEntry)
            and isinstance(p := project_of.get((r.deal_ref or "", r.project_ref or "")), int)
            and p in projects
        }
    )
    named = {
        (p, r.task_ref)
        for r in records
        if isinstance(r, TimeEntry)
        and r.task_ref
        and isinstance(p := project_of.get((r.deal_ref or "", r.project_ref or "")), int)
    }
    to_read = []
    for project_id in timesheet_projects:
        cached = cache.get("project.task", project_id)
        if cached is None or any(
            p == project_id and not any(t["name"] == name for t in cached) for p, name in named
        ):
            to_read.append(project_id)
        else:
            tasks[project_id] = cached
    if to_read:
        for task in odoo.search_read(
            "project.task", [["project_id", "in", to_read]], ["name", "project_id"], order="id asc"
        ):
            tasks.setdefault(_id_of(task.get("project_id")) or 0, []).append(task)
        for project_id in to_read:
            cache.put("project.task", project_id, tasks.get(project_id, []))
    targets: list[Target | BusinessRuleError] = []
    for record in records:
        project = project_of.get((record.deal_ref or "", record.project_ref or ""))
        if project is None:
            targets.append(_project_unknown(record))
            continue
        if isinstance(project, BusinessRuleError):
            targets.append(project)
            continue
        row = projects.get(project)
        if row is None:
            targets.append(
                BusinessRuleError(
                    f"{record.key}: Odoo project {project} no longer exists",
                    rule="project_unknown",
                    value=str(project),
                    suggested_fix="Restore the project in Odoo or correct the entry's project; "
                    "then retry.",
                )
            )
            continue
        order_id = _id_of(row.get("sale_order_id"))
        company_id = (
            order_company.get(order_id, _id_of(row.get("company_id")))
            if order_id
            else _id_of(row.get("company_id"))
        )
        employee = _pick_employee(employees, record.consultant, company_id)
        if employee is None:
            targets.append(employee_missing(record))
            continue
        task = (
            pick_task(tasks.get(project, []), record.task_ref)
            if isinstance(record, TimeEntry)
            else None
        )
        targets.append(
            Target(
                project_id=project,
                order_id=order_id,
                task_id=task,
                employee_id=employee[0],
                company_id=company_id or employee[1],
                employee_company_id=employee[1],
            )
        )
    return targets


def _project_unknown(record: DeliveryRecord) -> BusinessRuleError:
    where = f"deal {record.deal_ref}" if record.deal_ref else f"project {record.project_ref}"
    return BusinessRuleError(
        f"{record.key}: no Odoo project for {where}",
        rule="project_unknown",
        value=record.deal_ref or record.project_ref,
        suggested_fix="Deliver the deal first (deal-to-delivery creates its project), or set "
        "project_ref to an Odoo project (odoo:project:<id> or its exact name); then retry.",
    )


def resolve_target(record: DeliveryRecord) -> Target:
    [target] = _targets_or_errors([record])
    if isinstance(target, BusinessRuleError):
        forget_targets()
        raise target
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


def expense_currency(expense: Expense) -> int:
    """The res.currency id of the expense's currency, which Odoo must have active (issue 10,
    defect 5: without it Odoo booked a USD expense in the company's EUR)."""
    found = active_currency_ids(_odoo().odoo, [expense.currency]).get(expense.currency)
    if found is None:
        raise BusinessRuleError(
            f"{expense.key}: currency {expense.currency} is not active in Odoo",
            rule="currency_inactive",
            value=expense.currency,
            suggested_fix=f"Activate {expense.currency} in Odoo (Accounting > Settings > "
            "Currencies) with its exchange rates, or correct the expense's currency; then retry.",
        )
    return found


def check_expense_rate(expense: Expense, currency_id: int, company_id: int) -> None:
    """Odoo converts an expense into its company's currency at the rate of the expense's date
    when it is booked, and without a rate on or before that day it silently takes the
    currency's oldest rate, or 1 (checked on a real Odoo 18): such an expense is not booked
    but waits as an exception naming the rate to add (issue 10, defect 5)."""
    odoo = _odoo().odoo
    [company] = odoo.read("res.company", [company_id], ["name", "currency_id", "root_id"])
    own = company["currency_id"][0] if company.get("currency_id") else None
    if own is None or own == currency_id:
        return
    root = company["root_id"][0] if company.get("root_id") else company_id
    day = expense.date.isoformat()
    rates = odoo.search_read(
        "res.currency.rate",
        [
            ["currency_id", "=", currency_id],
            ["company_id", "in", [False, root]],
            ["name", "<=", day],
        ],
        ["rate"],
    )
    if any(row["rate"] for row in rates):
        return
    raise BusinessRuleError(
        f"{expense.key}: Odoo has no {expense.currency} rate on or before {day} for "
        f"{company['name']}: it would book {expense.amount} {expense.currency} at its oldest "
        "rate or at 1",
        rule="missing_exchange_rate",
        value=f"{expense.currency} {day}",
        suggested_fix=f"Add the {expense.currency} rate of {day} in Odoo (Accounting > "
        f"Configuration > Currencies > {expense.currency} > Rates, company {company['name']}), "
        "then retry.",
    )


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
            context={
                "employee_company_id": target.employee_company_id,
                "company_id": target.company_id,
            },
        )
    values: dict[str, Any] = {
        "name": expense.description or f"{expense.category} {expense.date.isoformat()}",
        "employee_id": target.employee_id,
        "product_id": product_id or expense_product(expense.category),
        "total_amount_currency": expense.amount,  # Decimal up to the wire
        "currency_id": expense_currency(expense),
        "date": expense.date.isoformat(),
    }
    company = target.company_id or target.employee_company_id or 1
    check_expense_rate(expense, values["currency_id"], company)
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


def upsert(
    records: Sequence[DeliveryRecord], values: Sequence[dict[str, Any]], *, and_bind: bool = False
) -> list[int]:
    """Create (or update) the Odoo records of ``records`` (all of one model), each with the
    entry's external id: timesheets by ``create_bound_many`` (one ``create`` carrying the
    reference, one ``ir.model.data`` ``create``), expenses by ``load``; audit each; return their
    ids in order. ``and_bind``: bind them in the store too (``bind``), in the audit's
    transaction, which for new timesheets runs while Odoo creates their external ids. Binding
    before the step is recorded is safe: a re-run finds the records by external id or
    reference, and binds the same ids again."""
    odoo = _odoo().odoo
    if not records:
        return []
    model = model_of(records[0])
    rows = [(r.key, v) for r, v in zip(records, values, strict=True)]
    correlation = _correlation()

    def bookkeeping(results: Sequence[Any]) -> None:
        audit = [
            {
                "action": "create" if result.created else "update",
                "system": _system(),
                "model": model,
                "record_id": str(result.id),
                "canonical_id": record.key,
                "after": row if result.created else {k: row[k] for k in result.updated_fields},
                "correlation_id": correlation,
            }
            for record, row, result in zip(records, values, results, strict=True)
        ]
        if and_bind:
            bind(records, [result.id for result in results], audit)
        else:
            audit_many(audit)

    try:
        if model == TIMESHEET_MODEL:
            # One create + one ir.model.data create, the reference in the timesheet's own stored
            # ``ref`` (create_bound_many): half the cost of load on a real Odoo 18.
            results = odoo.create_bound_many(
                model, EXTERNAL_ID_SYSTEM, rows, TIMESHEET_REFERENCE, alongside=bookkeeping
            )
        else:
            # hr.expense has no stored reference field of its own to search (only ``name`` and
            # the person's ``description`` notes), so expenses keep ``load``.
            results = odoo.upsert_many(model, EXTERNAL_ID_SYSTEM, rows)
            bookkeeping(results)
    except Exception:
        forget_targets()  # a target read earlier may be what Odoo refused (deleted, changed)
        raise
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
        rows = odoo.read(
            EXPENSE_MODEL, [pushed.record_id], ["sale_order_id", "name", "employee_id"]
        )
        order = rows[0].get("sale_order_id") if rows else None
        if not (isinstance(order, list) and order):
            return None
        line_ids = [
            r["id"]
            for r in odoo.search_read(
                "sale.order.line",
                [["order_id", "=", order[0]], ["name", "in", _reinvoiced_names(rows[0])]],
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


def _reinvoiced_names(expense: dict[str, Any]) -> list[str]:
    """The names Odoo gives an expense's re-invoiced order line: "<employee>: <first line of
    the expense, 64 characters>" (hr.expense ``_get_move_line_name``), or the expense's own."""
    name = str(expense.get("name") or "")
    employee = expense.get("employee_id")
    who = str(employee[1]) if isinstance(employee, list) and len(employee) > 1 else ""
    return [name, f"{who}: {name.splitlines()[0][:64] if name else ''}"]


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
    try:
        values = values_for(record, target)
    except BusinessRuleError:
        forget_targets()  # the target may have come from the cache: its retry reads afresh
        raise
    odoo = _odoo().odoo
    [before] = odoo.read(pushed.model, [pushed.record_id], sorted(values)) or [{}]
    changed = {k: v for k, v in values.items() if _plain(before.get(k)) != v}
    if changed:
        odoo.write(pushed.model, [pushed.record_id], changed)
    current_hub().audit.record(
        actor="handoff",
        action="correct",
        system=_system(),
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
        ids = odoo.call(
            "ir.model.data",
            "search",
            [
                [
                    ["module", "=", EXTERNAL_ID_MODULE],
                    ["name", "=", external_id_name(EXTERNAL_ID_SYSTEM, pushed.model, record.key)],
                ]
            ],
        )
        if ids:
            odoo.call("ir.model.data", "unlink", [ids])
    hub = current_hub()
    hub.audit.record(
        actor="handoff",
        action="unlink",
        system=_system(),
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
        _system(),
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


class Assigned(BaseModel):
    """An entry's inbox event handed to another entry's run (its project's batch leader)."""

    inbox_id: int
    record: TimeEntry | Expense


def assigned_to(workflow_id: str, own_inbox_id: int) -> list[Assigned]:
    """The inbox events the batch dispatcher queued for this run besides its own."""
    return [
        Assigned(inbox_id=inbox_id, record=record_of(payload))
        for inbox_id, payload in flows.batch_mates(workflow_id, own_inbox_id)
    ]


class Role(StrEnum):
    """What a batch run does with each entry it was handed."""

    PUSH = "push"  # new, approved and billable: pushed with its batch-mates
    RECORD = "record"  # new, not approved or not billable: recorded as not for Odoo
    SUPERSEDED = "superseded"  # a later revision of the entry is in the same batch
    OWN_RUN = "own_run"  # pushed before (a change may correct or withdraw it), or an earlier
    # revision of it still waits for its own run: it gets a run of its own, after this one


def sort_batch(records: Sequence[DeliveryRecord], inbox_ids: Sequence[int]) -> list[Role]:
    """Each record's role in its batch (``Role``). Folding: of an entry's revisions in the batch
    only the latest (by ``updated_at``, else arrival) is handled, the others are superseded. An
    entry whose earlier revision is still waiting in the inbox for a run (queued in this run's
    partition, so ahead of this run's released entries) is not pushed here: it goes to a run of
    its own, which the partition starts after that earlier revision's run."""
    from sqlalchemy import select

    if not records:
        return []
    revisions: dict[str, list[int]] = {}
    for index, record in enumerate(records):
        revisions.setdefault(record.key, []).append(index)
    latest = {key: _latest(records, indexes) for key, indexes in revisions.items()}
    own = set(inbox_ids)
    with current_hub().store.session() as session:
        bound = set(
            session.scalars(
                select(Binding.canonical_id).where(
                    Binding.canonical_type.in_(["time_entry", "expense"]),
                    Binding.canonical_id.in_(list(revisions)),
                )
            )
        )
        partitions = current_hub().settings.time_entries.partitions
        keys = {entity_key(r, partitions) for r in records}
        waiting: dict[str, int] = {}
        for inbox_id, event_id in session.execute(
            select(InboxEvent.id, InboxEvent.source_event_id).where(
                InboxEvent.flow == FLOW,
                InboxEvent.entity_key.in_(sorted(keys)),
                InboxEvent.status.in_([InboxStatus.RECEIVED, InboxStatus.QUEUED]),
                InboxEvent.id < max(inbox_ids),
            )
        ):
            if inbox_id not in own:
                key = event_id.rsplit("@", 1)[0]
                waiting[key] = min(inbox_id, waiting.get(key, inbox_id))
    roles: list[Role] = []
    for index, record in enumerate(records):
        if latest[record.key] != index:
            roles.append(Role.SUPERSEDED)
        elif record.key in bound or waiting.get(record.key, inbox_ids[index]) < inbox_ids[index]:
            roles.append(Role.OWN_RUN)
        else:
            roles.append(Role.PUSH if record.billable_now else Role.RECORD)
    return roles


def _latest(records: Sequence[DeliveryRecord], indexes: Sequence[int]) -> int:
    stamps = [records[i].updated_at for i in indexes]
    if all(stamp is not None for stamp in stamps):
        return max(indexes, key=lambda i: (records[i].updated_at, i))
    return max(indexes)


def record_superseded(records: Sequence[DeliveryRecord], by: Sequence[DeliveryRecord]) -> None:
    """Audit that older revisions were folded into a later one of the same batch."""
    correlation = _correlation()
    audit_many(
        [
            {
                "action": "superseded",
                "system": "handoff",
                "model": canonical_type(record),
                "record_id": record.key,
                "canonical_id": record.key,
                "after": {
                    "revision": record.revision,
                    "superseded_by": later.revision,
                    "pushed": False,
                },
                "correlation_id": correlation,
            }
            for record, later in zip(records, by, strict=True)
        ]
    )


def plan_push(
    records: Sequence[DeliveryRecord], *, first_must_resolve: bool = True
) -> tuple[list[int], list[dict[str, Any]]]:
    """Indexes of the records that resolve to an Odoo target, and their values. A record that
    does not resolve is left to its own run (its exception is its own), except the first one
    when ``first_must_resolve`` (a run's own entry fails its run). Any record that does not
    resolve drops the cached targets (``_TargetCache``): its own run, or the retry of its
    exception once someone fixed Odoo (a new employee, task, project), reads them afresh."""
    try:
        chosen, values = _plan_push(records, first_must_resolve)
    except Exception:
        forget_targets()
        raise
    if len(chosen) < len(records):
        forget_targets()
    return chosen, values


def _plan_push(
    records: Sequence[DeliveryRecord], first_must_resolve: bool
) -> tuple[list[int], list[dict[str, Any]]]:
    targets = _targets_or_errors(records)
    if first_must_resolve and isinstance(targets[0], BusinessRuleError):
        resolve_target(records[0])  # raises the record's own error, its key in the message
    chosen: list[int] = []
    values: list[dict[str, Any]] = []
    categories: dict[str, int] = {}
    for index, (record, target) in enumerate(zip(records, targets, strict=True)):
        if not isinstance(target, Target):
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
    """Batched events are done (one statement); the others get a run of their own (their own
    outcome, their own exception), started after this one in their partition's order."""
    flows.finish_batch_mates(done, own_run)
