"""`load`: Odoo's import entry point, used for idempotent upserts keyed by external ids."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import OdooError

if TYPE_CHECKING:
    from .orm import Model
    from .schema import FieldSpec


def _xmlid_parts(xmlid: str) -> tuple[str, str]:
    module, _, name = xmlid.partition(".")
    return (module, name) if name else ("__import__", module)


def _resolve(model: Model, xmlid: str) -> tuple[str, int] | None:
    module, name = _xmlid_parts(xmlid)
    row = model.conn.execute(
        "SELECT model, res_id FROM ir_model_data WHERE module=? AND name=?", (module, name)
    ).fetchone()
    if row is None:
        return None
    if not model.env[row[0]].existing([row[1]]):
        return None
    return row[0], row[1]


SERIALIZATION_FAILURE = "could not serialize access due to concurrent update\n"


class ImportValueError(ValueError):
    """A cell `load` cannot convert: reported in `messages` with the field, as Odoo does."""

    def __init__(self, field: FieldSpec, message: str, moreinfo: Any = None) -> None:
        super().__init__(message)
        self.field = field
        self.moreinfo = moreinfo


class PythonAttributeError(OdooError):
    """What Odoo's import answers for a JSON `true` in a boolean column (it calls `.lower()`)."""

    wire_name = "builtins.AttributeError"


def _possible_values(model: Model, field: FieldSpec) -> dict[str, Any]:
    return {
        "name": "Possible Values",
        "type": "ir.actions.act_window",
        "target": "new",
        "view_mode": "list,form",
        "views": [[False, "list"], [False, "form"]],
        "context": {"create": False},
        "help": "See all possible values",
        "res_model": "ir.model.data",
        "domain": [["model", "=", field.relation]],
    }


def _convert(model: Model, column: str, raw: Any) -> tuple[str, Any]:
    name, _, suffix = (column if "/" in column else column.replace(".id", "/.id")).partition("/")
    field = model.field(name)
    if field.type == "boolean" and isinstance(raw, bool):
        raise PythonAttributeError("'bool' object has no attribute 'lower'")
    if raw in ("", None, False):
        return name, False
    if suffix == ".id":
        return name, int(raw) if field.type == "many2one" else [
            [6, 0, [int(x) for x in str(raw).split(",")]]
        ]
    if suffix == "id":
        ids = []
        for xmlid in str(raw).split(","):
            found = _resolve(model, xmlid.strip())
            if found is None:
                raise ImportValueError(
                    field,
                    f"No matching record found for external id '{xmlid}' in field '{field.string}'",
                    _possible_values(model, field),
                )
            ids.append(found[1])
        return name, ids[0] if field.type == "many2one" else [[6, 0, ids]]
    if field.type == "boolean":
        text = str(raw).lower()
        if text in ("1", "true", "yes"):
            return name, True
        if text in ("0", "false", "no"):
            return name, False
        raise ImportValueError(
            field,
            f"Unknown value '{raw}' for boolean field '{field.string}'",
            "Use '1' for yes and '0' for no",
        )
    if field.type == "selection" and field.selection is not None:
        for key, label in field.selection:
            if raw in (key, label):
                return name, key
        raise ImportValueError(
            field,
            f"Value '{raw}' not found in selection field '{field.string}'",
            [label for _, label in field.selection],
        )
    if field.type in ("integer",):
        return name, int(raw)
    if field.type in ("float", "monetary"):
        return name, float(raw)
    if field.type == "many2one":
        matches = model.env[field.relation or ""].rpc_name_search(str(raw), operator="=", limit=2)
        if not matches:
            raise ImportValueError(
                field,
                f"No matching record found for name '{raw}' in field '{field.string}'",
                _possible_values(model, field),
            )
        return name, matches[0][0]
    return name, raw


def load(model: Model, fields: list[str], data: list[list[Any]]) -> dict[str, Any]:
    """Create or update one record per row; a row's "id" column is its external id."""
    ids: list[int] = []
    messages: list[dict[str, Any]] = []
    faults = model.env.db.faults
    if faults is not None and data and faults.take_load_conflict():
        # Odoo catches psycopg2's SerializationFailure per row and reports it in `messages`.
        return {
            "ids": False,
            "messages": [
                {
                    "rows": {"from": 0, "to": 0},
                    "record": 0,
                    "type": "error",
                    "message": SERIALIZATION_FAILURE,
                }
            ],
            "nextrow": 0,
        }
    conn = model.conn
    conn.execute("SAVEPOINT sandbox_load")
    for index, row in enumerate(data):
        try:
            values: dict[str, Any] = {}
            xmlid = None
            for column, raw in zip(fields, row, strict=False):
                if column == "id":
                    xmlid = raw or None
                    continue
                if column == ".id":
                    values["__db_id"] = int(raw)
                    continue
                name, value = _convert(model, column, raw)
                values[name] = value
            db_id = values.pop("__db_id", None)
            existing = _resolve(model, xmlid) if xmlid else None
            if existing or db_id:
                record_id = existing[1] if existing else db_id
                model.write([record_id], values)
            else:
                record_id = model.create([values])[0]
                if xmlid:
                    module, name = _xmlid_parts(xmlid)
                    conn.execute(
                        "DELETE FROM ir_model_data WHERE module=? AND name=?", (module, name)
                    )
                    made = model.env["ir.model.data"].create(
                        [{"module": module, "name": name, "model": model.name, "res_id": record_id}]
                    )
                    # `_update_xmlids` inserts the rows in SQL: no create/write uid or date
                    model.env["ir.model.data"].write_columns(
                        made, {"create_uid": None, "write_uid": None}
                    )
            ids.append(record_id)
        except ImportValueError as exc:
            messages.append(
                {
                    "type": "error",
                    "message": str(exc),
                    "record": index,
                    "rows": {"from": index, "to": index},
                    "field": exc.field.name,
                    "field_name": exc.field.string,
                    "moreinfo": exc.moreinfo,
                }
            )
        except PythonAttributeError:
            conn.execute("ROLLBACK TO SAVEPOINT sandbox_load")
            conn.execute("RELEASE SAVEPOINT sandbox_load")
            raise
        except (OdooError, ValueError) as exc:
            messages.append(
                {
                    "type": "error",
                    "message": str(exc),
                    "record": index,
                    "rows": {"from": index, "to": index},
                }
            )
    if messages:
        conn.execute("ROLLBACK TO SAVEPOINT sandbox_load")
        conn.execute("RELEASE SAVEPOINT sandbox_load")
        return {"ids": False, "messages": messages, "nextrow": 0}
    conn.execute("RELEASE SAVEPOINT sandbox_load")
    return {"ids": ids, "messages": [], "nextrow": 0}
