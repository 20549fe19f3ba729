"""The hub's HTTP face: webhooks in, health and metrics out. Routes call the same services as the
CLI (``handoff.services``) and never talk to other systems themselves."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field, ValidationError

from handoff import __version__
from handoff.api.bodies import (
    MAX_BODY_BYTES,
    install,
    off_loop,
    parse_json_off_loop,
    read_limited_body,
    signatures_match,
)
from handoff.api.client_limits import PerClientRequests
from handoff.api.state_metrics import register_state_collector
from handoff.canonical.limits import edge_context
from handoff.config import ConfigError, ConfigProblem, LimitsConfig, Settings
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.observability.logging import bound_context, get_logger
from handoff.observability.metrics import WEBHOOK_REJECTED
from handoff.observability.webhook_metrics import source_label
from handoff.store import migrate
from handoff.store.inbox import AcceptResult, IncomingEvent
from handoff.timesheets.records import FLOW as TIME_ENTRY_FLOW
from handoff.timesheets.records import TIMETRACKER_SYSTEM

SIGNATURE_HEADER = "X-Handoff-Signature"
log = get_logger("handoff.api")


def problem(status: int, error: str, detail: str, *, source: str, reason: str) -> JSONResponse:
    WEBHOOK_REJECTED.labels(source, reason).inc()
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


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


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def generic_webhook_router(hub: Hub) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/events/{source}")
    async def receive(source: str, request: Request) -> Response:
        system = hub.settings.systems.get(source)
        if system is None or system.webhook_secret is None:
            # Counted under a configured name or "unknown": a caller never adds a label value.
            return problem(
                404,
                "unknown_source",
                f"no system {source[:64]!r} with a webhook_secret in handoff.yaml",
                source=source_label(source, hub.settings.systems),
                reason="unknown_source",
            )
        body = await read_limited_body(request)
        if body is None:
            return problem(
                413,
                "body_too_large",
                f"the body exceeds {MAX_BODY_BYTES} bytes",
                source=source,
                reason="too_large",
            )
        given = request.headers.get(SIGNATURE_HEADER, "")
        expected = await off_loop(len(body), sign, system.webhook_secret.reveal(), body)
        if not given or not signatures_match(given, expected):
            return problem(
                401,
                "invalid_signature",
                f"{SIGNATURE_HEADER} is missing or does not match HMAC-SHA256 of the body",
                source=source,
                reason="signature",
            )
        try:
            batch = GenericBatch.model_validate(await parse_json_off_loop(body))
        except json.JSONDecodeError as error:
            return problem(
                400, "malformed_json", str(error), source=source, reason="malformed_json"
            )
        except ValidationError as error:
            return problem(
                422,
                "invalid_event",
                "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()[:20]
                ),
                source=source,
                reason="invalid_event",
            )
        unknown = sorted(
            {e.flow for e in batch.events if e.flow and e.flow not in flows.registered()}
        )
        if unknown:
            return problem(
                422,
                "unknown_flow",
                f"no flow named {', '.join(unknown)}",
                source=source,
                reason="unknown_flow",
            )
        refused = _refuse_unallowed_flows(source, system.allowed_flows, batch)
        if refused is not None:
            return refused
        inputs = _validated_inputs(source, batch, hub.settings.limits)
        if isinstance(inputs, JSONResponse):
            return inputs
        results = await _in_thread(_store_batch, hub, source, batch, inputs)
        return JSONResponse(
            {
                "accepted": [
                    {"id": e.id, "inbox_id": r.inbox_id, "duplicate": r.duplicate}
                    for e, r in zip(batch.events, results, strict=True)
                ]
            },
            status_code=202,
        )

    return router


def flow_not_allowed(source: str, flow: str, why: str) -> JSONResponse:
    """The 403 (counted) refusing ``source`` the start of ``flow``, saying why."""
    return problem(
        403,
        "flow_not_allowed",
        f"source {source!r} may not start flow {flow!r}: {why}; nothing was stored",
        source=source,
        reason="flow_not_allowed",
    )


def _refuse_unallowed_flows(
    source: str, allowed: Sequence[str], batch: GenericBatch
) -> JSONResponse | None:
    """403 unless ``source`` may start every flow the batch names (deny by default): the flow is
    one a source may start by name (it declares an input model) and `allowed_flows` lists it."""
    from handoff.flows.routing import STARTED_ONLY_BY, input_model

    for name in sorted({e.flow for e in batch.events if e.flow}):
        if input_model(name) is None:
            origin = STARTED_ONLY_BY.get(name, "its own trigger")
            why = f"no source may start it by name; it starts only from {origin}"
        elif name not in allowed:
            why = f"systems.{source}.allowed_flows in handoff.yaml does not list it"
        else:
            continue
        return flow_not_allowed(source, name, why)
    if len({e.flow for e in batch.events}) > 1:
        return problem(
            422,
            "mixed_flows",
            "a batch starts one flow (or none): send the events of each flow in their own batch",
            source=source,
            reason="invalid_event",
        )
    return None


def _validated_inputs(
    source: str, batch: GenericBatch, limits: LimitsConfig
) -> list[Any] | JSONResponse:
    """Each event's payload validated against its flow's input model and the configured business
    limits (None for an event that starts no flow), or the 4xx naming every invalid field. A
    payload naming another system as its source is refused: a source speaks only for itself."""
    from handoff.flows.routing import input_model

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
            return problem(
                403,
                "source_mismatch",
                f"events[{index}].payload.source names another system than {source!r}; "
                f"source {source!r} may not start flow {event.flow!r} for it",
                source=source,
                reason="source_mismatch",
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
        return problem(
            422,
            "invalid_payload",
            "; ".join(problems[:20]) + "; nothing was stored",
            source=source,
            reason="invalid_payload",
        )
    return inputs


def _store_batch(
    hub: Hub, source: str, batch: GenericBatch, inputs: list[Any]
) -> list[AcceptResult]:
    """Store the batch (one flow or none, validated) and start its flows."""
    from handoff.flows.routing import TIME_ENTRY_FLOW, delivery_record

    flow = batch.events[0].flow
    if flow == TIME_ENTRY_FLOW:
        # Time entries enter as /webhooks/time's do: one intake, batching and entry identity.
        from handoff.timesheets.intake import submit_records

        return submit_records(hub, [delivery_record(i) for i in inputs], source=source)
    events = [
        IncomingEvent(
            source_event_id=e.id,
            entity_key=e.entity,
            kind=e.kind,
            flow=e.flow,
            payload=e.payload if validated is None else validated.model_dump(mode="json"),
            occurred_at=e.occurred_at,  # type: ignore[arg-type]
        )
        for e, validated in zip(batch.events, inputs, strict=True)
    ]
    return flows.submit(hub, source, events)


async def _in_thread(fn: Any, *args: Any) -> Any:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def health_router(hub: Hub) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    def readyz() -> Response:
        checks: dict[str, str] = {}
        try:
            current = migrate.current_revision(hub.store)
            head = migrate.head_revision()
            checks["store"] = "ok"
            checks["migrations"] = (
                "ok"
                if current == head
                else f"at {current}, expected {head}: run handoff db upgrade"
            )
        except Exception as error:  # a readiness probe reports, it does not crash
            checks["store"] = f"unreachable: {type(error).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics")
    def metrics() -> Response:
        from handoff.observability.metrics import exposition

        return PlainTextResponse(exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


class FlowInbox:
    """The connectors' inbox: store events durably, then start the flow of each new one."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        from handoff.flows.routing import route

        return flows.submit(self.hub, source, route(source, events))


def webhook_secret(hub: Hub, kind: str) -> Callable[[], str | None]:
    def provide() -> str | None:
        for system in hub.settings.systems.values():
            if system.kind == kind and system.webhook_secret is not None:
                return system.webhook_secret.reveal()
        return None

    return provide


def _deal_is_known(hub: Hub, key: str) -> bool:
    """Whether the hub has seen the deal: an event of it from its CRM, a gate, or a binding."""
    from sqlalchemy import select

    from handoff.store.models import InboxEvent

    if hub.gates.for_deal(key) or hub.bindings.for_canonical("deal", key):
        return True
    with hub.store.session() as session:
        seen = session.scalar(
            select(InboxEvent.id)
            .where(InboxEvent.entity_key == key, InboxEvent.source != "docusign")
            .limit(1)
        )
    return seen is not None


def _hold_envelope(hub: Hub, key: str, envelope_id: str) -> None:
    """A completed envelope for a deal the hub does not know: kept in the inbox for audit (it
    starts nothing) and an exception for a person; no gate is lifted."""
    from handoff.canonical.errors import BusinessRuleError

    hub.inbox.accept_many(
        "docusign",
        [
            IncomingEvent(
                source_event_id=f"envelope-completed:{envelope_id}",
                entity_key=key,
                kind="envelope-completed",
                payload={"envelope_id": envelope_id, "deal": key},
            )
        ],
    )
    hub.exceptions.raise_for(
        BusinessRuleError(
            f"envelope {envelope_id} was completed for {key}, a deal the hub does not know; "
            "its signed_sow gate was not lifted",
            rule="docusign.unknown_deal",
            value=key,
            suggested_fix="check the envelope's handoff_deal field in DocuSign. If the deal is "
            "real but has not reached the hub yet, republish the envelope from DocuSign Connect "
            "once it has; if the reference is wrong, correct the template and ignore this "
            "exception",
            context={"envelope_id": envelope_id, "deal": key},
        ),
        flow="docusign",
        record=key,
    )


def crm_webhook_routers(hub: Hub) -> list[APIRouter]:
    """HubSpot, Salesforce CDC, Stripe and DocuSign endpoints, for the systems of those kinds
    in handoff.yaml."""
    from handoff.connectors.hubspot.webhooks import hubspot_webhook_router
    from handoff.connectors.salesforce.cdc import salesforce_cdc_router

    kinds = {system.kind for system in hub.settings.systems.values()}
    inbox = FlowInbox(hub)
    routers = []
    if "hubspot" in kinds:
        routers.append(hubspot_webhook_router(webhook_secret(hub, "hubspot"), inbox))
    if "salesforce" in kinds:
        routers.append(salesforce_cdc_router(webhook_secret(hub, "salesforce"), inbox))
    if "stripe" in kinds:
        from handoff.connectors.stripe import stripe_webhook_router

        routers.append(stripe_webhook_router(webhook_secret(hub, "stripe"), inbox))
    if "docusign" in kinds:
        from handoff import services
        from handoff.connectors.docusign.webhooks import docusign_router

        def signed(crm: str, deal_id: str, envelope_id: str) -> bool:
            key = services.deal_key(crm, deal_id)
            if not _deal_is_known(hub, key):
                _hold_envelope(hub, key, envelope_id)
                return False
            services.satisfy_gate(
                hub, key, "signed_sow", by="docusign", evidence={"envelope_id": envelope_id}
            )
            return True

        crms = {
            name: system.kind
            for name, system in hub.settings.systems.items()
            if system.kind in ("hubspot", "salesforce")
        }
        routers.append(docusign_router(webhook_secret(hub, "docusign"), signed, crms))
    tracker = hub.settings.systems.get(TIMETRACKER_SYSTEM)
    if tracker is not None:
        from handoff.timesheets.webhook import time_webhook_router

        # POST /webhooks/time, signed by the `timetracker` system's webhook_secret, starts
        # time_entry: only when that system's allowed_flows lists it (deny by default).
        if TIME_ENTRY_FLOW in tracker.allowed_flows:
            routers.append(time_webhook_router(hub))
        else:
            routers.append(closed_time_route())
    return routers


def closed_time_route() -> APIRouter:
    """``POST /webhooks/time`` for a time tracker not allowed to start time_entry: every request
    is a counted 403 naming the source and the flow, refused before its body is read (the
    decision is the configuration's, whatever the request holds)."""
    router = APIRouter()

    @router.post("/webhooks/time")
    async def refuse() -> Response:
        return flow_not_allowed(
            TIMETRACKER_SYSTEM,
            TIME_ENTRY_FLOW,
            f"systems.{TIMETRACKER_SYSTEM}.allowed_flows in handoff.yaml does not list it "
            f"(add {TIME_ENTRY_FLOW} there to accept this route's time entries and expenses)",
        )

    return router


def _check_allowed_flows(settings: Settings) -> None:
    """Refuse to serve when a source is allowed a flow no source may start by name (settings
    built in code skip the check `handoff config check` makes of a file)."""
    from handoff.flows.routing import startable_flows

    startable = startable_flows()
    problems = [
        ConfigProblem(
            f"systems.{name}.allowed_flows[{index}]",
            f"no flow '{flow}' that a source may start by name "
            f"({', '.join(sorted(startable)) or 'none'})",
        )
        for name, system in settings.systems.items()
        for index, flow in enumerate(system.allowed_flows)
        if flow not in startable
    ]
    if problems:
        raise ConfigError(problems, settings.source)


def create_app(hub: Hub) -> FastAPI:
    # The API routes events to flows by name, so it must know them even where no worker runs.
    flows.load_flow_modules(hub.settings)
    _check_allowed_flows(hub.settings)
    app = FastAPI(title="Handoff", version=__version__)
    register_state_collector(hub)

    @app.middleware("http")
    async def correlate(request: Request, call_next: Any) -> Response:
        correlation_id = (
            request.headers.get("X-Correlation-Id")
            or hashlib.sha1(f"{time.time_ns()}{id(request)}".encode()).hexdigest()[:16]
        )
        with bound_context(correlation_id=correlation_id, path=request.url.path):
            response: Response = await call_next(request)
        response.headers["X-Correlation-Id"] = correlation_id
        return response

    if hub.settings.api.forwarded_allow_ips:
        # Behind a trusted proxy the client is the forwarded one: cap its requests in flight
        # here (the server caps each socket peer's connections, proxies excepted).
        app.add_middleware(PerClientRequests, cap=hub.settings.api.max_connections_per_client)
    install(
        app,
        body_read_timeout=hub.settings.api.body_read_timeout,
        system_names=frozenset(hub.settings.systems),
    )
    app.include_router(health_router(hub))
    app.include_router(generic_webhook_router(hub))
    for router in crm_webhook_routers(hub):
        app.include_router(router)
    return app
