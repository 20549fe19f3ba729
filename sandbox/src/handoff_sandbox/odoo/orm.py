"""A small ORM with Odoo 18's external behaviour, stored in SQLite.

One table per model, one column per stored field (many2many as a JSON list of ids on the owner,
one2many read back through the inverse many2one). Every RPC call runs in one transaction: an error
rolls the whole call back, as Odoo does; batches are written with `executemany` (no per-row commit).
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from .domain import DomainCompiler
from .errors import (
    AccessError,
    InvalidValue,
    OdooError,
    UnknownMethod,
    UserError,
    ValidationError,
    missing_record,
)
from .faults import FaultInjector
from .schema import FieldSpec, ModelSpec, load_models

if TYPE_CHECKING:
    from .behaviours import Behaviour

Vals = dict[str, Any]
ORDER_TERM = re.compile(
    r"^\s*([a-z_][a-z0-9_]*)(?::\w+)?(?:\s+(asc|desc))?(?:\s+nulls\s+(?:first|last))?\s*$",
    re.IGNORECASE,
)
PUBLIC_METHODS = {
    "create",
    "read",
    "write",
    "unlink",
    "search",
    "search_read",
    "search_count",
    "read_group",
    "name_search",
    "fields_get",
    "default_get",
    "web_read",
    "name_create",
    "load",
    "copy",
    "exists",
    "check_access_rights",
    "has_access",
    "context_get",
    "web_search_read",
    "copy_data",
}


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def empty_value(field: FieldSpec) -> Any:
    if field.type in ("one2many", "many2many"):
        return []
    if field.type in ("float", "monetary"):
        return 0.0
    if field.type == "integer":
        return 0
    return False


class Database:
    """The sandbox database: schema, SQLite connection and the lock that serialises calls."""

    def __init__(self, path: str | None = None, name: str = "psa") -> None:
        self.name = name
        self.models = load_models()
        self.conn = sqlite3.connect(
            path or ":memory:", check_same_thread=False, isolation_level=None
        )
        self.conn.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.lock = threading.RLock()
        # Fault injection shared with the HTTP layer (`load_conflicts`); set by the runner.
        self.faults: FaultInjector | None = None
        self.compiler = DomainCompiler(self.models)
        from . import companies  # noqa: F401  (registers the companies' behaviours)
        from .behaviours import behaviour_for

        self.behaviour_for = behaviour_for
        fresh = not self._has_tables()
        if fresh:
            self._create_tables()
            from .seed import seed

            with self.transaction():
                seed(Env(self, uid=1, context={}))

    def _has_tables(self) -> bool:
        row = self.conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='res_partner'"
        ).fetchone()
        return bool(row[0])

    def _create_tables(self) -> None:
        for spec in self.models.values():
            columns = ", ".join(f'"{f.name}" {_sql_type(f)}' for f in spec.column_fields())
            columns = f", {columns}" if columns else ""
            self.conn.execute(
                f"CREATE TABLE IF NOT EXISTS {spec.table} "
                f"(id INTEGER PRIMARY KEY AUTOINCREMENT{columns})"
            )
            for f in spec.column_fields():
                if f.type == "many2one":
                    self.conn.execute(
                        f'CREATE INDEX IF NOT EXISTS "ix_{spec.table}_{f.name}" '
                        f'ON {spec.table}("{f.name}")'
                    )
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS sandbox_sequence (code TEXT PRIMARY KEY, next INTEGER)"
        )

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def model(self, name: str) -> ModelSpec:
        spec = self.models.get(name)
        if spec is None:
            raise UserError(f"Object {name} doesn't exist")
        return spec

    def access_check(self, env: Env, spec: ModelSpec, method: str) -> None:
        from .access import check_model_access

        check_model_access(env, spec, method)

    def record_rule(self, env: Env, spec: ModelSpec) -> list[Any]:
        from .access import record_rule

        return record_rule(env, spec)

    def next_sequence(self, code: str) -> int:
        row = self.conn.execute(
            "SELECT next FROM sandbox_sequence WHERE code=?", (code,)
        ).fetchone()
        value = row[0] if row else 1
        self.conn.execute(
            "INSERT INTO sandbox_sequence(code, next) VALUES(?, ?) "
            "ON CONFLICT(code) DO UPDATE SET next=excluded.next",
            (code, value + 1),
        )
        return value


class _Transaction:
    def __init__(self, db: Database) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.lock.acquire()
        self.db.conn.execute("BEGIN")

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        try:
            self.db.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.db.lock.release()


def _sql_type(field: FieldSpec) -> str:
    from .schema import SCALAR_SQL_TYPES

    return SCALAR_SQL_TYPES.get(field.type, "TEXT")


class Env:
    """One caller (uid) with one context, as Odoo's `env`: the entry point of every model call."""

    def __init__(self, db: Database, uid: int, context: dict[str, Any] | None = None) -> None:
        self.db = db
        self.uid = uid
        self.context = context or {}

    def with_context(self, **extra: Any) -> Env:
        return Env(self.db, self.uid, {**self.context, **extra})

    def __getitem__(self, model: str) -> Model:
        return Model(self, self.db.model(model))

    @property
    def conn(self) -> sqlite3.Connection:
        return self.db.conn

    def call(self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """Dispatch one `execute_kw` the way Odoo's `call_kw` does."""
        records = self[model]
        if method.startswith("_"):
            raise AccessError(
                f"Private methods (such as '{model}.{method}') cannot be called remotely."
            )
        kwargs = dict(kwargs)
        context = kwargs.pop("context", None)
        env = self.with_context(**context) if isinstance(context, dict) else self
        records = env[model]
        behaviour = records.behaviour
        handler = behaviour.method(method)
        if handler is None and method not in PUBLIC_METHODS:
            raise UnknownMethod(f"The method '{model}.{method}' does not exist")
        env.db.access_check(env, records.spec, method)
        if handler is not None:
            ids, rest = _split_ids(args, kwargs, behaviour.model_level(method))
            return handler(records, ids, *rest, **kwargs)
        return getattr(records, f"rpc_{method}")(*args, **kwargs)


def _split_ids(
    args: list[Any], kwargs: dict[str, Any], model_level: bool
) -> tuple[list[int], list[Any]]:
    if model_level:
        return [], list(args)
    if "ids" in kwargs:
        raw = kwargs.pop("ids")
        return _as_ids(raw), list(args)
    if not args:
        return [], []
    return _as_ids(args[0]), list(args[1:])


def _as_ids(raw: Any) -> list[int]:
    if raw is None or raw is False:
        return []
    if isinstance(raw, int):
        return [raw]
    return [int(i) for i in raw]


class Model:
    """Operations on one model for one Env (a recordset without the records)."""

    def __init__(self, env: Env, spec: ModelSpec) -> None:
        self.env = env
        self.spec = spec
        self.behaviour: Behaviour = env.db.behaviour_for(spec.name)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def conn(self) -> sqlite3.Connection:
        return self.env.db.conn

    def field(self, name: str) -> FieldSpec:
        field = self.spec.fields.get(name)
        if field is None:
            raise InvalidValue(f"Invalid field '{name}' on model '{self.name}'")
        return field

    # ----------------------------------------------------------------- search
    def search_ids(
        self,
        domain: list[Any] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        active_test: bool | None = None,
    ) -> list[int]:
        where, params = self._where(domain or [], active_test)
        sql = (
            f"SELECT r.id FROM {self.spec.table} r WHERE {where} ORDER BY {self._order_sql(order)}"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        if offset:
            sql += ("" if limit else " LIMIT -1") + f" OFFSET {int(offset)}"
        return [row[0] for row in self.conn.execute(sql, params)]

    def _where(self, domain: list[Any], active_test: bool | None) -> tuple[str, list[Any]]:
        where, params = self.env.db.compiler.compile(self.spec, domain, "r")
        if active_test is None:
            active_test = self.env.context.get("active_test", True)
        if (
            active_test
            and "active" in self.spec.fields
            and self.spec.fields["active"].has_column
            and not _mentions(domain, "active")
        ):
            where = f"({where}) AND (r.active = 1)"
        rule = self.env.db.record_rule(self.env, self.spec)
        if rule:
            rule_sql, rule_params = self.env.db.compiler.compile(self.spec, rule, "r")
            where = f"({where}) AND ({rule_sql})"
            params = [*params, *rule_params]
        return where, params

    def _order_sql(self, order: str | None) -> str:
        terms = []
        for term in (order or self.spec.order).split(","):
            if not term.strip():
                continue
            match = ORDER_TERM.match(term)
            if not match:
                raise InvalidValue(f'Invalid "order" specified ({order}).')
            name, direction = match.group(1), (match.group(2) or "asc").upper()
            field = self.field(name)
            if not field.has_column and name != "id":
                if name == "display_name" and self.spec.rec_name in self.spec.fields:
                    name = self.spec.rec_name
                else:
                    continue
            terms.append(f'r."{name}" {direction}')
        if not any(t.startswith('r."id"') for t in terms):
            terms.append(
                'r."id" ASC'
                if not terms
                else 'r."id" DESC'
                if "complete_name" in (order or self.spec.order)
                else 'r."id" ASC'
            )
        return ", ".join(terms)

    def existing(self, ids: Iterable[int]) -> list[int]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []
        found: set[int] = set()
        for chunk in _chunks(wanted, 900):
            marks = ",".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self.conn.execute(
                    f"SELECT id FROM {self.spec.table} WHERE id IN ({marks})", chunk
                )
            )
        return [i for i in wanted if i in found]

    def ensure_exist(self, ids: list[int]) -> None:
        existing = set(self.existing(ids))
        missing = [i for i in ids if i not in existing]
        if missing:
            raise missing_record(self.name, missing, self.env.uid)

    # ------------------------------------------------------------------- read
    def read_rows(self, ids: list[int], names: list[str]) -> list[Vals]:
        """Values as Odoo's `read` returns them, for existing ids only, in the asked order."""
        ids = self.existing(ids)
        if not ids:
            return []
        fields = [self.field(n) for n in names if n != "id"]
        raw = self.raw_rows(ids, [f.name for f in fields if f.has_column])
        computed_names = [f.name for f in fields if not f.has_column]
        computed = self.behaviour.compute(self, ids, computed_names) if computed_names else {}
        out: list[Vals] = []
        for record_id in ids:
            row = raw[record_id]
            values: Vals = {"id": record_id}
            for field in fields:
                if field.has_column:
                    values[field.name] = _from_column(field, row.get(field.name))
                else:
                    values[field.name] = computed.get(field.name, {}).get(
                        record_id, empty_value(field)
                    )
            out.append(values)
        self._format_relations(fields, out)
        return out

    def raw_rows(self, ids: list[int], columns: list[str]) -> dict[int, Vals]:
        cols = ", ".join(f'"{c}"' for c in ["id", *columns])
        rows: dict[int, Vals] = {}
        for chunk in _chunks(ids, 900):
            marks = ",".join("?" * len(chunk))
            cursor = self.conn.execute(
                f"SELECT {cols} FROM {self.spec.table} WHERE id IN ({marks})", chunk
            )
            names = [d[0] for d in cursor.description]
            for row in cursor:
                rows[row[0]] = dict(zip(names, row, strict=True))
        return rows

    def values(self, ids: list[int], columns: list[str]) -> list[Vals]:
        """Internal raw values (many2one as int|None, x2many as id lists) for behaviours."""
        out = self.read_rows(ids, columns)
        for row in out:
            for name in columns:
                value = row.get(name)
                if isinstance(value, list) and self.spec.fields[name].type == "many2one":
                    row[name] = value[0]
        return out

    def one(self, record_id: int, columns: list[str]) -> Vals:
        rows = self.values([record_id], columns)
        if not rows:
            raise missing_record(self.name, [record_id], self.env.uid)
        return rows[0]

    def _format_relations(self, fields: list[FieldSpec], rows: list[Vals]) -> None:
        for field in fields:
            if field.type == "many2one":
                ids = {r[field.name] for r in rows if r[field.name]}
                names = self.env[field.relation or ""].display_names(list(ids)) if ids else {}
                for row in rows:
                    value = row[field.name]
                    if value:
                        row[field.name] = [value, names.get(value, "")] if value in names else False
            elif (
                field.type == "one2many"
                and field.inverse_name
                and any(field.name in r and r[field.name] == [] for r in rows)
            ):
                target = self.env[field.relation or ""]
                children = target.children_of(field.inverse_name, [r["id"] for r in rows])
                for row in rows:
                    row[field.name] = children.get(row["id"], [])

    def children_of(self, inverse: str, parent_ids: list[int]) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        target_field = self.spec.fields.get(inverse)
        if target_field is None:
            return out
        active = "active" in self.spec.fields and self.spec.fields["active"].has_column
        extra = " AND active = 1" if active else ""
        for chunk in _chunks(parent_ids, 900):
            marks = ",".join("?" * len(chunk))
            if target_field.type == "many2many":
                sql = (
                    f'SELECT j.value, t.id FROM {self.spec.table} t, json_each(t."{inverse}") j '
                    f"WHERE j.value IN ({marks}){extra} ORDER BY t.id"
                )
            else:
                sql = (
                    f'SELECT "{inverse}", id FROM {self.spec.table} '
                    f'WHERE "{inverse}" IN ({marks}){extra} ORDER BY {self._order_sql(None).replace("r.", "")}'
                )
            for parent, child in self.conn.execute(sql, chunk):
                out.setdefault(parent, []).append(child)
        return out

    def display_names(self, ids: list[int]) -> dict[int, str]:
        return self.behaviour.display_names(self, self.existing(ids))

    # ------------------------------------------------------------ validation
    def convert_for_write(self, vals: Vals, *, creating: bool) -> tuple[Vals, dict[str, Any]]:
        """Split vals into column values and x2many commands; check names, types, selections."""
        columns: Vals = {}
        x2many: dict[str, Any] = {}
        for name, value in vals.items():
            field = self.field(name)
            if name == "id":
                continue
            if field.is_x2many:
                x2many[name] = value
                continue
            if not field.has_column:
                if field.type == "selection" and value not in (False, None):
                    self._to_column(field, value)  # Odoo's convert_to_cache validates it
                self.behaviour.write_nonstored(self, field, value, columns)
                continue
            columns[name] = self._to_column(field, value)
        return columns, x2many

    def _to_column(self, field: FieldSpec, value: Any) -> Any:
        if value is False or value is None:
            return 0 if field.type == "boolean" else None
        kind = field.type
        try:
            if kind == "boolean":
                return int(bool(value))
            if kind == "integer" or kind == "many2one_reference":
                return int(value)
            if kind in ("float", "monetary"):
                return float(value)
            if kind == "many2one":
                if isinstance(value, list | tuple):
                    value = value[0]
                return int(value)
        except (TypeError, ValueError) as exc:
            raise InvalidValue(f"Wrong value for {self.name}.{field.name}: {value!r}") from exc
        if kind == "selection":
            allowed = {str(option[0]) for option in (field.selection or [])}
            if allowed and str(value) not in allowed:
                raise InvalidValue(f"Wrong value for {self.name}.{field.name}: {value!r}")
            return str(value)
        if kind == "date":
            return _as_date(self, field, value)
        if kind == "datetime":
            return _as_datetime(self, field, value)
        if kind in ("json", "properties", "properties_definition"):
            return json.dumps(value)
        return str(value) if not isinstance(value, str) else value

    def check_relations(self, rows: list[Vals]) -> None:
        """Nonexistent many2one ids: the FK violation Odoo reports as a ValidationError."""
        for name in {k for row in rows for k in row}:
            field = self.spec.fields[name]
            if field.type != "many2one":
                continue
            wanted = {row[name] for row in rows if row.get(name)}
            if not wanted:
                continue
            target = self.env[field.relation or ""]
            found = set(target.existing(wanted))
            if wanted - found:
                raise ValidationError(
                    "The operation cannot be completed: another model requires the record being "
                    f"deleted. If possible, archive it instead.\n\nModel: {self.spec.description} "
                    f"({self.name})\nConstraint: {self.spec.table}_{name}_fkey\n"
                )

    def check_required(self, rows: list[Vals]) -> None:
        for field in self.spec.column_fields():
            if not field.required or field.type in ("boolean", "float", "monetary", "integer"):
                continue
            if any(row.get(field.name) in (None, "") for row in rows):
                raise ValidationError(
                    "The operation cannot be completed:\n- Create/update: a mandatory field is not "
                    "set.\n- Delete: another model requires the record being deleted. If possible, "
                    f"archive it instead.\n\nModel: {self.spec.description} ({self.name})\n"
                    f"Field: {field.string} ({field.name})\n"
                )
        self.behaviour.check_constraints(self, rows)

    # ----------------------------------------------------------------- create
    def create(self, vals_list: list[Vals]) -> list[int]:
        if not vals_list:
            return []
        for vals in vals_list:
            if not isinstance(vals, dict):
                raise InvalidValue(f"Invalid values for {self.name}.create: {vals!r}")
        vals_list = self.behaviour.before_create(self, [dict(v) for v in vals_list])
        split = [self.convert_for_write(v, creating=True) for v in vals_list]
        now, uid = utc_now(), self.env.uid
        rows: list[Vals] = []
        defaults = self.behaviour.defaults(self)
        for (columns, _), vals in zip(split, vals_list, strict=True):
            row = {k: v for k, v in defaults.items() if k not in vals and k in self.spec.fields}
            row = {
                k: self._to_column(self.spec.fields[k], v)
                for k, v in row.items()
                if self.spec.fields[k].has_column
            }
            row.update(columns)
            for audit, value in (
                ("create_date", now),
                ("write_date", now),
                ("create_uid", uid),
                ("write_uid", uid),
            ):
                if audit in self.spec.fields:
                    row[audit] = value
            rows.append(row)
        self.behaviour.complete_rows(self, rows)
        stored = {f.name for f in self.spec.column_fields()}
        rows = [{k: v for k, v in row.items() if k in stored} for row in rows]
        self.check_relations(rows)
        self.check_required(rows)
        ids = self._insert(rows)
        for record_id, (_, x2many) in zip(ids, split, strict=True):
            if x2many:
                self.apply_x2many(record_id, x2many)
        self.behaviour.after_create(self, ids, vals_list)
        return ids

    def _insert(self, rows: list[Vals]) -> list[int]:
        ids: list[int] = []
        # Rows with the same keys go in one executemany: one statement per shape, not per row.
        start = self.conn.execute(f"SELECT COALESCE(MAX(id), 0) FROM {self.spec.table}").fetchone()[
            0
        ]
        seq = self.conn.execute(
            "SELECT seq FROM sqlite_sequence WHERE name=?", (self.spec.table,)
        ).fetchone()
        next_id = max(start, seq[0] if seq else 0) + 1
        columns = sorted({k for row in rows for k in row})
        names = ", ".join(f'"{c}"' for c in ["id", *columns])
        marks = ",".join("?" * (len(columns) + 1))
        params = []
        for offset, row in enumerate(rows):
            ids.append(next_id + offset)
            params.append([next_id + offset, *(row.get(c) for c in columns)])
        self.conn.executemany(f"INSERT INTO {self.spec.table} ({names}) VALUES ({marks})", params)
        return ids

    def apply_x2many(self, record_id: int, commands_by_field: dict[str, Any]) -> None:
        for name, commands in commands_by_field.items():
            field = self.spec.fields[name]
            target = self.env[field.relation or ""]
            if field.type == "many2many" and field.has_column:
                current = self._m2m_ids(record_id, name)
                new_ids = _apply_m2m_commands(target, current, commands)
                target.ensure_exist([i for i in new_ids if i not in current])
                self.conn.execute(
                    f'UPDATE {self.spec.table} SET "{name}"=? WHERE id=?',
                    (json.dumps(new_ids), record_id),
                )
            elif field.type == "one2many" and field.inverse_name:
                _apply_o2m_commands(target, field.inverse_name, record_id, commands)
            else:
                self.behaviour.write_nonstored(self, field, commands, {}, record_id=record_id)

    def _m2m_ids(self, record_id: int, name: str) -> list[int]:
        row = self.conn.execute(
            f'SELECT "{name}" FROM {self.spec.table} WHERE id=?', (record_id,)
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else []

    # ------------------------------------------------------------------ write
    def write(self, ids: list[int], vals: Vals) -> bool:
        if not isinstance(vals, dict):
            raise InvalidValue(f"Invalid values for {self.name}.write: {vals!r}")
        for name in vals:
            self.field(name)
        self.ensure_exist(ids)
        self.behaviour.before_write(self, ids, vals)
        columns, x2many = self.convert_for_write(vals, creating=False)
        columns = {k: v for k, v in columns.items() if not k.startswith("__")}
        if "write_date" in self.spec.fields:
            columns["write_date"] = utc_now()
            columns["write_uid"] = self.env.uid
        self.check_relations([columns])
        required_cleared = {k: v for k, v in columns.items() if v is None}
        if required_cleared:
            self.check_required([{**{f.name: 1 for f in self.spec.column_fields()}, **columns}])
        if columns:
            assignments = ", ".join(f'"{c}"=?' for c in columns)
            params = [*columns.values()]
            for chunk in _chunks(ids, 900):
                self.conn.execute(
                    f"UPDATE {self.spec.table} SET {assignments} "
                    f"WHERE id IN ({','.join('?' * len(chunk))})",
                    [*params, *chunk],
                )
        for record_id in ids:
            if x2many:
                self.apply_x2many(record_id, x2many)
        self.behaviour.after_write(self, ids, vals)
        return True

    def write_columns(self, ids: list[int], columns: Vals) -> None:
        """Internal write of already-converted column values (computed fields, states)."""
        if not ids or not columns:
            return
        assignments = ", ".join(f'"{c}"=?' for c in columns)
        for chunk in _chunks(ids, 900):
            self.conn.execute(
                f"UPDATE {self.spec.table} SET {assignments} "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                [*columns.values(), *chunk],
            )

    # ----------------------------------------------------------------- unlink
    def unlink(self, ids: list[int]) -> bool:
        self.ensure_exist(ids)
        self.behaviour.before_unlink(self, ids)
        self._cascade(ids)
        for chunk in _chunks(ids, 900):
            self.conn.execute(
                f"DELETE FROM {self.spec.table} WHERE id IN ({','.join('?' * len(chunk))})", chunk
            )
            if self.name != "ir.model.data":  # Odoo's unlink deletes the records' external ids
                self.conn.execute(
                    f"DELETE FROM ir_model_data WHERE model=? AND res_id IN "
                    f"({','.join('?' * len(chunk))})",
                    [self.name, *chunk],
                )
        self.behaviour.after_unlink(self, ids)
        return True

    def _cascade(self, ids: list[int]) -> None:
        for name, field in self.spec.fields.items():
            if field.type == "one2many" and field.inverse_name and name in self.behaviour.cascade:
                child = self.env[field.relation or ""]
                child_ids = [
                    c for cs in child.children_of(field.inverse_name, ids).values() for c in cs
                ]
                if child_ids:
                    child.unlink(child_ids)

    # -------------------------------------------------------------- RPC verbs
    def rpc_create(self, vals_list: Any = None, **kwargs: Any) -> Any:
        if vals_list is None:
            vals_list = kwargs.pop("vals_list", kwargs.pop("vals", None))
        if isinstance(vals_list, dict):
            return self.create([vals_list])[0]
        if not isinstance(vals_list, list):
            raise InvalidValue(f"Invalid values for {self.name}.create: {vals_list!r}")
        return self.create(vals_list)

    def rpc_read(self, ids: Any = None, fields: list[str] | None = None, **kwargs: Any) -> Any:
        kwargs.pop("load", None)
        names = fields or kwargs.pop("fields", None) or self.default_read_fields()
        return self.read_rows(_as_ids(ids), list(names))

    def default_read_fields(self) -> list[str]:
        return [
            n
            for n, f in self.spec.fields.items()
            if f.type not in ("binary",) and (f.has_column or n == "display_name")
        ]

    def rpc_write(self, ids: Any, vals: Vals | None = None, **kwargs: Any) -> bool:
        return self.write(_as_ids(ids), vals if vals is not None else kwargs.get("vals", {}))

    def rpc_unlink(self, ids: Any = None, **_: Any) -> bool:
        return self.unlink(_as_ids(ids))

    def rpc_search(
        self,
        domain: list[Any] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        count: bool = False,
        **kwargs: Any,
    ) -> Any:
        domain = kwargs.pop("args", domain) if domain is None else domain
        ids = self.search_ids(domain or [], offset, limit, order)
        return len(ids) if count else ids

    def rpc_search_count(
        self, domain: list[Any] | None = None, limit: int | None = None, **kwargs: Any
    ) -> int:
        domain = kwargs.pop("args", domain) if domain is None else domain
        where, params = self._where(domain or [], None)
        row = self.conn.execute(
            f"SELECT count(*) FROM {self.spec.table} r WHERE {where}", params
        ).fetchone()
        return min(row[0], limit) if limit else row[0]

    def rpc_search_read(
        self,
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        **_: Any,
    ) -> list[Vals]:
        names = list(fields or self.default_read_fields())
        for name in names:
            self.field(name)
        ids = self.search_ids(domain or [], offset, limit, order)
        return self.read_rows(ids, names)

    def rpc_web_read(
        self, ids: Any, specification: dict[str, Any] | None = None, **_: Any
    ) -> list[Vals]:
        return self.read_rows(_as_ids(ids), list((specification or {}).keys()))

    def rpc_web_search_read(
        self,
        domain: list[Any] | None = None,
        specification: dict[str, Any] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
        count_limit: int | None = None,
        **_: Any,
    ) -> Vals:
        records = self.rpc_search_read(
            domain, list((specification or {}).keys()) or ["id"], offset, limit, order
        )
        return {"length": self.rpc_search_count(domain), "records": records}

    def rpc_exists(self, ids: Any, **_: Any) -> list[int]:
        return self.existing(_as_ids(ids))

    def rpc_name_search(
        self,
        name: str = "",
        args: list[Any] | None = None,
        operator: str = "ilike",
        limit: int = 100,
        **kwargs: Any,
    ) -> list[Any]:
        domain = list(args or kwargs.get("domain") or [])
        target = "complete_name" if "complete_name" in self.spec.fields else self.spec.rec_name
        if name:
            domain = [*domain, [target, operator, name]]
        ids = self.search_ids(domain, 0, limit, None)
        names = self.display_names(ids)
        return [[i, names.get(i, "")] for i in ids]

    def rpc_name_create(self, name: str, **_: Any) -> list[Any]:
        record_id = self.create([{self.spec.rec_name: name}])[0]
        return [record_id, self.display_names([record_id]).get(record_id, name)]

    def rpc_fields_get(
        self, allfields: list[str] | None = None, attributes: list[str] | None = None, **_: Any
    ) -> dict[str, Any]:
        names = allfields or list(self.spec.fields)
        return {
            n: self.spec.fields[n].public_attributes(attributes)
            for n in names
            if n in self.spec.fields
        }

    def rpc_default_get(self, fields_list: list[str], **_: Any) -> Vals:
        defaults = self.behaviour.defaults(self)
        out = {}
        for name, value in defaults.items():
            if name not in fields_list:
                continue
            if self.spec.fields[name].type == "many2many":  # as commands, as Odoo gives them
                ids = json.loads(value) if isinstance(value, str) else list(value or [])
                value = [[6, 0, ids]]
            out[name] = value
        return out

    def rpc_copy(self, ids: Any, default: Vals | None = None, **_: Any) -> list[int]:
        names = [
            f.name
            for f in self.spec.column_fields()
            if f.name not in ("create_date", "write_date", "create_uid", "write_uid")
            and not f.readonly
        ]
        rows = self.values(_as_ids(ids), names)
        new = [{**{k: v for k, v in row.items() if k != "id"}, **(default or {})} for row in rows]
        return self.create(new)

    def rpc_copy_data(self, ids: Any, default: Vals | None = None, **_: Any) -> list[Vals]:
        """The values `copy` would create from, in `create` format (many2many as [6, 0, ids])."""
        names = [
            f.name
            for f in self.spec.column_fields()
            if f.name not in ("create_date", "write_date", "create_uid", "write_uid")
            and not f.readonly
        ]
        out = []
        for row in self.values(_as_ids(ids), names):
            vals = {
                k: ([[6, 0, v]] if self.spec.fields[k].type == "many2many" else v)
                for k, v in row.items()
                if k != "id"
            }
            out.append({**vals, **(default or {})})
        return out

    def rpc_check_access_rights(
        self, operation: str = "read", raise_exception: bool = True, **_: Any
    ) -> bool:
        return True

    def rpc_has_access(self, operation: str = "read", **_: Any) -> bool:
        return True

    def rpc_context_get(self, **_: Any) -> Vals:
        return {"lang": "en_US", "tz": False, "uid": self.env.uid}

    def rpc_read_group(
        self,
        domain: list[Any] | None = None,
        fields: list[str] | None = None,
        groupby: list[str] | str | None = None,
        offset: int = 0,
        limit: int | None = None,
        orderby: str | None = None,
        lazy: bool = True,
        **_: Any,
    ) -> list[Vals]:
        from .grouping import read_group

        return read_group(
            self, domain or [], fields or [], groupby or [], offset, limit, orderby, lazy
        )

    def rpc_load(self, fields: list[str], data: list[list[Any]], **_: Any) -> Vals:
        from .loading import load

        return load(self, fields, data)


def _mentions(domain: list[Any], name: str) -> bool:
    return any(
        isinstance(leaf, list | tuple) and len(leaf) == 3 and leaf[0] == name for leaf in domain
    )


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _from_column(field: FieldSpec, value: Any) -> Any:
    if value is None:
        return empty_value(field)
    kind = field.type
    if kind == "boolean":
        return bool(value)
    if kind in ("float", "monetary"):
        return float(value)
    if kind == "many2many":
        return json.loads(value)
    if kind in ("json", "properties", "properties_definition"):
        return json.loads(value)
    return value


def _as_date(model: Model, field: FieldSpec, value: Any) -> str:
    text = str(value)
    try:
        return date.fromisoformat(text[:10]).isoformat()
    except ValueError as exc:
        raise InvalidValue(f"time data {text!r} does not match format '%Y-%m-%d'") from exc


def _as_datetime(model: Model, field: FieldSpec, value: Any) -> str:
    text = str(value).replace("T", " ")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidValue(f"time data {text!r} does not match format '%Y-%m-%d %H:%M:%S'") from exc
    return parsed.strftime("%Y-%m-%d %H:%M:%S")


def _apply_m2m_commands(target: Model, current: list[int], commands: Any) -> list[int]:
    ids = list(current)
    if commands is False or commands is None:
        return []
    for command in commands:
        if isinstance(command, int):
            # A plain list of ids replaces the set, as Odoo accepts.
            return list(dict.fromkeys(c for c in commands if isinstance(c, int)))
        code = command[0]
        if code == 6:
            ids = list(dict.fromkeys(command[2] or []))
        elif code == 5:
            ids = []
        elif code == 4:
            if command[1] not in ids:
                ids.append(command[1])
        elif code == 3:
            ids = [i for i in ids if i != command[1]]
        elif code == 2:
            ids = [i for i in ids if i != command[1]]
            target.unlink([command[1]])
        elif code == 0:
            ids.extend(target.create([command[2]]))
        elif code == 1:
            target.write([command[1]], command[2])
        else:
            raise InvalidValue(f"Invalid command {command!r}")
    return ids


def _apply_o2m_commands(target: Model, inverse: str, parent_id: int, commands: Any) -> None:
    if commands is False or commands is None:
        return
    to_create: list[Vals] = []
    for command in commands:
        if isinstance(command, int):
            target.write([command], {inverse: parent_id})
            continue
        code = command[0]
        if code == 0:
            to_create.append({**(command[2] or {}), inverse: parent_id})
        elif code == 1:
            target.write([command[1]], command[2])
        elif code == 2:
            target.unlink([command[1]])
        elif code == 3:
            target.write([command[1]], {inverse: False})
        elif code == 4:
            target.write([command[1]], {inverse: parent_id})
        elif code in (5, 6):
            current = target.children_of(inverse, [parent_id]).get(parent_id, [])
            keep = set(command[2] or []) if code == 6 else set()
            drop = [i for i in current if i not in keep]
            if drop:
                target.unlink(drop) if target.spec.fields[inverse].required else target.write(
                    drop, {inverse: False}
                )
            if code == 6 and keep:
                target.write(sorted(keep), {inverse: parent_id})
        else:
            raise InvalidValue(f"Invalid command {command!r}")
    if to_create:
        target.create(to_create)


def add_days(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


__all__ = ["Database", "Env", "Model", "OdooError", "add_days", "today", "utc_now"]
