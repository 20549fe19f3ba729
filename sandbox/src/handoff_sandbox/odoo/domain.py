"""Odoo domains (Polish-notation lists of leaves) translated into SQLite WHERE clauses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import InvalidValue

if TYPE_CHECKING:
    from .schema import FieldSpec, ModelSpec

LOGIC_OPERATORS = ("&", "|", "!")
LEAF_OPERATORS = {
    "=",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "not in",
    "like",
    "ilike",
    "not like",
    "not ilike",
    "=like",
    "=ilike",
    "child_of",
    "parent_of",
    "any",
    "not any",
}
TRUE_SQL = "1=1"
FALSE_SQL = "1=0"

SQL = tuple[str, list[Any]]


def _leaf_repr(leaf: Any) -> str:
    return repr(tuple(leaf))


class DomainCompiler:
    """Compiles one domain for one model; `models` resolves relation targets."""

    def __init__(self, models: dict[str, ModelSpec]) -> None:
        self.models = models

    def compile(self, model: ModelSpec, domain: list[Any], alias: str) -> SQL:
        if not domain:
            return TRUE_SQL, []
        items = list(domain)
        if not isinstance(items, list):
            raise InvalidValue(f"Invalid domain: {domain!r}")
        parts: list[SQL] = []
        position = 0
        while position < len(items):
            sql, position = self._parse(model, items, position, alias)
            parts.append(sql)
        return _join("AND", parts)

    def _parse(self, model: ModelSpec, items: list[Any], pos: int, alias: str) -> tuple[SQL, int]:
        item = items[pos]
        if item == "!":
            inner, nxt = self._parse(model, items, pos + 1, alias)
            return (f"NOT ({inner[0]})", inner[1]), nxt
        if item in ("&", "|"):
            left, nxt = self._parse(model, items, pos + 1, alias)
            right, nxt = self._parse(model, items, nxt, alias)
            return _join("AND" if item == "&" else "OR", [left, right]), nxt
        if isinstance(item, list | tuple) and len(item) == 3:
            return self.leaf(model, list(item), alias), pos + 1
        if item is True or item == [1, "=", 1]:
            return (TRUE_SQL, []), pos + 1
        raise InvalidValue(f"Invalid leaf {item!r}")

    def leaf(self, model: ModelSpec, leaf: list[Any], alias: str) -> SQL:
        path, operator, value = leaf
        if not isinstance(path, str) or operator not in LEAF_OPERATORS:
            raise InvalidValue(f"Invalid leaf {_leaf_repr(leaf)}")
        head, _, rest = path.partition(".")
        field = model.fields.get(head)
        if field is None:
            raise InvalidValue(f"Invalid field {model.name}.{head} in leaf {_leaf_repr(leaf)}")
        if rest or operator in ("any", "not any"):
            return self._through_relation(model, field, rest, operator, value, leaf, alias)
        if field.type == "one2many" or (field.type == "many2many"):
            return self._x2many(model, field, operator, value, alias)
        if not field.has_column and field.name != "id":
            raise InvalidValue(f"Non-stored field {model.name}.{field.name} cannot be searched.")
        column = f'{alias}."{field.name}"'
        if (
            field.type == "many2one"
            and isinstance(value, str)
            and operator
            in (
                "=",
                "!=",
                "like",
                "ilike",
                "not like",
                "not ilike",
                "=like",
                "=ilike",
            )
        ):
            return self._many2one_by_name(field, column, operator, value)
        return _compare(column, field, operator, value)

    def _many2one_by_name(self, field: FieldSpec, column: str, operator: str, value: str) -> SQL:
        target = self.models[field.relation or ""]
        negative = operator in ("!=", "not like", "not ilike")
        positive_op = {"!=": "=", "not like": "like", "not ilike": "ilike"}.get(operator, operator)
        sub, params = _compare(
            f't."{target.rec_name}"', target.fields[target.rec_name], positive_op, value
        )
        sql = f"{column} IN (SELECT t.id FROM {target.table} t WHERE {sub})"
        return (f"({column} IS NULL OR NOT {sql})" if negative else sql), params

    def _through_relation(
        self,
        model: ModelSpec,
        field: FieldSpec,
        rest: str,
        operator: str,
        value: Any,
        leaf: list[Any],
        alias: str,
    ) -> SQL:
        if not field.relation:
            raise InvalidValue(
                f"Invalid field {model.name}.{field.name} in leaf {_leaf_repr(leaf)}"
            )
        target = self.models[field.relation]
        sub_alias = f"{alias}_{field.name}"
        if operator in ("any", "not any"):
            sub, params = self.compile(target, value if isinstance(value, list) else [], sub_alias)
        else:
            sub, params = self.leaf(target, [rest, operator, value], sub_alias)
        ids_sql = f"SELECT {sub_alias}.id FROM {target.table} {sub_alias} WHERE {sub}"
        negate = operator == "not any"
        if field.type == "many2one":
            sql = f'{alias}."{field.name}" IN ({ids_sql})'
        elif field.type == "many2many":
            sql = (
                f'EXISTS (SELECT 1 FROM json_each({alias}."{field.name}") j '
                f"WHERE j.value IN ({ids_sql}))"
            )
        else:
            inverse = field.inverse_name
            sql = (
                f'{alias}.id IN (SELECT {sub_alias}."{inverse}" FROM {target.table} {sub_alias} '
                f"WHERE {sub})"
            )
        return (f"NOT ({sql})" if negate else sql), params

    def _x2many(
        self, model: ModelSpec, field: FieldSpec, operator: str, value: Any, alias: str
    ) -> SQL:
        target = self.models[field.relation or ""]
        if value is False or value is None or value == []:
            empty = operator in ("=", "in")
            members = self._members_sql(model, field, target, alias)
            return (f"NOT EXISTS ({members})" if empty else f"EXISTS ({members})"), []
        ids = value if isinstance(value, list | tuple) else [value]
        if ids and isinstance(ids[0], str):
            rec = target.rec_name
            sub = f'SELECT t.id FROM {target.table} t WHERE t."{rec}" LIKE ?'
            id_filter, params = f"IN ({sub})", [f"%{ids[0]}%"]
        else:
            id_filter, params = f"IN ({','.join('?' * len(ids))})", list(ids)
        if field.type == "many2many" or field.has_column:
            sql = f'EXISTS (SELECT 1 FROM json_each({alias}."{field.name}") j WHERE j.value {id_filter})'
        else:
            sql = (
                f'{alias}.id IN (SELECT t."{field.inverse_name}" FROM {target.table} t '
                f"WHERE t.id {id_filter})"
            )
        negative = operator in ("!=", "<>", "not in")
        return (f"NOT ({sql})" if negative else sql), params

    def _members_sql(
        self, model: ModelSpec, field: FieldSpec, target: ModelSpec, alias: str
    ) -> str:
        if field.type == "many2many":
            return f"SELECT 1 FROM json_each(COALESCE({alias}.\"{field.name}\", '[]'))"
        return f'SELECT 1 FROM {target.table} t WHERE t."{field.inverse_name}" = {alias}.id'


def _join(joiner: str, parts: list[SQL]) -> SQL:
    if len(parts) == 1:
        return parts[0]
    sql = f" {joiner} ".join(f"({p[0]})" for p in parts)
    params = [v for p in parts for v in p[1]]
    return sql, params


def _normalise_scalar(field: FieldSpec, value: Any) -> Any:
    if isinstance(value, bool) and field.type == "boolean":
        return int(value)
    if isinstance(value, list | tuple) and len(value) == 2 and field.type == "many2one":
        return value[0]
    return value


def _compare(column: str, field: FieldSpec, operator: str, value: Any) -> SQL:
    if operator == "<>":
        operator = "!="
    if operator in ("child_of", "parent_of"):
        operator = "in" if isinstance(value, list | tuple) else "="
    if operator in ("in", "not in"):
        values = [
            _normalise_scalar(field, v)
            for v in (value if isinstance(value, list | tuple) else [value])
        ]
        has_false = any(v is False or v is None for v in values)
        concrete = [v for v in values if v is not False and v is not None]
        clauses = []
        if concrete:
            clauses.append(f"{column} IN ({','.join('?' * len(concrete))})")
        if has_false:
            clauses.append(f"{column} IS NULL")
        positive = " OR ".join(clauses) if clauses else FALSE_SQL
        if operator == "in":
            return f"({positive})", concrete
        return f"NOT ({positive})" if clauses else TRUE_SQL, concrete
    if value is False or value is None:
        if field.type == "boolean":
            null_or_false = f"({column} IS NULL OR {column} = 0)"
            if operator == "=":
                return null_or_false, []
            if operator == "!=":
                return f"NOT {null_or_false}", []
        if operator == "=":
            if field.type in ("char", "text", "html", "selection"):
                return f"({column} IS NULL OR {column} = '')", []
            return f"{column} IS NULL", []
        if operator == "!=":
            return f"{column} IS NOT NULL", []
    value = _normalise_scalar(field, value)
    if field.type == "boolean" and operator in ("=", "!="):
        truthy = bool(value)
        if operator == "!=":
            truthy = not truthy
        return (f"{column} = 1", []) if truthy else (f"({column} IS NULL OR {column} = 0)", [])
    if operator in ("like", "ilike", "not like", "not ilike"):
        pattern = f"%{value}%"
        sql = f"{column} LIKE ?"
        if operator.startswith("not"):
            return f"({column} IS NULL OR NOT {sql})", [pattern]
        return sql, [pattern]
    if operator in ("=like", "=ilike"):
        return f"{column} LIKE ?", [value]
    if operator == "!=":
        return f"({column} IS NULL OR {column} != ?)", [value]
    return f"{column} {operator} ?", [value]
