"""``POST /webhooks/events/{source}``: events from any configured system that signs its body
with HMAC-SHA256 (time tracking, PSA...), ``X-Handoff-Signature: sha256=<hex>`` keyed by that
system's ``webhook_secret`` (its row: ``handoff.ingress.table``).

A batch starts one flow (or none), which the source may start by name (the flow declares an input
model) and its ``allowed_flows`` lists (deny by default); every payload is validated against the
flow's input model and the business limits before anything is stored; a payload naming another
system as its source is refused (a source speaks only for itself).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from handoff.canonical.limits import edge_context
from handoff.config import LimitsConfig
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import STARTED_ONLY_BY, delivery_record, input_model
from handoff.ingress.bodies import BodyRefused, parse_json_off_loop
from handoff.ingress.committer import Committer
from handoff.ingress.router import Handler, Received, Refused
from handoff.ingress.schemes import hmac_sha256_hex
from handoff.store.inbox import IncomingEvent
from handoff.timesheets.intake import submit_records
from handoff.timesheets.records import FLOW as TIME_ENTRY_FLOW

SIGNATURE_HEADER = "X-Handoff-Signature"
sign = hmac_sha256_hex  # "sha256=" + hex HMAC-SHA256 of the body


class GenericEvent(BaseModel):
    """An event from any system that signs its body with HMAC-SHA256 (time tracking, PSA...)."""

    id: str = Field(min_length=1, max_length=255)
    entity: str = Field(min_length=1, max_length=255)
    kind: str = Field(min_length=1, max_length=128)
    flow: str | None = None
    occurred_at: datetime | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class GenericBatch(BaseModel):
    events: list[GenericEvent] = Field(min_length=1, max_length=1000)


def flow_not_allowed(source: str, flow: str, why: str) -> Refused:
    """The 403 (counted) refusing ``source`` the start of ``flow``, saying why."""
    return Refused(
        403,
        "flow_not_allowed",
        f"source {source!r} may not start flow {flow!r}: {why}; nothing was stored",
    )


def events_handler(hub: Hub, committer: Committer | None = None) -> Handler:
    """The generic route's handler; ``committer``: where events are stored with their runs
    (default: a ``flows.submit`` per request, in a worker thread)."""

    async def handle(received: Received) -> Response:
        source = received.source
        system = hub.settings.systems[source]
        try:
            batch = GenericBatch.model_validate(await parse_json_off_loop(received.body))
        except BodyRefused as refused:
            raise Refused(refused.status, refused.reason, refused.detail) from None
        except json.JSONDecodeError as error:
            raise Refused(400, "malformed_json", str(error)) from None
        except ValidationError as error:
            raise Refused(
                422,
                "invalid_event",
                "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:20]
                ),
            ) from None
        unknown = sorted(
            {e.flow for e in batch.events if e.flow and e.flow not in flows.registered()}
        )
        if unknown:
            raise Refused(422, "unknown_flow", f"no flow named {', '.join(unknown)}")
        _refuse_unallowed_flows(source, system.allowed_flows, batch)
        inputs = _validated_inputs(source, batch, hub.settings.limits)
        if batch.events[0].flow == TIME_ENTRY_FLOW:
            # Time entries enter as /webhooks/time's do: one intake, batching and entry identity.
            records = [delivery_record(i) for i in inputs]
            results = await run_in_threadpool(submit_records, hub, records, source=source)
        elif committer is not None:
            results = await committer.submit(source, _incoming(batch, inputs))
        else:
            results = await run_in_threadpool(flows.submit, hub, source, _incoming(batch, inputs))
        return JSONResponse(
            {
                "accepted": [
                    {"id": e.id, "inbox_id": r.inbox_id, "duplicate": r.duplicate}
                    for e, r in zip(batch.events, results, strict=True)
                ]
            },
            status_code=202,
        )

    return handle


def _refuse_unallowed_flows(source: str, allowed: Sequence[str], batch: GenericBatch) -> None:
    """403 unless ``source`` may start every flow the batch names (deny by default): the flow is
    one a source may start by name (it declares an input model) and `allowed_flows` lists it."""
    for name in sorted({e.flow for e in batch.events if e.flow}):
        if input_model(name) is None:
            origin = STARTED_ONLY_BY.get(name, "its own trigger")
            why = f"no source may start it by name; it starts only from {origin}"
        elif name not in allowed:
            why = f"systems.{source}.allowed_flows in handoff.yaml does not list it"
        else:
            continue
        raise flow_not_allowed(source, name, why)
    if len({e.flow for e in batch.events}) > 1:
        raise Refused(
            422,
            "invalid_event",
            "a batch starts one flow (or none): send the events of each flow in their own batch",
            error="mixed_flows",
        )


def _validated_inputs(source: str, batch: GenericBatch, limits: LimitsConfig) -> list[Any]:
    """Each event's payload validated against its flow's input model and the configured business
    limits (None for an event that starts no flow), or the 4xx naming every invalid field. A
    payload naming another system as its source is refused: a source speaks only for itself."""
    context = edge_context(limits)
    inputs: list[Any] = []
    problems: list[str] = []
    for index, event in enumerate(batch.events):
        model = input_model(event.flow) if event.flow else None
        if model is None:
            inputs.append(None)
            continue
        claimed = event.payload.get("source", source)
        if claimed != source:
            raise Refused(
                403,
                "source_mismatch",
                f"events[{index}].payload.source names another system than {source!r}; "
                f"source {source!r} may not start flow {event.flow!r} for it",
            )
        try:
            inputs.append(
                model.validate_python({**event.payload, "source": source}, context=context)
            )
        except ValidationError as error:
            problems.extend(
                f"events[{index}].payload.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in error.errors(include_input=False)
            )
    if problems:
        raise Refused(422, "invalid_payload", "; ".join(problems[:20]) + "; nothing was stored")
    return inputs


def _incoming(batch: GenericBatch, inputs: list[Any]) -> list[IncomingEvent]:
    """The batch's events as the inbox stores them (a validated payload in its JSON form)."""
    return [
        IncomingEvent(
            source_event_id=e.id,
            entity_key=e.entity,
            kind=e.kind,
            flow=e.flow,
            payload=e.payload if validated is None else validated.model_dump(mode="json"),
            occurred_at=e.occurred_at,
        )
        for e, validated in zip(batch.events, inputs, strict=True)
    ]
