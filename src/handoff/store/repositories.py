"""Repositories over the store: the only code that reads and writes the hub's tables."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from handoff.canonical.errors import HandoffError
from handoff.config import redact
from handoff.store.db import Store
from handoff.store.models import (
    AuditEntry,
    Binding,
    Cursor,
    ExceptionRecord,
    ExceptionStatus,
    Gate,
    GateStatus,
    utcnow,
)


def content_hash(content: Any) -> str:
    """Stable hash of a record's synced content, to skip writes that would change nothing."""
    encoded = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(encoded.encode()).hexdigest()


class Bindings:
    """External record <-> canonical identity. unique(system, model, external_id)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def find(self, system: str, model: str, external_id: str) -> Binding | None:
        with self.store.session() as session:
            return session.scalar(
                select(Binding).where(
                    Binding.system == system,
                    Binding.model == model,
                    Binding.external_id == external_id,
                )
            )

    def all(self, *, model: str | None = None) -> list[Binding]:
        query = select(Binding).order_by(Binding.id)
        if model is not None:
            query = query.where(Binding.model == model)
        with self.store.session() as session:
            return list(session.scalars(query))

    def for_canonical(self, canonical_type: str, canonical_id: str) -> list[Binding]:
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(Binding).where(
                        Binding.canonical_type == canonical_type,
                        Binding.canonical_id == canonical_id,
                    )
                )
            )

    def bind(
        self,
        system: str,
        model: str,
        external_id: str,
        *,
        canonical_type: str,
        canonical_id: str,
        content: Any = None,
        snapshot: dict[str, Any] | None = None,
    ) -> None:
        """Insert or refresh a binding; safe to repeat (it is how a retried step re-binds)."""
        values = {
            "system": system,
            "model": model,
            "external_id": external_id,
            "canonical_type": canonical_type,
            "canonical_id": canonical_id,
            "content_hash": None if content is None else content_hash(content),
            "snapshot": None if snapshot is None else _jsonable(snapshot),
            "synced_at": utcnow(),
        }
        insert = postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert
        statement = insert(Binding).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["system", "model", "external_id"],
            set_={
                "canonical_type": statement.excluded.canonical_type,
                "canonical_id": statement.excluded.canonical_id,
                "content_hash": statement.excluded.content_hash,
                "snapshot": statement.excluded.snapshot,
                "synced_at": statement.excluded.synced_at,
            },
        )
        with self.store.session() as session:
            session.execute(statement)

    def is_up_to_date(self, system: str, model: str, external_id: str, content: Any) -> bool:
        binding = self.find(system, model, external_id)
        return binding is not None and binding.content_hash == content_hash(content)


class Cursors:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, system: str, stream: str) -> dict[str, Any]:
        with self.store.session() as session:
            cursor = session.get(Cursor, (system, stream))
            return dict(cursor.position) if cursor else {}

    def advance(self, system: str, stream: str, position: dict[str, Any]) -> None:
        with self.store.session() as session:
            cursor = session.get(Cursor, (system, stream))
            if cursor is None:
                session.add(Cursor(system=system, stream=stream, position=position))
            else:
                cursor.position = position


class ExceptionQueue:
    """Failures a person must act on. One open exception per workflow: a retry reuses it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def raise_for(
        self,
        error: HandoffError,
        *,
        flow: str,
        record: str,
        workflow_id: str | None = None,
        step: int | None = None,
        correlation_id: str | None = None,
    ) -> int:
        with self.store.session() as session:
            # One exception per problem, however many events (redeliveries, further edits of
            # the same deal) run into it: the latest run is the one a retry continues.
            pending = ExceptionRecord.status.in_([ExceptionStatus.OPEN, ExceptionStatus.RETRYING])
            same_run = ExceptionRecord.workflow_id == workflow_id
            same_problem = (
                (ExceptionRecord.flow == flow)
                & (ExceptionRecord.record == record)
                & (ExceptionRecord.rule == error.rule)
            )
            existing = session.scalar(
                select(ExceptionRecord)
                .where(pending, same_run | same_problem if workflow_id else same_problem)
                .order_by(ExceptionRecord.id)
                .limit(1)
            )
            target = existing or ExceptionRecord(flow=flow)
            target.workflow_id = workflow_id
            target.step = step
            target.record = record
            target.kind = error.kind.value
            target.rule = error.rule
            target.message = error.message
            target.value = None if error.value is None else str(error.value)
            target.context = _jsonable(error.context)
            target.suggested_fix = error.suggested_fix
            target.status = ExceptionStatus.OPEN
            target.correlation_id = correlation_id
            if existing is None:
                session.add(target)
            session.flush()
            return target.id

    def get(self, exception_id: int) -> ExceptionRecord | None:
        with self.store.session() as session:
            return session.get(ExceptionRecord, exception_id)

    def list(self, *, status: str | None = "open", limit: int = 50) -> list[ExceptionRecord]:
        query = select(ExceptionRecord).order_by(ExceptionRecord.id.desc()).limit(limit)
        if status:
            query = query.where(ExceptionRecord.status == status)
        with self.store.session() as session:
            return list(session.scalars(query))

    def count_open(self) -> int:
        from sqlalchemy import func

        with self.store.session() as session:
            return int(
                session.scalar(
                    select(func.count())
                    .select_from(ExceptionRecord)
                    .where(ExceptionRecord.status == ExceptionStatus.OPEN)
                )
                or 0
            )

    def set_status(
        self,
        exception_id: int,
        status: ExceptionStatus,
        *,
        by: str | None = None,
        resolution: str | None = None,
    ) -> None:
        values: dict[str, Any] = {"status": status}
        if status in (ExceptionStatus.RESOLVED, ExceptionStatus.IGNORED):
            values |= {"resolved_at": utcnow(), "resolved_by": by, "resolution": resolution}
        with self.store.session() as session:
            session.execute(
                update(ExceptionRecord).where(ExceptionRecord.id == exception_id).values(**values)
            )

    def resolve_workflow(self, workflow_id: str, *, by: str, flow: str, record: str) -> None:
        """A flow that succeeded closes what it had raised, and what earlier runs for the same
        record raised (the data was fixed and a new event delivered it)."""
        with self.store.session() as session:
            session.execute(
                update(ExceptionRecord)
                .where(
                    ExceptionRecord.status.in_([ExceptionStatus.OPEN, ExceptionStatus.RETRYING]),
                    (ExceptionRecord.workflow_id == workflow_id)
                    | ((ExceptionRecord.flow == flow) & (ExceptionRecord.record == record)),
                )
                .values(
                    status=ExceptionStatus.RESOLVED,
                    resolved_at=utcnow(),
                    resolved_by=by,
                    resolution=f"flow run {workflow_id} completed",
                )
            )


class AuditTrail:
    """Append-only: entries are added, never changed."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        *,
        actor: str,
        action: str,
        system: str,
        model: str,
        record_id: str | None = None,
        canonical_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        workflow_id: str | None = None,
    ) -> None:
        entry = AuditEntry(
            actor=actor,
            action=action,
            system=system,
            model=model,
            record_id=record_id,
            canonical_id=canonical_id,
            diff=_jsonable(redact(diff(before or {}, after or {}))),
            correlation_id=correlation_id,
            workflow_id=workflow_id,
        )
        with self.store.session() as session:
            session.add(entry)

    def search(
        self,
        *,
        text: str | None = None,
        correlation_id: str | None = None,
        system: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> Sequence[AuditEntry]:
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if correlation_id:
            query = query.where(AuditEntry.correlation_id == correlation_id)
        if system:
            query = query.where(AuditEntry.system == system)
        if since:
            query = query.where(AuditEntry.at >= since)
        if text:
            like = f"%{text}%"
            query = query.where(
                or_(
                    AuditEntry.record_id.like(like),
                    AuditEntry.canonical_id.like(like),
                    AuditEntry.model.like(like),
                    AuditEntry.action.like(like),
                    AuditEntry.workflow_id.like(like),
                )
            )
        with self.store.session() as session:
            return list(session.scalars(query))


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """Only the fields that changed, as {field: [before, after]}."""
    keys = sorted(set(before) | set(after))
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class Gates:
    """Activation gates per deal: what a won deal waits on, and who lifted it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def require(
        self, deal_key: str, gates: Sequence[str], *, deal_name: str, workflow_id: str
    ) -> list[Gate]:
        """Record that the deal waits on ``gates`` (already satisfied ones stay satisfied)."""
        with self.store.session() as session:
            rows = []
            for name in gates:
                row = session.scalar(
                    select(Gate).where(Gate.deal_key == deal_key, Gate.gate == name)
                )
                if row is None:
                    row = Gate(deal_key=deal_key, gate=name, status=GateStatus.WAITING)
                    session.add(row)
                row.deal_name = deal_name
                row.workflow_id = workflow_id
                rows.append(row)
            session.flush()
            return rows

    def satisfy(
        self, deal_key: str, gate: str, *, by: str, evidence: dict[str, Any] | None = None
    ) -> Gate:
        """Mark a gate satisfied; a gate can be satisfied before the deal is even won."""
        with self.store.session() as session:
            row = session.scalar(select(Gate).where(Gate.deal_key == deal_key, Gate.gate == gate))
            if row is None:
                row = Gate(deal_key=deal_key, gate=gate)
                session.add(row)
            if row.status != GateStatus.SATISFIED:
                row.status = GateStatus.SATISFIED
                row.satisfied_at = utcnow()
                row.satisfied_by = by
                row.evidence = _jsonable(evidence or {})
            session.flush()
            return row

    def get(self, gate_id: int) -> Gate | None:
        with self.store.session() as session:
            return session.get(Gate, gate_id)

    def for_deal(self, deal_key: str) -> list[Gate]:
        with self.store.session() as session:
            return list(session.scalars(select(Gate).where(Gate.deal_key == deal_key)))

    def list(self, *, status: str | None = GateStatus.WAITING, limit: int = 100) -> list[Gate]:
        query = select(Gate).order_by(Gate.id).limit(limit)
        if status:
            query = query.where(Gate.status == status)
        with self.store.session() as session:
            return list(session.scalars(query))
