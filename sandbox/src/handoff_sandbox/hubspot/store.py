"""The HubSpot sandbox's own SQLite: records, custom properties, associations, pipelines, outbox.

All access happens on the server's event loop thread, so one connection serves everything.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from handoff_sandbox.hubspot.schema import PropertyDefinition, builtin_properties

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    object_type TEXT NOT NULL,
    id INTEGER NOT NULL,
    properties TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    archived INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (object_type, id)
);
CREATE INDEX IF NOT EXISTS objects_by_modified ON objects (object_type, archived, updated_at, id);
CREATE TABLE IF NOT EXISTS custom_properties (
    object_type TEXT NOT NULL,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (object_type, name)
);
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT NOT NULL,
    from_id INTEGER NOT NULL,
    to_type TEXT NOT NULL,
    to_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL,
    category TEXT NOT NULL,
    PRIMARY KEY (from_type, from_id, to_type, to_id, type_id)
);
CREATE TABLE IF NOT EXISTS pipelines (
    object_type TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (object_type, id)
);
CREATE TABLE IF NOT EXISTS webhook_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0
);
"""


def now_ms() -> int:
    return int(time.time() * 1000)


def iso_ms(ms: int) -> str:
    """HubSpot's timestamp form: `2024-05-01T09:30:00.123Z`."""
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_hubspot_time(value: Any) -> int | None:
    """Epoch ms from what HubSpot accepts for dates: epoch ms (number or digits) or ISO 8601."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


@dataclass
class StoredObject:
    object_type: str
    id: int
    properties: dict[str, str]
    created_at: int
    updated_at: int
    archived: bool


class SandboxStore:
    def __init__(self, path: Path | str | None) -> None:
        self.path = str(path) if path else ":memory:"
        if path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.db.create_function("hs_time", 1, parse_hubspot_time, deterministic=True)
        self.db.create_function("hs_tokens", 1, _lower_text, deterministic=True)

    # -- ids -------------------------------------------------------------------------------
    def next_ids(self, count: int) -> list[int]:
        row = self.db.execute("SELECT value FROM meta WHERE key='next_id'").fetchone()
        first = int(row[0]) if row else 10_000_001
        self.db.execute(
            "INSERT INTO meta(key, value) VALUES('next_id', ?) "
            "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
            (str(first + count),),
        )
        return list(range(first, first + count))

    # -- objects ---------------------------------------------------------------------------
    def insert_objects(self, rows: Sequence[StoredObject]) -> None:
        self.db.executemany(
            "INSERT INTO objects(object_type, id, properties, created_at, updated_at, archived) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (r.object_type, r.id, json.dumps(r.properties), r.created_at, r.updated_at, 0)
                for r in rows
            ],
        )

    def save_objects(self, rows: Sequence[StoredObject]) -> None:
        self.db.executemany(
            "UPDATE objects SET properties=?, updated_at=?, archived=? WHERE object_type=? AND id=?",
            [
                (json.dumps(r.properties), r.updated_at, int(r.archived), r.object_type, r.id)
                for r in rows
            ],
        )

    def get_objects(
        self, object_type: str, ids: Iterable[int], *, archived: bool | None = False
    ) -> dict[int, StoredObject]:
        wanted = list(ids)
        found: dict[int, StoredObject] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT object_type, id, properties, created_at, updated_at, archived FROM objects "
                f"WHERE object_type=? AND id IN ({marks})"
            )
            params: list[Any] = [object_type, *chunk]
            if archived is not None:
                sql += " AND archived=?"
                params.append(int(archived))
            for row in self.db.execute(sql, params):
                found[row[1]] = _row(row)
        return found

    def find_by_property(
        self, object_type: str, name: str, values: Sequence[str]
    ) -> dict[str, int]:
        if not values:
            return {}
        marks = ",".join("?" * len(values))
        rows = self.db.execute(
            f"SELECT lower(json_extract(properties, '$.\"{name}\"')), id FROM objects "
            f"WHERE object_type=? AND archived=0 "
            f"AND lower(json_extract(properties, '$.\"{name}\"')) IN ({marks})",
            [object_type, *[v.lower() for v in values]],
        )
        return {value: object_id for value, object_id in rows}

    def page_objects(
        self, object_type: str, *, after: int, limit: int, archived: bool
    ) -> list[StoredObject]:
        rows = self.db.execute(
            "SELECT object_type, id, properties, created_at, updated_at, archived FROM objects "
            "WHERE object_type=? AND archived=? AND id>=? ORDER BY id LIMIT ?",
            (object_type, int(archived), after, limit),
        )
        return [_row(row) for row in rows]

    def query(self, sql_where: str, params: list[Any], order: str, limit: int, offset: int):
        rows = self.db.execute(
            "SELECT object_type, id, properties, created_at, updated_at, archived FROM objects "
            f"WHERE {sql_where} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [_row(row) for row in rows]

    def count(self, sql_where: str, params: list[Any]) -> int:
        return int(
            self.db.execute(f"SELECT count(*) FROM objects WHERE {sql_where}", params).fetchone()[0]
        )

    # -- properties ------------------------------------------------------------------------
    def properties(self, object_type: str) -> dict[str, PropertyDefinition]:
        definitions = builtin_properties(object_type)
        for (raw,) in self.db.execute(
            "SELECT definition FROM custom_properties WHERE object_type=? ORDER BY created_at",
            (object_type,),
        ):
            data = json.loads(raw)
            data["options"] = tuple(data.get("options", ()))
            definitions[data["name"]] = PropertyDefinition(**data)
        return definitions

    def add_property(self, object_type: str, definition: PropertyDefinition) -> None:
        data = definition.__dict__ | {"options": list(definition.options)}
        self.db.execute(
            "INSERT INTO custom_properties(object_type, name, definition, created_at) VALUES (?,?,?,?)",
            (object_type, definition.name, json.dumps(data), now_ms()),
        )

    # -- associations ----------------------------------------------------------------------
    def associate(self, rows: Iterable[tuple[str, int, str, int, int, str]]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO associations VALUES (?,?,?,?,?,?)", list(rows))

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        self.db.execute(
            "DELETE FROM associations WHERE (from_type=? AND from_id=? AND to_type=? AND to_id=?) "
            "OR (from_type=? AND from_id=? AND to_type=? AND to_id=?)",
            (from_type, from_id, to_type, to_id, to_type, to_id, from_type, from_id),
        )

    def associations_of(
        self, from_type: str, from_id: int, to_type: str
    ) -> dict[int, list[tuple[int, str]]]:
        grouped: dict[int, list[tuple[int, str]]] = {}
        for to_id, type_id, category in self.db.execute(
            "SELECT a.to_id, a.type_id, a.category FROM associations a "
            "JOIN objects o ON o.object_type=a.to_type AND o.id=a.to_id AND o.archived=0 "
            "WHERE a.from_type=? AND a.from_id=? AND a.to_type=? ORDER BY a.to_id, a.type_id",
            (from_type, from_id, to_type),
        ):
            grouped.setdefault(to_id, []).append((type_id, category))
        return grouped

    # -- pipelines -------------------------------------------------------------------------
    def pipelines(self, object_type: str) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT body FROM pipelines WHERE object_type=?", (object_type,)
        ).fetchall()
        found = [json.loads(body) for (body,) in rows]
        return sorted(found, key=lambda p: (p["displayOrder"], p["id"]))

    def save_pipeline(self, object_type: str, pipeline: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO pipelines(object_type, id, body) VALUES (?,?,?) "
            "ON CONFLICT(object_type, id) DO UPDATE SET body=excluded.body",
            (object_type, pipeline["id"], json.dumps(pipeline)),
        )

    # -- webhook outbox --------------------------------------------------------------------
    def enqueue_events(self, events: Sequence[dict[str, Any]]) -> None:
        self.db.executemany(
            "INSERT INTO webhook_outbox(event) VALUES (?)", [(json.dumps(e),) for e in events]
        )

    def due_events(self, limit: int) -> list[tuple[int, dict[str, Any], int]]:
        rows = self.db.execute(
            "SELECT id, event, attempts FROM webhook_outbox WHERE next_attempt_at<=? "
            "ORDER BY id LIMIT ?",
            (time.time(), limit),
        )
        return [(row_id, json.loads(event), attempts) for row_id, event, attempts in rows]

    def pending_event_count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM webhook_outbox").fetchone()[0])

    def finish_events(self, ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM webhook_outbox WHERE id=?", [(i,) for i in ids])

    def postpone_events(self, ids: Sequence[int], delay: float, max_attempts: int) -> None:
        self.db.executemany(
            "UPDATE webhook_outbox SET attempts=attempts+1, next_attempt_at=? WHERE id=?",
            [(time.time() + delay, i) for i in ids],
        )
        self.db.execute("DELETE FROM webhook_outbox WHERE attempts>=?", (max_attempts,))

    def is_empty(self) -> bool:
        return self.db.execute("SELECT 1 FROM objects LIMIT 1").fetchone() is None


def _row(row: tuple[Any, ...]) -> StoredObject:
    return StoredObject(
        object_type=row[0],
        id=row[1],
        properties=json.loads(row[2]),
        created_at=row[3],
        updated_at=row[4],
        archived=bool(row[5]),
    )


def _lower_text(value: Any) -> str | None:
    return None if value is None else str(value).lower()
