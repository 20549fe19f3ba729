"""The durable inbox: every event is stored, deduplicated per source, before anything acts on it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import case, select, update
from sqlalchemy.dialects import postgresql, sqlite

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

    def accept_many(self, source: str, events: Sequence[IncomingEvent]) -> list[AcceptResult]:
        """Store events in one statement; an event already stored comes back as a duplicate."""
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
        statement = (
            insert(InboxEvent)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["source", "source_event_id"])
            .returning(InboxEvent.id, InboxEvent.source_event_id, InboxEvent.correlation_id)
        )
        with self.store.session() as session:
            created = {row[1]: (row[0], row[2]) for row in session.execute(statement)}
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

    def mark_queued(self, inbox_id: int, workflow_id: str) -> None:
        """Record the hand-over to a flow without undoing what the flow may already have set:
        a fast worker can finish (or fail) the flow before the submitter gets here."""
        with self.store.session() as session:
            session.execute(
                update(InboxEvent)
                .where(InboxEvent.id == inbox_id)
                .values(
                    workflow_id=workflow_id,
                    status=case(
                        (InboxEvent.status == InboxStatus.RECEIVED, InboxStatus.QUEUED),
                        else_=InboxEvent.status,
                    ),
                )
            )

    def waiting(self, limit: int = 500) -> list[InboxEvent]:
        """Events stored but not yet handed to a flow (e.g. the process died right after storing)."""
        with self.store.session() as session:
            return list(
                session.scalars(
                    select(InboxEvent)
                    .where(InboxEvent.status == InboxStatus.RECEIVED, InboxEvent.flow.is_not(None))
                    .order_by(InboxEvent.id)
                    .limit(limit)
                )
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
