"""Check every outgoing create/write against the server's own ``fields_get`` before sending it.

Refusing locally turns Odoo's late, sometimes misleading errors (an FK violation that "talks about
deleting", a constraint that only says "Contacts require a name") into one :class:`SchemaViolation`
that lists *every* problem with model, field and value. ``fields_get`` is fetched once per
(server, database, model) and cached, together with ``default_get`` of the model's required
fields: a required field the server has a default for (a localisation's
``account_peppol_proxy_state``, say) is filled by the server, whatever modules are installed.
Required fields the server computes without a default, and non-required fields it enforces
elsewhere, are data in ``required_fields.yaml``.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .errors import OdooPermanentError

FIELDS_GET_ATTRIBUTES = ["string", "type", "required", "readonly", "relation", "selection", "store"]
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}:\d{2}(\.\d+)?)?$")
_NUMBER = (int, float, Decimal)
_TEXT_TYPES = frozenset({"char", "text", "html"})
_FREE_TYPES = frozenset({"json", "properties", "properties_definition", "reference"})


# (model, field names) -> the server's ``default_get`` of those fields
DefaultsFetcher = Callable[[str, list[str]], Mapping[str, Any]]


class FieldSpec(BaseModel):
    """One field of ``fields_get`` (only the attributes the checks use)."""

    model_config = ConfigDict(extra="ignore")

    name: str
    type: str
    string: str = ""
    required: bool = False
    readonly: bool = False
    relation: str | None = None
    selection: list[Any] | None = None
    store: bool = True

    @property
    def selection_keys(self) -> list[Any]:
        return [
            item[0] if isinstance(item, list | tuple) else item for item in self.selection or []
        ]


class ModelSchema(BaseModel):
    model: str
    fields: dict[str, FieldSpec]
    # Required fields the server's ``default_get`` fills when a create leaves them out.
    server_defaults: frozenset[str] = frozenset()

    @classmethod
    def from_fields_get(
        cls,
        model: str,
        fields_get: Mapping[str, Mapping[str, Any]],
        defaults: DefaultsFetcher | None = None,
    ) -> ModelSchema:
        schema = cls(
            model=model,
            fields={
                name: FieldSpec(name=name, **dict(attrs)) for name, attrs in fields_get.items()
            },
        )
        if defaults is None:
            return schema
        required = sorted(schema.required_on_create)
        found = defaults(model, required) if required else {}
        return schema.model_copy(
            update={
                "server_defaults": frozenset(
                    name
                    for name, value in found.items()
                    if name in required
                    and value is not None
                    and (value is not False or schema.fields[name].type == "boolean")
                )
            }
        )

    @property
    def required_on_create(self) -> set[str]:
        """Required fields a create may have to send: writable and stored."""
        return {
            name
            for name, spec in self.fields.items()
            if spec.required and not spec.readonly and spec.store
        }


class ConditionalRequirement(BaseModel):
    model: str
    field: str
    reason: str
    unless: dict[str, list[Any]] = Field(default_factory=dict)

    def applies(self, values: Mapping[str, Any]) -> bool:
        return not any(values.get(other) in allowed for other, allowed in self.unless.items())


class RequiredFieldRules(BaseModel):
    """The declarative content of ``required_fields.yaml``."""

    server_filled: dict[str, list[str]] = Field(default_factory=dict)
    also_required: list[ConditionalRequirement] = Field(default_factory=list)

    @classmethod
    def from_yaml(cls, path: Path) -> RequiredFieldRules:
        return cls.model_validate(yaml.safe_load(path.read_text()))

    def demanded_on_create(self, schema: ModelSchema, values: Mapping[str, Any]) -> dict[str, str]:
        """Required field → why, for a create of ``values`` on ``schema.model``."""
        filled = set(self.server_filled.get(schema.model, ())) | schema.server_defaults
        demanded = {name: "required field" for name in schema.required_on_create - filled}
        for rule in self.also_required:
            if rule.model == schema.model and rule.applies(values):
                demanded[rule.field] = rule.reason
        return demanded


@cache
def default_rules() -> RequiredFieldRules:
    return RequiredFieldRules.from_yaml(Path(__file__).with_name("required_fields.yaml"))


class Violation(BaseModel):
    """One problem in one outgoing value."""

    model: str
    field: str
    value: Any = None
    problem: str
    row: int | None = None

    def describe(self) -> str:
        where = f"{self.model}" + (f"[row {self.row}]" if self.row is not None else "")
        return f"{where}.{self.field} = {self.value!r}: {self.problem}"


class SchemaViolation(OdooPermanentError):
    """The values do not fit the server's schema; nothing was sent."""

    def __init__(self, model: str, violations: Sequence[Violation]) -> None:
        self.violations = list(violations)
        lines = "\n".join(f"- {v.describe()}" for v in self.violations)
        super().__init__(
            f"{len(self.violations)} schema problem(s) on {model}, nothing was sent:\n{lines}",
            model=model,
            rule="odoo_schema",
            value=[v.model_dump() for v in self.violations],
            suggested_fix="Fix the mapping or the source record so these values fit Odoo's fields.",
        )


FieldsFetcher = Callable[[str], Mapping[str, Mapping[str, Any]]]


class SchemaCache:
    """``fields_get`` results per (server key, model); thread-safe, shared by every registry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._schemas: dict[tuple[str, str], ModelSchema] = {}

    def get(
        self,
        server_key: str,
        model: str,
        fetch: FieldsFetcher,
        defaults: DefaultsFetcher | None = None,
    ) -> ModelSchema:
        key = (server_key, model)
        with self._lock:
            found = self._schemas.get(key)
        if found is not None:
            return found
        schema = ModelSchema.from_fields_get(model, fetch(model), defaults)
        with self._lock:
            return self._schemas.setdefault(key, schema)

    def forget(self, server_key: str, model: str | None = None) -> None:
        """Drop cached schemas (after a module upgrade added fields, for instance)."""
        with self._lock:
            for key in [k for k in self._schemas if k[0] == server_key and model in (None, k[1])]:
                del self._schemas[key]


SHARED_SCHEMA_CACHE = SchemaCache()


class SchemaRegistry:
    """Schema lookups and value checks for one server; ``fetch`` calls ``fields_get`` on it."""

    def __init__(
        self,
        server_key: str,
        fetch: FieldsFetcher,
        *,
        defaults: DefaultsFetcher | None = None,
        rules: RequiredFieldRules | None = None,
        cache: SchemaCache | None = None,
    ) -> None:
        self.server_key = server_key
        self._fetch = fetch
        self._defaults = defaults
        self.rules = rules or default_rules()
        self.cache = cache or SHARED_SCHEMA_CACHE

    def schema(self, model: str) -> ModelSchema:
        return self.cache.get(self.server_key, model, self._fetch, self._defaults)

    # -- public checks -----------------------------------------------------------------------

    def check_create(self, model: str, rows: Sequence[Mapping[str, Any]]) -> None:
        problems: list[Violation] = []
        for index, values in enumerate(rows):
            row = index if len(rows) > 1 else None
            problems += self.violations(model, values, creating=True, row=row)
        if problems:
            raise SchemaViolation(model, problems)

    def check_write(self, model: str, values: Mapping[str, Any]) -> None:
        problems = self.violations(model, values, creating=False)
        if problems:
            raise SchemaViolation(model, problems)

    def violations(
        self,
        model: str,
        values: Mapping[str, Any],
        *,
        creating: bool,
        row: int | None = None,
        filled_by_parent: str | None = None,
    ) -> list[Violation]:
        """Every problem in ``values``; ``filled_by_parent`` is the model whose one2many creates it."""
        schema = self.schema(model)
        problems: list[Violation] = []

        def add(field: str, value: Any, problem: str) -> None:
            problems.append(
                Violation(model=model, field=field, value=value, problem=problem, row=row)
            )

        for name, value in values.items():
            spec = schema.fields.get(name)
            if spec is None:
                add(name, value, f"unknown field (not in fields_get of {model})")
                continue
            problem = self._value_problem(spec, value)
            if problem:
                add(name, value, problem)
            elif spec.type in ("one2many", "many2many") and value not in (False, None):
                problems += self._command_problems(model, spec, value, row)
        if creating:
            # What the server fills may be left out, but not sent blank.
            demanded = {n: "required field" for n in schema.required_on_create if n in values}
            demanded.update(self.rules.demanded_on_create(schema, values))
        else:
            # A write may leave required fields out, but may not blank them.
            demanded = {
                n: "required field"
                for n, s in schema.fields.items()
                if s.required and n in values and not s.readonly
            }
        for name, why in demanded.items():
            spec = schema.fields.get(name)
            if spec is not None and filled_by_parent and spec.relation == filled_by_parent:
                continue  # the inverse many2one of the one2many being created
            if name not in values:
                if creating:
                    add(name, None, f"missing: {why}")
            elif _is_empty(values[name], spec):
                add(name, values[name], f"empty: {why}")
        return problems

    # -- value checks ------------------------------------------------------------------------

    @staticmethod
    def _value_problem(spec: FieldSpec, value: Any) -> str | None:
        kind = spec.type
        if value is None or (value is False and kind != "boolean"):
            return None  # clearing is checked by the required rules
        if kind in _FREE_TYPES:
            return None
        if kind == "boolean":
            return None if isinstance(value, bool) else "expected true/false"
        if kind in _TEXT_TYPES:
            return None if isinstance(value, str) else f"expected text ({kind})"
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
            return None if ok else "expected an integer"
        if kind in ("float", "monetary"):
            ok = isinstance(value, _NUMBER) and not isinstance(value, bool)
            return None if ok else f"expected a number ({kind})"
        if kind == "date":
            if isinstance(value, date) and not isinstance(value, datetime):
                return None
            ok = isinstance(value, str) and _DATE.match(value) is not None
            return None if ok else "expected a date 'YYYY-MM-DD'"
        if kind == "datetime":
            if isinstance(value, datetime):
                return None
            ok = isinstance(value, str) and _DATETIME.match(value) is not None
            return None if ok else "expected a datetime 'YYYY-MM-DD HH:MM:SS' (UTC)"
        if kind == "selection":
            keys = spec.selection_keys
            if spec.selection is not None and value not in keys:
                return f"not an allowed selection value (allowed: {', '.join(map(str, keys))})"
            return None
        if kind == "many2one":
            ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
            return None if ok else f"expected a {spec.relation} id (positive integer)"
        if kind == "binary":
            return None if isinstance(value, str | bytes) else "expected base64 text"
        if kind in ("one2many", "many2many"):
            return None if isinstance(value, list | tuple) else "expected a list of commands"
        return None

    def _command_problems(
        self, model: str, spec: FieldSpec, value: Sequence[Any], row: int | None
    ) -> list[Violation]:
        problems: list[Violation] = []

        def add(command: Any, problem: str) -> None:
            problems.append(
                Violation(model=model, field=spec.name, value=command, problem=problem, row=row)
            )

        if spec.type == "many2many" and all(_is_id(item) for item in value):
            return problems  # a plain list of ids means "set exactly these"
        for command in value:
            shape = _command_shape_problem(command)
            if shape:
                add(command, shape)
                continue
            code = command[0]
            if code in (0, 1) and spec.relation:
                nested = self.violations(
                    spec.relation, command[2], creating=code == 0, filled_by_parent=model
                )
                for problem in nested:
                    add(
                        command,
                        f"in {problem.model}.{problem.field}={problem.value!r}: {problem.problem}",
                    )
        return problems


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _command_shape_problem(command: Any) -> str | None:
    """Odoo x2many commands: (0,0,vals) (1,id,vals) (2,id) (3,id) (4,id) (5,) (6,0,ids)."""
    expected = (
        "a command [0, 0, {vals}], [1, id, {vals}], [2, id], [3, id], [4, id], [5] or [6, 0, [ids]]"
    )
    if not isinstance(command, list | tuple) or not command:
        return f"expected {expected}"
    code = command[0]
    size = len(command)
    if code in (0, 1):
        if size != 3 or not isinstance(command[2], Mapping):
            return f"command {code} needs 3 items with a values dict: {expected}"
        if code == 1 and not _is_id(command[1]):
            return "command 1 needs the id of the line to update"
        return None
    if code in (2, 3, 4):
        return None if size in (2, 3) and _is_id(command[1]) else f"command {code} needs an id"
    if code == 5:
        return None if size in (1, 3) else "command 5 takes no arguments"
    if code == 6:
        ok = size == 3 and isinstance(command[2], list | tuple) and all(map(_is_id, command[2]))
        return None if ok else "command 6 needs [6, 0, [ids]]"
    return f"unknown command code {code!r}: {expected}"


def _is_empty(value: Any, spec: FieldSpec | None) -> bool:
    if spec is not None and spec.type == "boolean":
        return value is None
    return (
        value is None
        or value is False
        or value == ""
        or (isinstance(value, list | tuple) and not value)
    )
