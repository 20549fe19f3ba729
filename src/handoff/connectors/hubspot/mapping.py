"""HubSpot's part of the shared mapping engine (handoff.mapping): its code hook and its mappers.

The mappings themselves are data (``handoff/mappings/hubspot_*.yaml``). What needs code is the
``pipeline_stage`` hook: won/closed/probability come from the account's pipeline definitions
(custom pipelines have account-specific stage ids), which the adapter reads from the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.hubspot.adapter import PipelineBook
from handoff.mapping import Mapper, MappingSpec, load_effective, register_hook

SOURCE = "hubspot"
DEFAULT_MAPPINGS = ("hubspot_company", "hubspot_contact", "hubspot_deal", "hubspot_line_item")


class MappingContext(BaseModel):
    """What HubSpot hooks consult: the account's pipelines (never hard-coded stage ids)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    pipelines: PipelineBook | None = None


def pipeline_stage(record: dict[str, Any], values: dict[str, Any], context: Any) -> None:
    """Stage label, probability, closed and won from the account's pipeline definition."""
    book = context.pipelines if isinstance(context, MappingContext) else None
    if book is None:
        raise BusinessRuleError(
            "Deal stages cannot be interpreted without the account's pipelines.",
            rule="pipelines_unavailable",
            suggested_fix="Read pipelines with HubSpotAdapter.pipelines() and pass them in the context.",
        )
    stage = book.stage(values.get("pipeline"), values.get("stage"))
    if stage is None:
        raise BusinessRuleError(
            f"Deal {values.get('external_id')} is in stage {values.get('stage')!r} of pipeline "
            f"{values.get('pipeline')!r}, which HubSpot's pipelines do not list.",
            rule="unknown_deal_stage",
            value=values.get("stage"),
            suggested_fix="Refresh pipelines (a stage may have been added) or fix the deal in HubSpot.",
        )
    values["stage_label"] = stage.label
    values["probability"] = stage.probability
    values["is_closed"] = stage.is_closed
    values["is_won"] = stage.is_won


register_hook(
    SOURCE, "pipeline_stage", pipeline_stage, reads=("properties.pipeline", "properties.dealstage")
)


def load_mappings(overrides: Mapping[str, Path] | None = None) -> dict[str, MappingSpec]:
    """The HubSpot mappings in effect: shipped defaults replaced by handoff.yaml's files."""
    loaded = load_effective({k: v for k, v in (overrides or {}).items() if k in DEFAULT_MAPPINGS})
    return {name: loaded[name].spec for name in DEFAULT_MAPPINGS}


class HubSpotMappers:
    """The four HubSpot mappers, ready to turn adapter records into canonical ones."""

    def __init__(self, specs: Mapping[str, MappingSpec] | None = None) -> None:
        self.specs = dict(specs or load_mappings())
        self.customer = Mapper(self.specs["hubspot_company"], self.specs)
        self.contact = Mapper(self.specs["hubspot_contact"], self.specs)
        self.deal = Mapper(self.specs["hubspot_deal"], self.specs)
        self.line_item = Mapper(self.specs["hubspot_line_item"], self.specs)
