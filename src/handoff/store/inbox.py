"""The durable inbox: every event is stored, deduplicated per source, before anything acts on it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from contextlib import ExitStack
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import Table, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from handoff.store.db import Store
from handoff.store.models import InboxEvent, InboxStatus


class IncomingEvent(BaseModel):
    """An event as a source delivered it, before the hub has acted on it."""

    source_event_id: str = Field(min_length=1, max_length=255)
    entity_key: str = Field(min_length=1, max_length=255)
    kind: str = Field(min_length=1, max_length=128)
    occurred_at: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    flow: str | None = None


class AcceptResult(BaseModel):
    inbox_id: int
    duplicate: bool
    correlation_id: str


class Inbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def accept_many(
        self, source: str, events: Sequence[IncomingEvent], *, session: Session | None = None
    ) -> list[AcceptResult]:
        """Store events in one statement; an event already stored comes back as a duplicate.
        With ``session``, inside the caller's transaction (the enqueue of their runs joins it)."""
        if not events:
            return []
        # Sources redeliver: the first copy wins, the rest are answered as duplicates.
        unique: dict[str, IncomingEvent] = {}
        for event in events:
            unique.setdefault(event.source_event_id, event)
        rows = [
            {
                "source": source,
                "source_event_id": event.source_event_id,
                "kind": event.kind,
                "entity_key": event.entity_key,
                "flow": event.flow,
                "occurred_at": event.occurred_at,
                "payload": event.payload,
                "status": InboxStatus.RECEIVED,
                "correlation_id": uuid.uuid4().hex,
            }
            for event in unique.values()
        ]
        insert = postgresql.insert if self.store.dialect == "postgresql" else sqlite.insert
        # Core, rows as parameters (SQLAlchemy's "insertmanyvalues"): one statement compiled
        # once for any number of rows; rows inlined in .values() compile anew per row count.
        table = cast(Table, InboxEvent.__table__)
        statement = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["source", "source_event_id"])
            .returning(table.c.id, table.c.source_event_id, table.c.correlation_id)
        )
        with ExitStack() as scope:
            if session is None:
                session = scope.enter_context(self.store.session())
            created = {row[1]: (row[0], row[2]) for row in session.execute(statement, rows)}
            missing = [key for key in unique if key not in created]
            existing: dict[str, tuple[int, str]] = {}
            if missing:
                found = session.execute(
                    select(
                        InboxEvent.source_event_id, InboxEvent.id, InboxEvent.correlation_id
                    ).where(InboxEvent.source == source, InboxEvent.source_event_id.in_(missing))
                )
                existing = {row[0]: (row[1], row[2]) for row in found}
        results: list[AcceptResult] = []
        seen: set[str] = set()
        for event in events:
            key = event.source_event_id
            first_copy = key in created and key not in seen
            inbox_id, correlation_id = created[key] if key in created else existing[key]
            results.append(
                AcceptResult(
                    inbox_id=inbox_id, duplicate=not first_copy, correlation_id=correlation_id
                )
            )
            seen.add(key)
        return results

    def get(self, inbox_id: int) -> InboxEvent | None:
        with self.store.session() as session:
            return session.get(InboxEvent, inbox_id)

    def mark(self, inbox_id: int, status: InboxStatus, workflow_id: str | None = None) -> None:
        values: dict[str, Any] = {"status": status}
        if workflow_id is not None:
            values["workflow_id"] = workflow_id
        with self.store.session() as session:
            session.execute(update(InboxEvent).where(InboxEvent.id == inbox_id).values(**values))

    def mark_queued(self, session: Session, workflow_ids: dict[int, str]) -> None:
        """Record which run handles each event, in the transaction that enqueued the runs (no
        worker has seen them yet). An event already done or failed keeps its state: a worker's
        step that gives events runs of their own may run again after a crash, when those runs
        have ended."""
        if not workflow_ids:
            return
        table = cast(Table, InboxEvent.__table__)  # Core: an executemany with a condition
        session.execute(
            update(table)
            .where(
                table.c.id == bindparam("inbox_id"),
                or_(table.c.status == InboxStatus.RECEIVED, table.c.status == InboxStatus.QUEUED),
            )
            .values(workflow_id=bindparam("run_id"), status=InboxStatus.QUEUED),
            [{"inbox_id": key, "run_id": value} for key, value in workflow_ids.items()],
        )

    def list(
        self, *, source: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[InboxEvent]:
        query = select(InboxEvent).order_by(InboxEvent.id.desc()).limit(limit)
        if source:
            query = query.where(InboxEvent.source == source)
        if status:
            query = query.where(InboxEvent.status == status)
        with self.store.session() as session:
            return list(session.scalars(query))

    def waiting(
        self, flow: str, entity_prefix: str, *, limit: int = 100
    ) -> Sequence[tuple[int, str]]:
        """(inbox id, entity key) of the oldest ``limit`` events of ``flow`` still to be
        handled (received or queued) whose key starts with ``entity_prefix``: what a flow may
        read ahead for in one batch."""
        query = (
            select(InboxEvent.id, InboxEvent.entity_key)
            .where(
                InboxEvent.status.in_([InboxStatus.RECEIVED, InboxStatus.QUEUED]),
                InboxEvent.flow == flow,
                InboxEvent.entity_key.startswith(entity_prefix, autoescape=True),
            )
            .order_by(InboxEvent.id)
            .limit(limit)
        )
        with self.store.session() as session:
            return [(row[0], row[1]) for row in session.execute(query)]
