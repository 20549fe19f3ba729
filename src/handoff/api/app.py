"""The hub's HTTP face: webhooks in (``handoff.ingress``), health and metrics out. Routes call the
same services as the CLI (``handoff.services``) and never talk to other systems themselves."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff import __version__
from handoff.api.client_limits import PerClientRequests
from handoff.api.state_metrics import register_state_collector
from handoff.config import ConfigError, ConfigProblem, Settings
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import startable_flows
from handoff.ingress import table
from handoff.ingress.bodies import install
from handoff.ingress.committer import hub_committer
from handoff.observability.logging import bound_context, get_logger
from handoff.observability.metrics import exposition
from handoff.store import migrate

log = get_logger("handoff.api")


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
        return PlainTextResponse(exposition(), media_type=CONTENT_TYPE_LATEST)

    return router


class Correlate:
    """ASGI middleware: each request's correlation id (its ``X-Correlation-Id``, else a new
    one) bound to its log lines and sent back in the answer's ``X-Correlation-Id``. Plain ASGI,
    not ``@app.middleware``: that runs every request in a task group of its own, a large part
    of a webhook's cost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # New ids: this process's random prefix and a counter (no syscall per request).
        self._prefix = os.urandom(4).hex()
        self._count = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-correlation-id"), b"")
        correlation_id = given.decode("latin-1") or f"{self._prefix}{next(self._count):08x}"
        header = (b"x-correlation-id", correlation_id.encode("latin-1"))

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        with bound_context(correlation_id=correlation_id, path=scope["path"]):
            await self.app(scope, receive, answer)


def _check_allowed_flows(settings: Settings) -> None:
    """Refuse to serve when a source is allowed a flow no source may start by name (settings
    built in code skip the check `handoff config check` makes of a file)."""
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
    # Concurrent requests' events are committed together (handoff.ingress.committer).
    committer = hub_committer(hub)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            committer.close()

    app = FastAPI(title="Handoff", version=__version__, lifespan=lifespan)
    app.state.committer = committer
    register_state_collector(hub)

    if hub.settings.api.forwarded_allow_ips:
        # Behind a trusted proxy the client is the forwarded one: cap its requests in flight
        # here (the server caps each socket peer's connections, proxies excepted).
        app.add_middleware(PerClientRequests, cap=hub.settings.api.max_connections_per_client)
    install(
        app,
        body_read_timeout=hub.settings.api.body_read_timeout,
        system_names=frozenset(hub.settings.systems),
        route_sources=dict(table.ROUTE_SOURCES),
    )
    # Outermost: every answer, refusals included, carries its correlation id.
    app.add_middleware(Correlate)
    app.include_router(health_router(hub))
    for router in table.routers(hub, committer):
        app.include_router(router)
    return app
