"""The durable inbox: every event is stored, deduplicated per source, before anything acts on it."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, Field
from sqlalchemy import Table, bindparam, func, or_, select, update
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


@dataclass(frozen=True)
class Claimed:
    """A waiting event claimed for its batch's run."""

    inbox_id: int
    source: str
    source_event_id: str
    kind: str
    entity_key: str
    flow: str
    payload: dict[str, Any]
    correlation_id: str


@dataclass(frozen=True)
class WaitingGroup:
    """The waiting events of one flow and entity: how many (up to the count asked) and since
    when the oldest waits."""

    flow: str
    entity_key: str
    count: int
    oldest: datetime


class Inbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    def accept_many(
        self,
        source: str,
        events: Sequence[IncomingEvent],
        *,
        session: Session | None = None,
        waiting: Collection[str] = (),
    ) -> list[AcceptResult]:
        """Store events in one statement; an event already stored comes back as a duplicate.
        With ``session``, inside the caller's transaction (the enqueue of their runs joins it).
        The events of a flow in ``waiting`` are stored waiting for their batch's run."""
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
                "status": InboxStatus.WAITING
                if event.flow is not None and event.flow in waiting
                else InboxStatus.RECEIVED,
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

    def claim_waiting(
        self, session: Session, flow: str, entity_key: str, limit: int
    ) -> list[Claimed]:
        """Take up to ``limit`` waiting events of one flow and entity, oldest first, and mark
        them queued, in the caller's transaction (which enqueues their run). The claim is the
        transaction's first write to them: on PostgreSQL the rows are locked, rows another
        transaction holds are skipped (FOR UPDATE SKIP LOCKED) and a row claimed meanwhile is
        not taken again (its status is checked again once locked); on SQLite, one writer at a
        time, the UPDATE itself takes the database's write lock."""
        table = cast(Table, InboxEvent.__table__)
        pick = (
            select(table.c.id)
            .where(
                table.c.status == InboxStatus.WAITING,
                table.c.flow == flow,
                table.c.entity_key == entity_key,
            )
            .order_by(table.c.id)
            .limit(limit)
        )
        if self.store.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        rows = session.execute(
            update(table)
            .where(table.c.id.in_(pick.scalar_subquery()), table.c.status == InboxStatus.WAITING)
            .values(status=InboxStatus.QUEUED)
            .returning(
                table.c.id,
                table.c.source,
                table.c.source_event_id,
                table.c.kind,
                table.c.entity_key,
                table.c.flow,
                table.c.payload,
                table.c.correlation_id,
            )
        ).all()
        claimed = [Claimed(*row) for row in rows]
        return sorted(claimed, key=lambda item: item.inbox_id)

    def assign(self, session: Session, inbox_ids: Sequence[int], workflow_id: str) -> None:
        """Record the run a batch's queued events belong to (the run of its first event)."""
        if inbox_ids:
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(inbox_ids)))
                .values(workflow_id=workflow_id)
            )

    def waiting_groups(self, session: Session, flows: Collection[str]) -> list[WaitingGroup]:
        """Every flow-and-entity group of waiting events of ``flows``, oldest first."""
        if not flows:
            return []
        rows = session.execute(
            select(
                InboxEvent.flow,
                InboxEvent.entity_key,
                func.count(),
                func.min(InboxEvent.received_at),
            )
            .where(InboxEvent.status == InboxStatus.WAITING, InboxEvent.flow.in_(list(flows)))
            .group_by(InboxEvent.flow, InboxEvent.entity_key)
        ).all()
        groups = [WaitingGroup(str(r[0]), str(r[1]), int(r[2]), r[3]) for r in rows]
        return sorted(groups, key=lambda group: group.oldest)

    def waiting_count(self, session: Session, flow: str, entity_key: str, limit: int) -> int:
        """How many events of one flow and entity wait, counted up to ``limit``."""
        waiting = (
            select(InboxEvent.id)
            .where(
                InboxEvent.status == InboxStatus.WAITING,
                InboxEvent.flow == flow,
                InboxEvent.entity_key == entity_key,
            )
            .limit(limit)
            .subquery()
        )
        return int(session.scalar(select(func.count()).select_from(waiting)) or 0)

    def batch_mates(self, workflow_id: str, own_inbox_id: int) -> list[tuple[int, dict[str, Any]]]:
        """The events queued for run ``workflow_id`` besides its own: (inbox id, payload)."""
        with self.store.session() as session:
            rows = session.execute(
                select(InboxEvent.id, InboxEvent.payload)
                .where(
                    InboxEvent.workflow_id == workflow_id,
                    InboxEvent.status == InboxStatus.QUEUED,
                    InboxEvent.id != own_inbox_id,
                )
                .order_by(InboxEvent.id)
            )
            return [(int(row[0]), dict(row[1])) for row in rows]

    def mark_done(self, session: Session, inbox_ids: Sequence[int]) -> None:
        """A batch's events its run finished, in one statement."""
        if inbox_ids:
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id.in_(list(inbox_ids)))
                .values(status=InboxStatus.DONE)
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
