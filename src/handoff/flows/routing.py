"""Which flow an incoming event starts, and under which entity it is ordered. Declarative: a
firm reads this table to know what a webhook or poll will do."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from handoff.canonical.delivery import Expense, TimeEntry
from handoff.store.inbox import IncomingEvent
from handoff.timesheets.records import FLOW as TIME_ENTRY_FLOW
from handoff.timesheets.records import DeliveryRecord


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


def route(
    source: str, events: Sequence[IncomingEvent], *, kind: str | None = None
) -> list[IncomingEvent]:
    """Events with their flow and entity key set; events no route names are stored unrouted.
    ``source`` is the configured system's name (``hubspot_eu``), the first part of the entity
    key; ``kind`` its kind (``hubspot``), which the table's rows name (default: ``source``)."""
    routed = []
    row_source = kind or source
    for event in events:
        match = next(
            (r for r in ROUTES if r.source == row_source and event.kind.startswith(r.kind_prefix)),
            None,
        )
        if match is None or event.flow is not None:
            routed.append(event)
            continue
        record_id = event.entity_key.rsplit(":", 1)[-1]
        crm = event.payload.get("crm", source) if row_source == "poll" else source
        routed.append(
            event.model_copy(
                update={"flow": match.flow, "entity_key": f"{crm}:{match.entity}:{record_id}"}
            )
        )
    return routed


# ── Flows a source may start by name ───────────────────────────────────────────────────────
# `POST /webhooks/events/<source>` names the flow of each event. Only the flows below can be
# started that way, each by the sources whose `systems.<name>.allowed_flows` lists it, and each
# event's payload must validate against the flow's input model before anything is stored. Every
# other flow refuses: `stripe_payment` starts only from Stripe's own signed `/webhooks/stripe`,
# `billing_run` only from its schedule or `handoff billing run`, `deal_to_delivery` only from a
# CRM's webhook or poll, `invoice_status` only from the Odoo poller.


class TimeEntryInput(TimeEntry):
    """A time entry as a source posts it to start `time_entry` (what `/webhooks/time` takes)."""

    kind: Literal["time", "time_entry"]


class ExpenseInput(Expense):
    """An expense as a source posts it to start `time_entry`."""

    kind: Literal["expense"]


TimeEntryFlowInput = Annotated[TimeEntryInput | ExpenseInput, Field(discriminator="kind")]

SOURCE_FLOW_INPUTS: Mapping[str, TypeAdapter[Any]] = MappingProxyType(
    {TIME_ENTRY_FLOW: TypeAdapter(TimeEntryFlowInput)}
)


# Where the flows no source may start by name do start from, for the 403 that refuses them.
STARTED_ONLY_BY: Mapping[str, str] = MappingProxyType(
    {
        "stripe_payment": "Stripe's own signed webhook, POST /webhooks/stripe",
        "billing_run": "its schedule (flows.billing_run.trigger.cron) or `handoff billing run`",
        "deal_to_delivery": "a CRM's webhook or poll",
        "invoice_status": "the Odoo invoice poller",
    }
)


def startable_flows() -> frozenset[str]:
    """The flows a source may be allowed to start by name (`systems.<name>.allowed_flows`)."""
    return frozenset(SOURCE_FLOW_INPUTS)


def input_model(flow: str) -> TypeAdapter[Any] | None:
    """The payload model of a flow a source may start by name; None: no source may start it."""
    return SOURCE_FLOW_INPUTS.get(flow)


def delivery_record(item: TimeEntryInput | ExpenseInput) -> DeliveryRecord:
    """The canonical record a validated `time_entry` input carries."""
    values = item.model_dump(exclude={"kind"})
    return Expense(**values) if isinstance(item, ExpenseInput) else TimeEntry(**values)
