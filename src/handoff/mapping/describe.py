"""Mappings explained to people: what a mapping does (`show`) and what a change alters (`diff`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from handoff.canonical.errors import HandoffError
from handoff.mapping.engine import Mapper
from handoff.mapping.errors import MappingError
from handoff.mapping.loader import shipped_mappings
from handoff.mapping.spec import SOURCE_LABELS, FieldRule, MappingSpec


def _rule_text(name: str, rule: FieldRule) -> str:
    how = rule.describe()
    return f"{name} <- {rule.source}" + (f" ({how})" if how else "")


def describe_mapping(spec: MappingSpec) -> list[str]:
    """One line per canonical field: where it comes from and how."""
    system = SOURCE_LABELS.get(spec.source, spec.source)
    lines = [f"{spec.label}: {system} {spec.object} -> {spec.canonical}"]
    lines += [f"  {name} = {value!r} (constant)" for name, value in spec.constants.items()]
    lines += [f"  {_rule_text(name, rule)}" for name, rule in spec.fields.items()]
    lines += [f"  hook: {hook}" for hook in spec.hooks]
    if spec.lines:
        lines.append(f"  lines <- {spec.lines.source} via {spec.lines.mapping}")
    return lines


def rule_changes(current: MappingSpec, proposed: MappingSpec) -> list[str]:
    """Added, removed and changed rules, and the version change (or the missing bump)."""
    changes: list[str] = []
    same = current.model_dump() == proposed.model_dump()
    if proposed.version == current.version and not same:
        changes.append(f"version stays {current.version} although the mapping changed: bump it")
    elif proposed.version < current.version:
        changes.append(f"version goes down from {current.version} to {proposed.version}")
    elif proposed.version > current.version:
        changes.append(f"version {current.version} -> {proposed.version}")
    for key in ("object", "canonical"):
        if getattr(current, key) != getattr(proposed, key):
            changes.append(f"{key}: {getattr(current, key)} -> {getattr(proposed, key)}")
    for name in sorted(set(current.constants) | set(proposed.constants)):
        before, after = current.constants.get(name), proposed.constants.get(name)
        if name not in proposed.constants:
            changes.append(f"removed constant {name} = {before!r}")
        elif name not in current.constants:
            changes.append(f"added constant {name} = {after!r}")
        elif before != after:
            changes.append(f"changed constant {name}: {before!r} -> {after!r}")
    for name in [*current.fields, *(n for n in proposed.fields if n not in current.fields)]:
        old, new = current.fields.get(name), proposed.fields.get(name)
        if new is None and old is not None:
            changes.append(f"removed {_rule_text(name, old)}")
        elif old is None and new is not None:
            changes.append(f"added {_rule_text(name, new)}")
        elif old != new and old is not None and new is not None:
            changes.append(f"changed {_rule_text(name, old)}  =>  {_rule_text(name, new)}")
    for hook in current.hooks:
        if hook not in proposed.hooks:
            changes.append(f"removed hook {hook}")
    for hook in proposed.hooks:
        if hook not in current.hooks:
            changes.append(f"added hook {hook}")
    if current.lines != proposed.lines:
        changes.append(f"lines: {_lines(current)} -> {_lines(proposed)}")
    return changes


def _lines(spec: MappingSpec) -> str:
    return f"{spec.lines.source} via {spec.lines.mapping}" if spec.lines else "-"


class SampleOutcome(BaseModel):
    """What a mapping makes of one sample record: the canonical record, or the error."""

    canonical: dict[str, Any] | None = None
    error: str | None = None
    hooks_skipped: str | None = None  # why code hooks did not run, when they could not


def map_sample(
    spec: MappingSpec,
    record: Mapping[str, Any],
    registry: Mapping[str, MappingSpec] | None = None,
    context: Any = None,
) -> SampleOutcome:
    """The canonical record (JSON-ready) the spec makes of ``record``, or the error it raises.

    A hook that needs the live system (HubSpot's pipelines) cannot run in a preview: the record is
    then mapped by the declarative rules alone, and the outcome says so.
    """
    skipped: str | None = None
    try:
        canonical = Mapper(spec, registry).to_canonical(record, context)
    except MappingError as error:
        return SampleOutcome(error=error.message)
    except HandoffError as error:
        skipped = f"{error.rule}: {error.message}"
        try:
            values = Mapper(spec, registry, run_hooks=False).values(record, context)
        except HandoffError as again:
            return SampleOutcome(error=again.message)
        return SampleOutcome(canonical=_json_ready(values), hooks_skipped=skipped)
    return SampleOutcome(canonical=canonical.model_dump(mode="json"))


def _json_ready(values: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.model_dump(mode="json") if isinstance(v, BaseModel) else _plain(v)
        for k, v in values.items()
    }


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [v.model_dump(mode="json") if isinstance(v, BaseModel) else _plain(v) for v in value]
    if isinstance(value, Decimal | date):
        return str(value) if isinstance(value, Decimal) else value.isoformat()
    return value


def diff_mappings(
    current: MappingSpec,
    proposed: MappingSpec,
    records: Sequence[Mapping[str, Any]] = (),
    context: Any = None,
    registry: Mapping[str, MappingSpec] | None = None,
) -> list[str]:
    """What changing ``current`` into ``proposed`` alters: rules, then values of sample records.

    Sample values are compared before canonical validation, so a change shows even when the
    sample is too partial to make a whole canonical record.
    """
    changes = rule_changes(current, proposed)
    if registry is None and (current.lines or proposed.lines):
        registry = shipped_mappings()
    for record in records:
        record_id = Mapper(current, registry).record_id(record)
        try:
            old = Mapper(current, registry).values(record, context)
            new = Mapper(proposed, registry).values(record, context)
        except MappingError as error:
            changes.append(f"record {record_id}: {error.message}")
            continue
        for name in sorted(set(old) | set(new)):
            if old.get(name) != new.get(name):
                changes.append(f"record {record_id}: {name} {old.get(name)!r} -> {new.get(name)!r}")
    return changes
