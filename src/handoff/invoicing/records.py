"""Billing proposals in the hub's store: what a run will invoice, who approved it, what it became.

The table is created by migration ``0004_billing_proposals``. Its own declarative base keeps it out
of ``handoff.store.models`` (owned elsewhere) while sharing the store's engine and sessions.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Numeric, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from handoff.store.db import Store
from handoff.store.models import BigId, UTCDateTime, utcnow


class ProposalStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    INVOICED = "invoiced"
    FAILED = "failed"


OPEN_STATUSES = (ProposalStatus.PROPOSED, ProposalStatus.APPROVED, ProposalStatus.FAILED)


class _Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class ProposalRecord(_Base):
    """One project's proposal for one period. ``invoices_before`` is the order's invoice ids
    recorded just before the invoicing wizard ran: a re-run after a crash finds the invoice it
    created as the difference, instead of creating a second one."""

    __tablename__ = "billing_proposals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(32))
    project: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int]
    deal_key: Mapped[str] = mapped_column(String(255))
    basis: Mapped[str] = mapped_column(String(32))
    lines: Mapped[list[Any]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[Decimal] = mapped_column(Numeric(18, 4))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16), default=ProposalStatus.PROPOSED)
    approved_by: Mapped[str | None] = mapped_column(String(128))
    invoice_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    invoices_before: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProposalNotFound(LookupError):
    pass


class Proposals:
    """Repository of billing proposals."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def add(self, record: ProposalRecord) -> ProposalRecord:
        with self.store.session() as session:
            session.add(record)
            session.flush()
            return record

    def get(self, proposal_id: int) -> ProposalRecord:
        with self.store.session() as session:
            found = session.get(ProposalRecord, proposal_id)
            if found is None:
                raise ProposalNotFound(f"no billing proposal {proposal_id}")
            return found

    def list(
        self, *, status: str | None = None, project: str | None = None, limit: int = 200
    ) -> list[ProposalRecord]:
        query = select(ProposalRecord).order_by(ProposalRecord.id.desc()).limit(limit)
        if status is not None:
            query = query.where(ProposalRecord.status == status)
        if project is not None:
            query = query.where(ProposalRecord.project == project)
        with self.store.session() as session:
            return list(session.scalars(query))

    def open_for(self, project: str) -> ProposalRecord | None:
        """The project's proposal not invoiced yet, if any (one at a time per project)."""
        query = (
            select(ProposalRecord)
            .where(ProposalRecord.project == project, ProposalRecord.status.in_(OPEN_STATUSES))
            .order_by(ProposalRecord.id.desc())
            .limit(1)
        )
        with self.store.session() as session:
            return session.scalar(query)

    def update(self, proposal_id: int, **values: Any) -> ProposalRecord:
        with self.store.session() as session:
            found = session.get(ProposalRecord, proposal_id)
            if found is None:
                raise ProposalNotFound(f"no billing proposal {proposal_id}")
            for name, value in values.items():
                setattr(found, name, value)
            session.flush()
            return found
