"""Applies a mapping spec to source records: the one mapping engine every connector uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from handoff.mapping.conversions import TRANSFORMS, convert
from handoff.mapping.errors import MappingError
from handoff.mapping.hooks import hooks_for
from handoff.mapping.spec import CANONICAL_MODELS, SOURCE_LABELS, FieldRule, MappingSpec


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path (``properties.amount``, ``Account.Name``); None when absent."""
    value: Any = record
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _empty(value: Any) -> bool:
    return value is None or value == ""


class Mapper:
    """One mapping (and, through ``registry``, the mapping of its lines) applied to records."""

    def __init__(
        self,
        spec: MappingSpec,
        registry: Mapping[str, MappingSpec] | None = None,
        *,
        run_hooks: bool = True,
    ) -> None:
        self.spec = spec
        self.registry = registry or {}
        # Without hooks (a preview away from the live system) only the declarative rules apply.
        self.run_hooks = run_hooks
        self._hooks = [hooks_for(spec.source)[name] for name in spec.hooks] if run_hooks else []

    def record_id(self, record: Mapping[str, Any]) -> str | None:
        rule = self.spec.fields.get("external_id")
        found = lookup(record, rule.source) if rule else record.get("id", record.get("Id"))
        return None if found is None else str(found)

    def _where(self, record: Mapping[str, Any]) -> str:
        system = SOURCE_LABELS.get(self.spec.source, self.spec.source)
        return f"{self.spec.label}: {system} {self.spec.object} {self.record_id(record)}"

    def value(self, name: str, rule: FieldRule, record: Mapping[str, Any]) -> Any:
        """One canonical field's value from ``record`` (None when empty and not required)."""
        raw = lookup(record, rule.source)
        source_value = raw
        try:
            if _empty(raw):
                value = rule.default
            elif rule.map is not None:
                key = str(raw).lower() if isinstance(raw, bool) else str(raw)
                if key not in rule.map:
                    raise ValueError(f"{raw!r} is not one of {sorted(rule.map)}")
                value = rule.map[key]
            else:
                value = raw
            value = convert(value, rule.type)
            if rule.transform is not None and value is not None:
                value = TRANSFORMS[rule.transform](value)
        except ValueError as error:
            fix = (
                f"Correct `{rule.source}` on the source record, or the rule for `{name}` in "
                f"mapping {self.spec.name}, then replay."
            )
            raise MappingError(
                f"{self._where(record)}: {name} from {rule.source}: {error}",
                mapping=self.spec.name,
                version=self.spec.version,
                field=name,
                path=rule.source,
                record_id=self.record_id(record),
                rule="invalid_value",
                value=source_value,
                suggested_fix=fix,
            ) from None
        return None if value == "" else value

    def values(self, record: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        """The canonical field values for ``record``; unmapped fields keep the model's defaults."""
        values: dict[str, Any] = dict(self.spec.constants)
        missing: list[tuple[str, FieldRule]] = []
        for name, rule in self.spec.fields.items():
            value = self.value(name, rule, record)
            if value is None and rule.required:
                missing.append((name, rule))
            elif value is not None:
                values[name] = value
        if missing:
            described = ", ".join(f"{name} (from {rule.source})" for name, rule in missing)
            raise MappingError(
                f"{self._where(record)} lacks required {described}.",
                mapping=self.spec.name,
                version=self.spec.version,
                field=", ".join(name for name, _ in missing),
                path=", ".join(rule.source for _, rule in missing),
                record_id=self.record_id(record),
                rule="missing_required",
                value=[f"{name} (from {rule.source})" for name, rule in missing],
                suggested_fix="Fill these values in the source system, then replay the event.",
            )
        for hook in self._hooks:
            hook.function(dict(record), values, context)
        if self.spec.lines is not None:
            values["lines"] = self.lines(lookup(record, self.spec.lines.source) or [], context)
        return values

    def lines(self, records: list[Any], context: Any = None) -> list[Any]:
        """Line records mapped with the line mapping the spec names."""
        assert self.spec.lines is not None
        if not records:
            return []
        name = self.spec.lines.mapping
        if name not in self.registry:
            raise LookupError(f"{self.spec.name} maps lines with {name}, which is not loaded")
        line_mapper = Mapper(self.registry[name], self.registry, run_hooks=self.run_hooks)
        return [line_mapper.to_canonical(line, context) for line in records]

    def to_canonical(self, record: Mapping[str, Any], context: Any = None) -> Any:
        """The canonical record, or a ``MappingError`` saying what to fix."""
        return self.validate(record, self.values(record, context))

    def validate(self, record: Mapping[str, Any], values: dict[str, Any]) -> BaseModel:
        model = CANONICAL_MODELS[self.spec.canonical]
        try:
            return model.model_validate(values)
        except ValidationError as error:
            problems = error.errors(include_url=False)
            first = problems[0]
            field = ".".join(str(part) for part in first["loc"])
            rule = self.spec.fields.get(str(first["loc"][0]))
            path = rule.source if rule else "-"
            raise MappingError(
                f"{self._where(record)} does not make a valid {self.spec.canonical}: "
                + "; ".join(f"{'.'.join(map(str, p['loc']))}: {p['msg']}" for p in problems),
                mapping=self.spec.name,
                version=self.spec.version,
                field=field,
                path=path,
                record_id=self.record_id(record),
                rule="canonical_validation",
                value=first.get("input"),
                suggested_fix=f"Correct `{path}` on the source record (or the mapping's rule "
                f"for `{field}`), then replay.",
            ) from None
