"""What a mapping file says: for each canonical field, where its value comes from and how.

```yaml
name: salesforce_deal        # the name handoff.yaml's `mappings:` overrides
version: 2                   # bump on every change: records say which revision made them
source: salesforce           # the system the records come from (selects the connector's hooks)
object: Opportunity          # the source object (HubSpot object type, Salesforce sObject)
canonical: Deal              # the canonical model it produces
constants: {source: salesforce}
fields:
  name: Name                                   # shorthand for {from: Name}
  amount: {from: Amount, type: decimal}
  billing_model: {from: Handoff_Contract_Type__c, map: {Retainer: retainer}}
  milestones: {from: Handoff_Milestones__c, type: json, transform: milestones, default: []}
hooks: [pipeline_stage]      # named code hooks the connector registers
lines: {from: OpportunityLineItems, mapping: salesforce_deal_line, parent_field: OpportunityId}
```

A rule reads ``from`` (a dotted path into the source record); an empty value takes ``default``;
``map`` translates source codes (an unknown code is an error, not a guess); ``type`` converts;
``transform`` (a named function) normalises; ``required`` refuses a record without the value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from handoff.canonical.crm import Contact, Customer, Deal, DealLine, DealMilestone
from handoff.mapping.conversions import TRANSFORMS, ValueType
from handoff.mapping.hooks import hooks_for

CANONICAL_MODELS: dict[str, type[BaseModel]] = {
    "Customer": Customer,
    "Contact": Contact,
    "Deal": Deal,
    "DealLine": DealLine,
    "DealMilestone": DealMilestone,
}
SOURCE_LABELS = {"hubspot": "HubSpot", "salesforce": "Salesforce"}


class FieldRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source: str = Field(alias="from", min_length=1, description="Dotted path in the source record.")
    type: ValueType | None = None
    map: dict[str, Any] | None = Field(None, description="Source code -> canonical value.")
    transform: str | None = None
    default: Any = None
    required: bool = False

    @field_validator("transform")
    @classmethod
    def _known_transform(cls, name: str | None) -> str | None:
        if name is not None and name not in TRANSFORMS:
            raise ValueError(f"unknown transform {name!r}; known: {sorted(TRANSFORMS)}")
        return name

    def describe(self) -> str:
        """How the value is made, for `handoff mappings show`: 'as decimal, strip, required'."""
        parts = [
            self.type and f"as {self.type}",
            self.map and "map " + ", ".join(f"{k!r}->{v!r}" for k, v in self.map.items()),
            self.transform,
            self.default is not None and f"default {self.default!r}",
            self.required and "required",
        ]
        return ", ".join(part for part in parts if part)


class LinesRule(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source: str = Field(alias="from", description="Path of the list of line records.")
    mapping: str = Field(description="Name of the mapping applied to each line.")
    parent_field: str | None = Field(
        None, description="For sources that read lines in their own query: the parent id field."
    )


class MappingSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    canonical: str
    source: str = Field(min_length=1)
    object: str = Field(min_length=1)
    description: str | None = None
    constants: dict[str, Any] = Field(default_factory=dict)
    fields: dict[str, FieldRule]
    hooks: list[str] = Field(default_factory=list)
    lines: LinesRule | None = None

    @field_validator("canonical")
    @classmethod
    def _known_model(cls, canonical: str) -> str:
        if canonical not in CANONICAL_MODELS:
            raise ValueError(
                f"unknown canonical model {canonical!r}; known: {sorted(CANONICAL_MODELS)}"
            )
        return canonical

    @field_validator("fields", mode="before")
    @classmethod
    def _shorthand(cls, fields: Any) -> Any:
        # `name: Name` is short for `name: {from: Name}`.
        if isinstance(fields, dict):
            return {k: {"from": v} if isinstance(v, str) else v for k, v in fields.items()}
        return fields

    @field_validator("constants", "fields")
    @classmethod
    def _canonical_fields(cls, names: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        # Checked per section (not after the whole model) so this problem is reported even when
        # another key of the file is wrong too.
        model = CANONICAL_MODELS.get(info.data.get("canonical", ""))
        unknown = [name for name in names if model is not None and name not in model.model_fields]
        if unknown:
            raise ValueError(f"{info.data['canonical']} has no field(s) {unknown}")
        return names

    @model_validator(mode="after")
    def _consistent(self) -> MappingSpec:
        known = hooks_for(self.source)
        unknown = [hook for hook in self.hooks if hook not in known]
        if unknown:
            raise ValueError(f"unknown hook(s) {unknown} for {self.source}; known: {sorted(known)}")
        if self.lines is not None and "lines" not in CANONICAL_MODELS[self.canonical].model_fields:
            raise ValueError(f"{self.canonical} has no lines")
        twice = sorted(set(self.constants) & set(self.fields))
        if twice:
            raise ValueError(f"{twice} are both constants and fields")
        return self

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version}"

    def source_paths(self) -> list[str]:
        """Every path this mapping reads (rules, then hooks), without repeats."""
        known = hooks_for(self.source)
        paths = [rule.source for rule in self.fields.values()]
        for hook in self.hooks:
            paths += known[hook].reads
        return list(dict.fromkeys(paths))

    def properties(self) -> list[str]:
        """The names under ``properties.`` this mapping reads (HubSpot records nest values
        there): what to request from the API, and nothing else."""
        return [p.split(".", 1)[1] for p in self.source_paths() if p.startswith("properties.")]
