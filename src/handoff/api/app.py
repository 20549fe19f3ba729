"""The hub's HTTP face: webhooks in, health and metrics out. Routes call the same services as the
CLI (``handoff.services``) and never talk to other systems themselves."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
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
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.observability.logging import bound_context, get_logger
from handoff.observability.metrics import WEBHOOK_REJECTED, register_state_collector
from handoff.observability.webhook_metrics import source_label
from handoff.store import migrate
from handoff.store.inbox import AcceptResult, IncomingEvent

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
        events = [
            IncomingEvent(
                source_event_id=e.id,
                entity_key=e.entity,
                kind=e.kind,
                flow=e.flow,
                payload=e.payload,
                occurred_at=e.occurred_at,  # type: ignore[arg-type]
            )
            for e in batch.events
        ]
        results = await _in_thread(flows.submit, hub, source, events)
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
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

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

        def signed(crm: str, deal_id: str, envelope_id: str) -> None:
            services.satisfy_gate(
                hub,
                services.deal_key(crm, deal_id),
                "signed_sow",
                by="docusign",
                evidence={"envelope_id": envelope_id},
            )

        routers.append(docusign_router(webhook_secret(hub, "docusign"), signed))
    if "timetracker" in hub.settings.systems:
        from handoff.timesheets.webhook import time_webhook_router

        # POST /webhooks/time, signed by the `timetracker` system's webhook_secret.
        routers.append(time_webhook_router(hub))
    return routers


def create_app(hub: Hub) -> FastAPI:
    # The API routes events to flows by name, so it must know them even where no worker runs.
    flows.load_flow_modules(hub.settings)
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
