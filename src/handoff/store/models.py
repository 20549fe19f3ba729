"""The hub's own tables. Schema changes go through Alembic (``handoff db upgrade``)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on both stores (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite, so autoincrement works on both.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Binding(Base):
    """A record in an external system bound to its canonical identity: the idempotency key."""

    __tablename__ = "bindings"
    __table_args__ = (
        UniqueConstraint("system", "model", "external_id", name="uq_bindings_external"),
        Index("ix_bindings_canonical", "canonical_type", "canonical_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    system: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    external_id: Mapped[str] = mapped_column(String(255))
    canonical_type: Mapped[str] = mapped_column(String(64))
    canonical_id: Mapped[str] = mapped_column(String(255))
    content_hash: Mapped[str | None] = mapped_column(String(64))
    # The last synced content itself, where a later change must be compared with it (amendments).
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    synced_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Cursor(Base):
    """Where an incremental poll of one stream of one system got to."""

    __tablename__ = "cursors"

    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    stream: Mapped[str] = mapped_column(String(128), primary_key=True)
    position: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class InboxStatus(StrEnum):
    RECEIVED = "received"
    WAITING = "waiting"  # stored for a batching flow, waiting for its group's run (engine.batches)
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"


class InboxEvent(Base):
    """Every event that reaches the hub, kept before anything acts on it."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("source", "source_event_id", name="uq_inbox_source_event"),
        Index("ix_inbox_status", "status", "id"),
        Index("ix_inbox_entity", "entity_key", "id"),
        # The waiting events only (a few thousand at most): the batch dispatcher's groups.
        Index(
            "ix_inbox_waiting",
            "flow",
            "entity_key",
            "id",
            sqlite_where=text("status = 'waiting'"),
            postgresql_where=text("status = 'waiting'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(64))
    source_event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(128))
    entity_key: Mapped[str] = mapped_column(String(255))
    flow: Mapped[str | None] = mapped_column(String(128))
    occurred_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=InboxStatus.RECEIVED)
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    correlation_id: Mapped[str] = mapped_column(String(64))


class ExceptionStatus(StrEnum):
    OPEN = "open"
    RETRYING = "retrying"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class ExceptionRecord(Base):
    """A failure a person must act on: which record, which rule, what value, what to do."""

    __tablename__ = "exceptions"
    __table_args__ = (Index("ix_exceptions_status", "status", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    flow: Mapped[str] = mapped_column(String(128))
    workflow_id: Mapped[str | None] = mapped_column(String(255), index=True)
    step: Mapped[int | None]
    record: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    rule: Mapped[str] = mapped_column(String(128))
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[str | None] = mapped_column(Text)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suggested_fix: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=ExceptionStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(128))
    resolution: Mapped[str | None] = mapped_column(Text)
    correlation_id: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """Append-only trail of every change the hub made or was asked to make."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_correlation", "correlation_id"),
        Index("ix_audit_target", "system", "model", "record_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    system: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(128))
    record_id: Mapped[str | None] = mapped_column(String(255))
    canonical_id: Mapped[str | None] = mapped_column(String(255))
    diff: Mapped[dict[str, Any]] = mapped_column(default=dict)
    correlation_id: Mapped[str | None] = mapped_column(String(64))
    workflow_id: Mapped[str | None] = mapped_column(String(255))


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class Circuit(Base):
    """Circuit breaker state per target system, shared by every worker process."""

    __tablename__ = "circuits"

    system: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16), default=CircuitState.CLOSED)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    opened_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GateStatus(StrEnum):
    WAITING = "waiting"
    SATISFIED = "satisfied"


class Gate(Base):
    """A condition a won deal waits on before anything is written (signed SOW, deposit, approval).

    One row per deal and gate; a flow waiting on it is woken when it is satisfied."""

    __tablename__ = "gates"
    __table_args__ = (UniqueConstraint("deal_key", "gate", name="uq_gates_deal_gate"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    deal_key: Mapped[str] = mapped_column(String(255))
    gate: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=GateStatus.WAITING)
    deal_name: Mapped[str | None] = mapped_column(String(255))
    workflow_id: Mapped[str | None] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    satisfied_at: Mapped[datetime | None]
    satisfied_by: Mapped[str | None] = mapped_column(String(128))
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)
