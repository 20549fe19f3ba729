"""Which flow an incoming event starts, and under which entity it is ordered. Declarative: a
firm reads this table to know what a webhook or poll will do."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from handoff.store.inbox import IncomingEvent


@dataclass(frozen=True)
class Route:
    source: str
    kind_prefix: str  # matched against IncomingEvent.kind
    flow: str
    entity: str  # the canonical entity the events are ordered by


ROUTES: tuple[Route, ...] = (
    Route("hubspot", "deal.", "deal_to_delivery", "deal"),
    Route("salesforce", "Opportunity.", "deal_to_delivery", "deal"),
    Route("poll", "deal.changed", "deal_to_delivery", "deal"),
)


def route(source: str, events: Sequence[IncomingEvent]) -> list[IncomingEvent]:
    """Events with their flow and entity key set; events no route names are stored unrouted."""
    routed = []
    for event in events:
        match = next(
            (r for r in ROUTES if r.source == source and event.kind.startswith(r.kind_prefix)),
            None,
        )
        if match is None or event.flow is not None:
            routed.append(event)
            continue
        record_id = event.entity_key.rsplit(":", 1)[-1]
        crm = event.payload.get("crm", source) if source == "poll" else source
        routed.append(
            event.model_copy(
                update={"flow": match.flow, "entity_key": f"{crm}:{match.entity}:{record_id}"}
            )
        )
    return routed
