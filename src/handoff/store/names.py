"""Rows stored under a system's *kind* before systems were addressed by name, adopted by the
configured system of that kind.

Until issue 11 the hub wrote Odoo bindings and cursors under the literal ``odoo`` and the CRM
polls' cursors under ``hubspot`` / ``salesforce``, whatever the systems were called in
handoff.yaml. Now every row is keyed by the system's configured name; a hub whose one Odoo is
called ``erp`` adopts its ``odoo`` rows once, at start (``handoff.engine.runtime.start_hub``), so
what it bound before is still found. A hub that names the system like its kind (the default)
has nothing to adopt. A row the named system already holds is left as it is (never doubled).
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import aliased

from handoff.store.db import Store
from handoff.store.models import Binding, Cursor


def adopt_kind_rows(store: Store, renames: Mapping[str, str]) -> dict[str, int]:
    """Move the bindings and cursors stored under each old name (a kind) of ``renames`` to its
    new name; how many rows moved per old name."""
    moved: dict[str, int] = {}
    with store.session() as session:
        for old, new in renames.items():
            if old == new:
                continue
            held = aliased(Binding)
            bindings = session.execute(
                update(Binding)
                .where(
                    Binding.system == old,
                    ~exists(
                        select(held.id).where(
                            and_(
                                held.system == new,
                                held.model == Binding.model,
                                held.external_id == Binding.external_id,
                            )
                        )
                    ),
                )
                .values(system=new)
                .execution_options(synchronize_session=False)
            )
            kept = aliased(Cursor)
            taken = select(kept.stream).where(kept.system == new)
            cursors = session.execute(
                update(Cursor)
                .where(Cursor.system == old, ~Cursor.stream.in_(taken))
                .values(system=new)
                .execution_options(synchronize_session=False)
            )
            moved[old] = int(getattr(bindings, "rowcount", 0) or 0) + int(
                getattr(cursors, "rowcount", 0) or 0
            )
    return moved
