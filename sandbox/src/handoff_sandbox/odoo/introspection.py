"""``ir.model.fields``: the sandbox's schema as rows, as Odoo describes its own fields.

Connectors read it to discover fields without ``fields_get`` per model (Airbyte's and Singer's
Odoo sources, for instance). Written once when a database is created, with one insert per
model, so starting a sandbox stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .orm import Env


def seed_fields(env: Env) -> None:
    models = {
        row["model"]: row["id"]
        for row in env["ir.model"].values(env["ir.model"].search_ids([]), ["model"])
    }
    table = env["ir.model.fields"].spec.table
    columns = (
        "name",
        "model",
        "model_id",
        "ttype",
        "field_description",
        "required",
        "readonly",
        "store",
        "relation",
        "state",
    )
    rows = [
        (
            field.name,
            spec.name,
            models[spec.name],
            field.type,
            field.string or field.name,
            int(field.required),
            int(field.readonly),
            int(field.store),
            field.relation or None,
            "base",
        )
        for spec in env.db.models.values()
        if spec.name in models
        for field in spec.fields.values()
    ]
    env.conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        rows,
    )
