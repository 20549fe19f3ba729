"""CRM record rules of the HubSpot sandbox: property validation, writes, search, associations.

Decisions where HubSpot's reference is silent (recorded in crm-apis.md as unconfirmed or absent):
- a batch create/update fails as a whole (400) when any input carries an unknown, read-only or
  ill-typed property, as HubSpot validates a batch before writing; missing ids in batch read and
  update, and unique-value conflicts in batch create, are per-record errors answered with 207;
- ids come from one sequence shared by all object types;
- a deal without `pipeline` goes to the `default` pipeline; `dealstage` must belong to the pipeline.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from handoff_sandbox.hubspot.errors import HubSpotApiError, not_found, validation_error
from handoff_sandbox.hubspot.schema import (
    CREATED_PROPERTY,
    DEFAULT_PROPERTIES,
    ERROR_NAME,
    LAST_MODIFIED_PROPERTY,
    OBJECT_TYPE_IDS,
    QUERY_PROPERTIES,
    SINGULAR,
    PropertyDefinition,
    association_types,
)
from handoff_sandbox.hubspot.store import (
    SandboxStore,
    StoredObject,
    iso_ms,
    now_ms,
    parse_hubspot_time,
)

SEARCH_OPERATORS = {
    "EQ",
    "NEQ",
    "LT",
    "LTE",
    "GT",
    "GTE",
    "BETWEEN",
    "IN",
    "NOT_IN",
    "HAS_PROPERTY",
    "NOT_HAS_PROPERTY",
    "CONTAINS_TOKEN",
    "NOT_CONTAINS_TOKEN",
}
COMPUTED_ON_WRITE = {"hs_object_id", "createdate", "hs_createdate", "hs_lastmodifieddate"}


@dataclass
class RecordChange:
    """What one write did, for webhooks: created, or which properties changed to what."""

    object_type: str
    object_id: int
    created: bool = False
    archived: bool = False
    changed: dict[str, str] = field(default_factory=dict)


@dataclass
class InputError:
    """A per-record failure inside a batch (answered with 207)."""

    category: str
    message: str
    context: dict[str, list[str]]
    status_code: int


class Records:
    def __init__(self, store: SandboxStore) -> None:
        self.store = store
        self._definitions: dict[str, dict[str, PropertyDefinition]] = {}

    # -- definitions -----------------------------------------------------------------------
    def definitions(self, object_type: str) -> dict[str, PropertyDefinition]:
        if object_type not in self._definitions:
            self._definitions[object_type] = self.store.properties(object_type)
        return self._definitions[object_type]

    def forget_definitions(self) -> None:
        self._definitions.clear()

    def stage_index(self) -> dict[str, dict[str, dict[str, Any]]]:
        """pipeline id -> stage id -> stage, for deal validation and computed properties."""
        return {p["id"]: {s["id"]: s for s in p["stages"]} for p in self.store.pipelines("deals")}

    # -- property validation ---------------------------------------------------------------
    def clean_properties(
        self, object_type: str, raw: Any, *, existing: dict[str, str] | None = None
    ) -> dict[str, str | None]:
        """Values as HubSpot stores them (strings; None clears), or a 400 naming every bad one."""
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise validation_error("Invalid input JSON: `properties` must be an object.")
        definitions = self.definitions(object_type)
        problems: list[dict[str, Any]] = []
        clean: dict[str, str | None] = {}
        for name, value in raw.items():
            definition = definitions.get(name)
            if definition is None:
                problems.append(
                    _problem(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if definition.read_only:
                problems.append(
                    _problem(
                        name,
                        "READ_ONLY_VALUE",
                        f'Property "{name}" is a read only property; its value cannot be set.',
                    )
                )
                continue
            if value is None or value == "":
                clean[name] = None
                continue
            text, error = _coerce(definition, value)
            if error:
                problems.append(_problem(name, error[0], error[1]))
                continue
            clean[name] = text
        if object_type == "deals":
            problems.extend(self._check_deal_stage(clean, existing or {}))
        if problems:
            raise validation_error(
                "Property values were not valid: " + json.dumps(problems),
                errors=[
                    {
                        "message": p["message"],
                        "code": p["error"],
                        "context": {"propertyName": [p["name"]]},
                    }
                    for p in problems
                ],
            )
        return clean

    def _check_deal_stage(
        self, clean: dict[str, str | None], existing: dict[str, str]
    ) -> list[dict[str, Any]]:
        if "pipeline" not in clean and "dealstage" not in clean:
            return []
        stages = self.stage_index()
        pipeline = clean.get("pipeline") or existing.get("pipeline") or "default"
        if pipeline not in stages:
            return [
                _problem(
                    "pipeline",
                    "INVALID_OPTION",
                    f'"{pipeline}" was not one of the allowed options: {sorted(stages)}',
                )
            ]
        stage = clean.get("dealstage") or existing.get("dealstage")
        if stage is None or stage not in stages[pipeline]:
            return [
                _problem(
                    "dealstage",
                    "INVALID_OPTION",
                    f'"{stage}" was not one of the allowed options: {sorted(stages[pipeline])}',
                )
            ]
        return []

    def _derive(self, object_type: str, properties: dict[str, str]) -> None:
        """Properties HubSpot computes: deal closed/won flags and probability, line item amount."""
        if object_type == "deals" and properties.get("dealstage"):
            properties.setdefault("pipeline", "default")
            stage = self.stage_index().get(properties["pipeline"], {}).get(properties["dealstage"])
            if stage is not None:
                probability = float(stage["metadata"].get("probability", "0"))
                closed = stage["metadata"].get("isClosed") == "true"
                properties["hs_deal_stage_probability"] = str(probability)
                properties["hs_is_closed"] = "true" if closed else "false"
                properties["hs_is_closed_won"] = (
                    "true" if closed and probability >= 1.0 else "false"
                )
        if object_type == "line_items":
            try:
                quantity = float(properties.get("quantity") or 0)
                price = float(properties.get("price") or 0)
                discount = float(properties.get("discount") or 0)
            except ValueError:
                return
            properties["amount"] = _number_text(quantity * (price - discount))

    # -- writes ----------------------------------------------------------------------------
    def create(
        self,
        object_type: str,
        inputs: Sequence[Mapping[str, str | None]],
        *,
        stamp: int | None = None,
    ) -> tuple[list[StoredObject], list[RecordChange]]:
        moment = stamp or now_ms()
        ids = self.store.next_ids(len(inputs))
        created: list[StoredObject] = []
        changes: list[RecordChange] = []
        for object_id, values in zip(ids, inputs, strict=True):
            properties = {k: v for k, v in values.items() if v is not None}
            if object_type == "deals" and "dealstage" not in properties:
                raise validation_error(
                    "Property values were not valid: "
                    + json.dumps([_problem("dealstage", "REQUIRED", "dealstage is required")])
                )
            self._derive(object_type, properties)
            properties.update(self._system_properties(object_type, object_id, moment, moment))
            created.append(StoredObject(object_type, object_id, properties, moment, moment, False))
            changes.append(
                RecordChange(object_type, object_id, created=True, changed=dict(properties))
            )
        self.store.insert_objects(created)
        return created, changes

    def update(
        self, record: StoredObject, values: dict[str, str | None], *, stamp: int | None = None
    ) -> RecordChange:
        moment = stamp or now_ms()
        change = RecordChange(record.object_type, record.id)
        for name, value in values.items():
            before = record.properties.get(name)
            if value is None:
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            if before != value:
                change.changed[name] = value or ""
        before_derived = dict(record.properties)
        self._derive(record.object_type, record.properties)
        for name, value in record.properties.items():
            if before_derived.get(name) != value:
                change.changed[name] = value
        record.updated_at = max(moment, record.updated_at)
        record.properties.update(
            self._system_properties(
                record.object_type, record.id, record.created_at, record.updated_at
            )
        )
        return change

    def _system_properties(self, object_type: str, object_id: int, created: int, updated: int):
        system = {
            "hs_object_id": str(object_id),
            "createdate": iso_ms(created),
            "hs_createdate": iso_ms(created),
            LAST_MODIFIED_PROPERTY[object_type]: iso_ms(updated),
        }
        return system

    def unique_conflicts(
        self,
        object_type: str,
        inputs: Sequence[dict[str, str | None]],
        ignore_ids: Sequence[int] = (),
    ) -> dict[int, InputError]:
        """Index of inputs whose unique-value property (contact email, ...) is already taken."""
        conflicts: dict[int, InputError] = {}
        for definition in self.definitions(object_type).values():
            if not definition.unique:
                continue
            wanted = [
                str(values.get(definition.name)) for values in inputs if values.get(definition.name)
            ]
            taken = self.store.find_by_property(object_type, definition.name, wanted)
            seen: dict[str, int] = {}
            for index, values in enumerate(inputs):
                value = values.get(definition.name)
                if not value:
                    continue
                key = value.lower()
                owner = taken.get(key)
                if owner is not None and owner not in ignore_ids:
                    conflicts[index] = _conflict(object_type, owner, definition.name)
                elif key in seen:
                    conflicts[index] = _conflict(object_type, seen[key], definition.name)
                seen.setdefault(key, -1)
        return conflicts

    def get_one(
        self, object_type: str, raw_id: str, id_property: str | None = None, archived: bool = False
    ) -> StoredObject:
        object_id = self.resolve_ids(object_type, [raw_id], id_property).get(raw_id)
        if object_id is not None:
            found = self.store.get_objects(object_type, [object_id], archived=archived)
            if object_id in found:
                return found[object_id]
        raise not_found(
            "resource not found",
            context={"id": [raw_id]},
        )

    def resolve_ids(
        self, object_type: str, raw_ids: Sequence[str], id_property: str | None
    ) -> dict[str, int]:
        """Map the caller's ids (record ids, or values of `idProperty`) to record ids."""
        if id_property and id_property != "hs_object_id":
            definition = self.definitions(object_type).get(id_property)
            if definition is None or not definition.unique:
                raise validation_error(
                    f"{id_property} is not a unique identifier property for {object_type}",
                    context={"idProperty": [id_property]},
                )
            found = self.store.find_by_property(object_type, id_property, [str(r) for r in raw_ids])
            return {raw: found[str(raw).lower()] for raw in raw_ids if str(raw).lower() in found}
        resolved: dict[str, int] = {}
        for raw in raw_ids:
            if str(raw).isdigit():
                resolved[raw] = int(raw)
        return resolved

    # -- rendering -------------------------------------------------------------------------
    def to_json(
        self,
        record: StoredObject,
        properties: Sequence[str] | None = None,
        *,
        associations: Sequence[str] = (),
    ) -> dict[str, Any]:
        names = list(properties) if properties else list(DEFAULT_PROPERTIES[record.object_type])
        body: dict[str, Any] = {
            "id": str(record.id),
            "properties": {name: record.properties.get(name) for name in names},
            "createdAt": iso_ms(record.created_at),
            "updatedAt": iso_ms(record.updated_at),
            "archived": record.archived,
        }
        if record.archived:
            body["archivedAt"] = iso_ms(record.updated_at)
        if associations:
            linked: dict[str, Any] = {}
            for to_type in associations:
                grouped = self.store.associations_of(record.object_type, record.id, to_type)
                if grouped:
                    singular_from, singular_to = SINGULAR[record.object_type], SINGULAR[to_type]
                    linked[to_type] = {
                        "results": [
                            {"id": str(to_id), "type": f"{singular_from}_to_{singular_to}"}
                            for to_id in grouped
                        ]
                    }
            if linked:
                body["associations"] = linked
        return body

    # -- search ----------------------------------------------------------------------------
    def search(
        self,
        object_type: str,
        request: dict[str, Any],
        *,
        result_cap: int,
        visible_before_ms: int | None,
    ) -> dict[str, Any]:
        filter_groups = request.get("filterGroups") or []
        if not isinstance(filter_groups, list):
            raise validation_error("filterGroups must be an array")
        if len(filter_groups) > 5:
            raise validation_error(
                "Too many filter groups: at most 5 are allowed.",
                sub_category="TOO_MANY_FILTER_GROUPS",
            )
        total_filters = 0
        definitions = self.definitions(object_type)
        group_sql: list[str] = []
        params: list[Any] = []
        for group in filter_groups:
            filters = (group or {}).get("filters") or []
            if len(filters) > 6:
                raise validation_error(
                    "Too many filters in a group: at most 6 are allowed.",
                    sub_category="TOO_MANY_FILTERS",
                )
            total_filters += len(filters)
            clauses = []
            for spec in filters:
                clause, values = self._filter_sql(object_type, definitions, spec)
                clauses.append(clause)
                params.extend(values)
            if clauses:
                group_sql.append("(" + " AND ".join(clauses) + ")")
        if total_filters > 18:
            raise validation_error(
                "Too many filters: at most 18 are allowed.", sub_category="TOO_MANY_FILTERS"
            )
        where = ["object_type=?", "archived=0"]
        base_params: list[Any] = [object_type]
        if visible_before_ms is not None:
            where.append("updated_at<=?")
            base_params.append(visible_before_ms)
        query = request.get("query")
        if query:
            likes = [
                f"lower(json_extract(properties, '$.\"{name}\"')) LIKE ?"
                for name in QUERY_PROPERTIES[object_type]
            ]
            where.append("(" + " OR ".join(likes) + ")")
            base_params.extend([f"%{str(query).lower()}%"] * len(likes))
        if group_sql:
            where.append("(" + " OR ".join(group_sql) + ")")
        sql_where = " AND ".join(where)
        all_params = base_params + params

        sorts = request.get("sorts") or []
        if len(sorts) > 1:
            raise validation_error("Only one sort is allowed.", sub_category="TOO_MANY_SORTS")
        order = "id ASC"
        if sorts:
            name, direction = _sort_spec(sorts[0])
            expr = self._property_sql(object_type, definitions, name)
            order = f"{expr} {'DESC' if direction == 'DESCENDING' else 'ASC'}, id ASC"

        limit = request.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise validation_error("limit must be a non-negative integer")
        if limit > 200:
            raise validation_error(
                f"Provided limit {limit} is larger than max allowed limit 200.",
                context={"limit": [str(limit)]},
            )
        after_raw = request.get("after") or "0"
        if not str(after_raw).isdigit():
            raise validation_error(f"after {after_raw!r} is not a valid paging cursor")
        after = int(after_raw)
        if after >= result_cap or after + limit > result_cap:
            raise validation_error(
                f"There was a problem with the request. Paging beyond {result_cap} results is not supported; "
                "narrow the search with filters.",
                context={"after": [str(after)]},
            )
        properties = request.get("properties") or None
        total = self.store.count(sql_where, all_params)
        rows = self.store.query(sql_where, all_params, order, limit, after)
        body: dict[str, Any] = {
            "total": total,
            "results": [self.to_json(r, properties) for r in rows],
        }
        if after + len(rows) < total and rows:
            body["paging"] = {"next": {"after": str(after + len(rows))}}
        return body

    def _property_sql(
        self, object_type: str, definitions: dict[str, PropertyDefinition], name: str
    ) -> str:
        if name == "hs_object_id":
            return "id"
        if name in (LAST_MODIFIED_PROPERTY[object_type], "hs_lastmodifieddate", "lastmodifieddate"):
            return "updated_at"
        if name in (CREATED_PROPERTY[object_type], "hs_createdate"):
            return "created_at"
        definition = definitions.get(name)
        if definition is None:
            raise validation_error(
                f"Property {name!r} does not exist on {object_type}.",
                context={"propertyName": [name]},
            )
        raw = f"json_extract(properties, '$.\"{name}\"')"
        if definition.type == "number":
            return f"CAST({raw} AS REAL)"
        if definition.type in ("datetime", "date"):
            return f"hs_time({raw})"
        return f"lower({raw})"

    def _filter_sql(
        self, object_type: str, definitions: dict[str, PropertyDefinition], spec: dict[str, Any]
    ) -> tuple[str, list[Any]]:
        name = spec.get("propertyName")
        operator = spec.get("operator")
        if not name:
            raise validation_error("A filter needs a propertyName.")
        if operator not in SEARCH_OPERATORS:
            raise validation_error(
                f"Unknown operator {operator!r}; allowed: {sorted(SEARCH_OPERATORS)}"
            )
        expr = self._property_sql(object_type, definitions, name)
        kind = _value_kind(object_type, definitions, name)

        def convert(value: Any) -> Any:
            if kind == "number":
                try:
                    return float(value)
                except (TypeError, ValueError):
                    raise validation_error(f"{value!r} is not a valid number for {name}") from None
            if kind == "time":
                moment = parse_hubspot_time(value)
                if moment is None:
                    raise validation_error(f"{value!r} is not a valid date for {name}")
                return moment
            return str(value).lower()

        if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            clause = f"({expr} IS NOT NULL AND {expr} != '')"
            return (clause if operator == "HAS_PROPERTY" else f"NOT {clause}"), []
        if operator in ("IN", "NOT_IN"):
            values = spec.get("values")
            if not isinstance(values, list) or not values:
                raise validation_error(f"{operator} needs a non-empty `values` array")
            marks = ",".join("?" * len(values))
            if operator == "IN":
                return f"{expr} IN ({marks})", [convert(v) for v in values]
            return f"({expr} IS NULL OR {expr} NOT IN ({marks}))", [convert(v) for v in values]
        if operator == "BETWEEN":
            if "value" not in spec or "highValue" not in spec:
                raise validation_error("BETWEEN needs `value` and `highValue`")
            return f"{expr} BETWEEN ? AND ?", [convert(spec["value"]), convert(spec["highValue"])]
        if "value" not in spec:
            raise validation_error(f"{operator} needs a `value`")
        if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            token = str(spec["value"]).lower().replace("*", "%")
            pattern = token if "%" in token else f"%{token}%"
            clause = f"lower(json_extract(properties, '$.\"{name}\"')) LIKE ?"
            if operator == "CONTAINS_TOKEN":
                return clause, [pattern]
            return f"NOT coalesce({clause}, 0)", [pattern]
        symbol = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}[operator]
        if operator == "NEQ":
            return f"({expr} IS NULL OR {expr} != ?)", [convert(spec["value"])]
        return f"{expr} {symbol} ?", [convert(spec["value"])]

    # -- associations ----------------------------------------------------------------------
    def association_rows(
        self,
        from_type: str,
        from_id: int,
        to_type: str,
        to_id: int,
        specs: Sequence[dict[str, Any]],
    ) -> list[tuple[str, int, str, int, int, str]]:
        """Rows for both directions, or a 400 when a type id does not join these objects."""
        known = association_types(from_type, to_type)
        if not known:
            raise validation_error(
                f"{SINGULAR[from_type]} objects cannot be associated with {SINGULAR[to_type]} objects.",
                sub_category="INVALID_ASSOCIATION_TYPE",
            )
        rows = []
        for spec in specs:
            category = spec.get("associationCategory", "HUBSPOT_DEFINED")
            type_id = spec.get("associationTypeId")
            chosen = known.get(type_id) if isinstance(type_id, int) else None
            if chosen is None or category != "HUBSPOT_DEFINED":
                raise validation_error(
                    f"association type id {type_id} ({category}) does not exist between "
                    f"{SINGULAR[from_type]} and {SINGULAR[to_type]}",
                    sub_category="INVALID_ASSOCIATION_TYPE",
                    context={"associationTypeId": [str(type_id)]},
                )
            rows.append((from_type, from_id, to_type, to_id, chosen.type_id, category))
            rows.append((to_type, to_id, from_type, from_id, chosen.inverse_type_id, category))
        return rows

    def association_results(
        self, from_type: str, from_id: int, to_type: str
    ) -> list[dict[str, Any]]:
        known = association_types(from_type, to_type)
        grouped = self.store.associations_of(from_type, from_id, to_type)
        return [
            {
                "toObjectId": to_id,
                "associationTypes": [
                    {
                        "category": category,
                        "typeId": type_id,
                        "label": known[type_id].label if type_id in known else None,
                    }
                    for type_id, category in types
                ],
            }
            for to_id, types in grouped.items()
        ]

    def require_existing(self, object_type: str, object_id: Any) -> int:
        if not str(object_id).isdigit() or not self.store.get_objects(
            object_type, [int(object_id)]
        ):
            raise not_found(
                f"No {SINGULAR[object_type]} with id {object_id} exists",
                context={"id": [str(object_id)]},
            )
        return int(object_id)

    def object_type_id(self, object_type: str) -> str:
        return OBJECT_TYPE_IDS[object_type]

    def missing_error(self, object_type: str, ids: Sequence[str]) -> dict[str, Any]:
        return {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": f"Could not get some {ERROR_NAME[object_type]} objects, they may be deleted "
            "or not exist. Check that ids are valid.",
            "context": {"ids": list(ids)},
            "errors": [],
        }


def _problem(name: str, code: str, message: str) -> dict[str, Any]:
    return {
        "isValid": False,
        "message": message,
        "error": code,
        "name": name,
        "localizedErrorMessage": message,
    }


def _conflict(object_type: str, owner: int, name: str) -> InputError:
    label = SINGULAR[object_type].capitalize()
    message = (
        f"{label} already exists. Existing ID: {owner}"
        if owner > 0
        else f"Duplicate {name} within the batch"
    )
    return InputError("CONFLICT", message, {name: []}, 409)


def _coerce(definition: PropertyDefinition, value: Any) -> tuple[str, tuple[str, str] | None]:
    if definition.type == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return "", ("INVALID_DECIMAL", f"{value!r} was not a valid number.")
        return _number_text(number) if isinstance(value, int | float) else str(value).strip(), None
    if definition.type in ("datetime", "date"):
        moment = parse_hubspot_time(value)
        if moment is None:
            return "", (
                "INVALID_DATE",
                f"{value!r} was not a valid date or datetime (use ISO 8601 or epoch ms).",
            )
        if definition.type == "date" and moment % 86_400_000:
            return "", (
                "INVALID_DATE",
                f"{value!r} is not midnight UTC, as date properties require.",
            )
        if definition.type == "date":
            return iso_ms(moment)[:10], None
        return iso_ms(moment), None
    if definition.type == "bool":
        text = str(value).lower()
        if text not in ("true", "false"):
            return "", ("INVALID_BOOLEAN", f"{value!r} was not a valid boolean (true/false).")
        return text, None
    if definition.type == "enumeration" and definition.options:
        allowed = [str(o.get("value")) for o in definition.options]
        if str(value) not in allowed:
            return "", (
                "INVALID_OPTION",
                f'"{value}" was not one of the allowed options: {allowed}',
            )
    if isinstance(value, bool):
        return str(value).lower(), None
    return str(value), None


def _number_text(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else repr(round(number, 6))


def _value_kind(object_type: str, definitions: dict[str, PropertyDefinition], name: str) -> str:
    if name in ("hs_object_id",):
        return "number"
    if name in (
        LAST_MODIFIED_PROPERTY[object_type],
        "hs_lastmodifieddate",
        "lastmodifieddate",
        "createdate",
        "hs_createdate",
    ):
        return "time"
    definition = definitions[name]
    if definition.type == "number":
        return "number"
    if definition.type in ("datetime", "date"):
        return "time"
    return "text"


def _sort_spec(raw: Any) -> tuple[str, str]:
    if isinstance(raw, str):
        if raw.startswith("{"):
            raw = json.loads(raw)
        else:
            return raw.lstrip("-"), "DESCENDING" if raw.startswith("-") else "ASCENDING"
    if not isinstance(raw, dict) or "propertyName" not in raw:
        raise validation_error("A sort needs a propertyName.")
    direction = str(raw.get("direction", "ASCENDING")).upper()
    if direction not in ("ASCENDING", "DESCENDING"):
        raise validation_error(f"Sort direction {direction!r} must be ASCENDING or DESCENDING")
    return str(raw["propertyName"]), direction


def random_event_id() -> int:
    return random.randint(10**9, 10**12)


__all__ = ["HubSpotApiError", "InputError", "RecordChange", "Records", "random_event_id"]
