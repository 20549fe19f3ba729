"""inbox waiting: events of batching flows wait for their group's run

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 06:00:00

The status is a plain string column; a new value ("waiting") needs no change of its own. The
batch dispatcher looks the waiting events up per flow and entity, oldest first: a partial index
holds only those rows, so it stays a few thousand entries whatever the size of the inbox.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

WAITING = sa.text("status = 'waiting'")


def upgrade() -> None:
    op.create_index(
        "ix_inbox_waiting",
        "inbox",
        ["flow", "entity_key", "id"],
        unique=False,
        sqlite_where=WAITING,
        postgresql_where=WAITING,
    )


def downgrade() -> None:
    op.drop_index("ix_inbox_waiting", table_name="inbox")
