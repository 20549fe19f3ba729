"""Salesforce's part of the shared mapping engine (handoff.mapping).

The mappings are data (``handoff/mappings/salesforce_*.yaml``, overridable in handoff.yaml); this
module only says how Salesforce reads them: the SOQL SELECT list comes from the rules (a mapping
never asks for a field it does not use), and line items are read in their own query by the
lines rule's ``parent_field``. Billing-status write-back (``salesforce_writeback.yaml``, Salesforce
field -> write-back attribute) is the opposite direction and keeps its own small format, read
through the same file loader and overrides.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from handoff.mapping import (
    Mapper,
    MappingFileError,
    MappingSpec,
    country_code,
    load_effective,
    mapping_path,
    read_document,
)

SOURCE = "salesforce"
__all__ = [
    "ObjectMapping",
    "WriteBackMapping",
    "WriteBackTarget",
    "apply_rules",
    "country_code",
    "load_object_mapping",
    "load_writeback_mapping",
]


class LineQuery:
    """How a mapping's lines are read: their sObject, parent field and mapping."""

    def __init__(self, spec: MappingSpec, parent_field: str) -> None:
        self.spec = spec
        self.sobject = spec.object
        self.parent_field = parent_field

    @property
    def fields(self) -> MappingSpec:
        """The line mapping, as ``apply_rules`` takes it."""
        return self.spec


class ObjectMapping:
    """A Salesforce object mapping (with its line mapping, if any) ready for SOQL."""

    def __init__(self, spec: MappingSpec, line_spec: MappingSpec | None = None) -> None:
        self.spec = spec
        self.version = spec.version
        self.canonical = spec.canonical
        self.sobject = spec.object
        self.lines: LineQuery | None = None
        if spec.lines is not None:
            if line_spec is None or spec.lines.parent_field is None:
                raise MappingFileError(
                    f"mapping {spec.name}: Salesforce lines need a line mapping and `parent_field`",
                    rule="mapping_invalid",
                    suggested_fix="Write lines as {from: ..., mapping: ..., parent_field: OpportunityId}.",
                )
            self.lines = LineQuery(line_spec, spec.lines.parent_field)

    @property
    def fields(self) -> MappingSpec:
        """The object mapping, as ``apply_rules`` takes it."""
        return self.spec

    def soql_fields(self) -> list[str]:
        return _select_list(self.spec)

    def line_soql_fields(self) -> list[str]:
        assert self.lines is not None
        return _select_list(self.lines.spec, required=("Id", self.lines.parent_field))


def _select_list(spec: MappingSpec, required: tuple[str, ...] = ("Id",)) -> list[str]:
    return list(dict.fromkeys([*required, *spec.source_paths()]))


def load_object_mapping(name: str, overrides: Mapping[str, Path] | None = None) -> ObjectMapping:
    """The mapping ``name`` in effect (and its line mapping), for Salesforce queries."""
    names = {name}
    shipped = load_effective({}).get(name)
    if shipped is not None and shipped.spec.lines is not None:
        names.add(shipped.spec.lines.mapping)
    loaded = load_effective({k: v for k, v in (overrides or {}).items() if k in names})
    if name not in loaded:
        raise MappingFileError(f"mapping {name} does not exist", rule="mapping_unknown", value=name)
    spec = loaded[name].spec
    line_spec = (
        loaded[spec.lines.mapping].spec if spec.lines and spec.lines.mapping in loaded else None
    )
    return ObjectMapping(spec, line_spec)


def apply_rules(spec: MappingSpec, record: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical field values from one Salesforce record (dotted paths reach parent records).

    Raises ``handoff.mapping.MappingError`` for a missing required value or one that does not
    convert.
    """
    return Mapper(spec).values(record)


# -- write-back -------------------------------------------------------------------------------
class WriteBackTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sobject: str
    fields: dict[str, str]  # Salesforce field -> attribute of the write-back model


class WriteBackMapping(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "salesforce_writeback"
    kind: Literal["write_back"] = "write_back"
    version: int = Field(ge=1)
    source: Literal["salesforce"] = "salesforce"
    deal: WriteBackTarget
    customer: WriteBackTarget


def load_writeback_mapping(
    name: str = "salesforce_writeback", overrides: Mapping[str, Path] | None = None
) -> WriteBackMapping:
    path = mapping_path(name, overrides)
    try:
        return WriteBackMapping.model_validate(read_document(path, name))
    except ValidationError as error:
        raise MappingFileError(
            f"mapping {name} ({path}) is invalid: {error}", rule="mapping_invalid", value=str(path)
        ) from None
