"""``POST /webhooks/time``: time entries and expenses pushed by a time-tracking / PSA system.

Authentication: ``X-Handoff-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed by
the ``webhook_secret`` of the system named ``timetracker`` in handoff.yaml (kind ``http``).
Body: a JSON list of items, each with ``kind`` "time" or "expense" and the canonical fields of
``TimeEntry`` / ``Expense``. All or nothing: one bad item -> 422 with every item's errors and
nothing stored; otherwise every item becomes one inbox event (202).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from handoff.api.app import SIGNATURE_HEADER, problem, sign
from handoff.api.bodies import (
    BodyRefused,
    off_loop,
    parse_json_off_loop,
    read_body,
    signatures_match,
)
from handoff.engine.runtime import Hub
from handoff.timesheets.intake import submit_records
from handoff.timesheets.records import TIMETRACKER_SYSTEM, event_id, parse_items

MAX_ITEMS = 5000


def timetracker_secret(hub: Hub) -> Callable[[], str | None]:
    def provide() -> str | None:
        system = hub.settings.systems.get(TIMETRACKER_SYSTEM)
        return system.webhook_secret.reveal() if system and system.webhook_secret else None

    return provide


def time_webhook_router(hub: Hub, secret: Callable[[], str | None] | None = None) -> APIRouter:
    """``secret`` gives the shared secret (default: the ``timetracker`` system's webhook_secret;
    None: not configured -> 404)."""
    import handoff.flows.time_entries  # noqa: F401  (registers the flow the events start)

    router = APIRouter()
    source = TIMETRACKER_SYSTEM
    provide = secret or timetracker_secret(hub)

    @router.post("/webhooks/time")
    async def receive(request: Request) -> Response:
        key = provide()
        if not key:
            return problem(404, "not_configured",
                           f"no system {source!r} with a webhook_secret in handoff.yaml",
                           source=source, reason="unknown_source")
        try:
            body = await read_body(request)
            given = request.headers.get(SIGNATURE_HEADER, "")
            # A big body's HMAC and JSON parse run in a thread: the event loop stays free.
            if not given or not signatures_match(
                given, await off_loop(len(body), sign, key, body)
            ):
                return problem(401, "invalid_signature",
                               f"{SIGNATURE_HEADER} is missing or does not match HMAC-SHA256 "
                               "of the body", source=source, reason="signature")
            items: Any = await parse_json_off_loop(body)
        except BodyRefused as refused:
            return problem(refused.status, refused.reason, refused.detail, source=source,
                           reason=refused.reason)
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            return problem(422, "invalid_body",
                           f"the body must be a JSON list of 1 to {MAX_ITEMS} items",
                           source=source, reason="invalid_event")
        parsed = await off_loop(
            len(body), lambda: parse_items(items, source=source, limits=hub.settings.limits)
        )
        if not parsed.ok:
            from handoff.observability.metrics import WEBHOOK_REJECTED

            WEBHOOK_REJECTED.labels(source, "invalid_event").inc()
            return JSONResponse(
                {
                    "error": "invalid_items",
                    "detail": f"{len({e.row for e in parsed.errors})} of {len(items)} item(s) "
                    "are invalid; nothing was stored",
                    "items": [e.model_dump() for e in parsed.errors],
                },
                status_code=422,
            )
        from starlette.concurrency import run_in_threadpool

        results = await run_in_threadpool(submit_records, hub, parsed.records)
        return JSONResponse(
            {
                "accepted": [
                    {"id": event_id(rec), "inbox_id": r.inbox_id, "duplicate": r.duplicate}
                    for rec, r in zip(parsed.records, results, strict=True)
                ]
            },
            status_code=202,
        )

    return router
