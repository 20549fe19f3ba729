"""`read_group` with Odoo 18's result shape (lazy and not, many2one and date:granularity groups)."""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from .errors import InvalidValue

if TYPE_CHECKING:
    from .orm import Model

AGGREGATES = {
    "sum": "SUM",
    "count": "COUNT",
    "avg": "AVG",
    "max": "MAX",
    "min": "MIN",
    "count_distinct": "COUNT",
}
GRANULARITIES = ("day", "week", "month", "quarter", "year")


def _bounds(value: str, granularity: str) -> tuple[date, date, str]:
    day = date.fromisoformat(value[:10])
    if granularity == "day":
        return day, day + timedelta(days=1), f"{day.day:02d} {day:%b %Y}"
    if granularity == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7), f"W{day.isocalendar()[1]} {day.isocalendar()[0]}"
    if granularity == "month":
        start = day.replace(day=1)
        end = start + timedelta(days=calendar.monthrange(day.year, day.month)[1])
        return start, end, f"{day:%B %Y}"
    if granularity == "quarter":
        quarter = (day.month - 1) // 3
        start = date(day.year, quarter * 3 + 1, 1)
        end = date(day.year + (quarter == 3), (quarter * 3 + 3) % 12 + 1, 1)
        return start, end, f"Q{quarter + 1} {day.year}"
    start = date(day.year, 1, 1)
    return start, date(day.year + 1, 1, 1), str(day.year)


def read_group(
    model: Model,
    domain: list[Any],
    fields: list[str],
    groupby: list[str] | str,
    offset: int,
    limit: int | None,
    orderby: str | None,
    lazy: bool,
) -> list[dict]:
    groupbys = [groupby] if isinstance(groupby, str) else list(groupby)
    if not groupbys:
        raise InvalidValue("read_group() needs at least one groupby field")
    active = groupbys[:1] if lazy else groupbys
    specs = []
    for spec in active:
        name, _, granularity = spec.partition(":")
        field = model.field(name)
        if field.type in ("date", "datetime") and not granularity:
            granularity = "month"
        specs.append((spec if granularity or ":" in spec else name, name, granularity, field))
    ids = model.search_ids(domain, order=None)
    group_columns = [s[1] for s in specs]
    aggregates = _aggregates(model, fields)
    columns = sorted(set(group_columns) | {a[1] for a in aggregates})
    rows = model.raw_rows(ids, [c for c in columns if c != "id"])
    groups: dict[tuple[Any, ...], list[dict]] = {}
    for record_id in ids:
        row = rows[record_id]
        key = tuple(
            _group_key(row.get(name), field, granularity) for _, name, granularity, field in specs
        )
        groups.setdefault(key, []).append(row)
    # NULLS LAST, but a boolean's False is a value (false < true), as PostgreSQL orders them
    # (read_group.json #1 of 18 and 19: the is_company=false group comes first).
    booleans = [field is not None and field.type == "boolean" for _, _, _, field in specs]
    ordered = sorted(
        groups.items(),
        key=lambda kv: tuple(
            (k is None or (k is False and not boolean), k if not isinstance(k, bool) else int(k))
            for k, boolean in zip(kv[0], booleans, strict=True)
        ),
    )
    if orderby and orderby.strip().endswith("desc"):
        ordered.reverse()
    ordered = ordered[offset : offset + limit if limit else None]
    result = []
    for key, members in ordered:
        group: dict[str, Any] = {}
        leaves: list[Any] = []
        for (_label, name, granularity, field), value in zip(specs, key, strict=True):
            if granularity and value:
                start, end, text = _bounds(value, granularity)
                fmt = "%Y-%m-%d 00:00:00" if field.type == "datetime" else "%Y-%m-%d"
                low, high = start.strftime(fmt), end.strftime(fmt)
                group[f"{name}:{granularity}"] = text
                leaves += [[name, ">=", low], [name, "<", high]]
                group.setdefault("__range", {})[f"{name}:{granularity}"] = {"from": low, "to": high}
            elif granularity:
                group[f"{name}:{granularity}"] = False
                leaves.append([name, "=", False])
            else:
                group[name] = _group_value(model, field, value)
                leaves.append([name, "=", value if value is not None else False])
        count_key = "__count" if not lazy else f"{specs[0][1]}_count"
        group[count_key] = len(members)
        for alias, column, func in aggregates:
            values = [m.get(column) for m in members if m.get(column) is not None]
            if func == "COUNT":
                group[alias] = len(members) if column == "id" else len(values)
            elif func == "SUM":
                group[alias] = sum(values) if values else 0
            elif func == "AVG":
                group[alias] = sum(values) / len(values) if values else 0
            elif func == "MAX":
                group[alias] = max(values) if values else False
            else:
                group[alias] = min(values) if values else False
        full = list(domain or [])
        combined = leaves if not full else ["&"] * len(leaves) + full + leaves
        if full and len(leaves) >= 1:
            combined = ["&"] * len(leaves) + full + leaves
        elif len(leaves) > 1:
            combined = ["&"] * (len(leaves) - 1) + leaves
        group["__domain"] = combined
        if lazy and len(groupbys) > 1:
            group["__context"] = {"group_by": groupbys[1:]}
        ordered_group = {k: v for k, v in group.items() if k not in ("__domain", "__range")}
        if "__range" in group:
            ordered_group["__domain"] = group["__domain"]
            ordered_group["__range"] = group["__range"]
        else:
            ordered_group["__domain"] = group["__domain"]
        result.append(ordered_group)
    return result


def _aggregates(model: Model, fields: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for spec in fields:
        alias_part, _, func = spec.partition(":")
        alias, _, column = alias_part.partition("(")
        column = column.rstrip(")") or alias
        if column == "__count":
            continue
        field = model.field(column)
        if func:
            if func not in AGGREGATES:
                raise InvalidValue(f"Invalid aggregation function {func!r}.")
            out.append((alias, column, AGGREGATES[func]))
        elif field.type in ("integer", "float", "monetary") and field.has_column and column != "id":
            out.append((alias, column, "SUM"))
    return out


def _group_key(value: Any, field: Any, granularity: str) -> Any:
    if granularity and value:
        return _bounds(str(value), granularity)[0].isoformat()
    if field.type == "boolean":
        return bool(value)
    return value


def _group_value(model: Model, field: Any, value: Any) -> Any:
    if value is None:
        return False
    if field.type == "many2one":
        names = model.env[field.relation].display_names([value])
        return [value, names.get(value, "")]
    return value
