"""``POST /webhooks/time``: time entries and expenses pushed by a time-tracking / PSA system
(its row: ``handoff.ingress.table``).

Authentication: ``X-Handoff-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw body keyed by
the ``webhook_secret`` of the system named ``timetracker`` in handoff.yaml (kind ``http``).
Body: a JSON list of items, each with ``kind`` "time" or "expense" and the canonical fields of
``TimeEntry`` / ``Expense``. All or nothing: one bad item -> 422 with every item's errors and
nothing stored; otherwise every item becomes one inbox event (202).
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from handoff.engine.runtime import Hub
from handoff.ingress.bodies import BodyRefused, off_loop, parse_json_off_loop
from handoff.ingress.router import Handler, Received, Refused
from handoff.observability.webhook_metrics import WEBHOOK_REJECTED
from handoff.timesheets.intake import submit_records
from handoff.timesheets.records import event_id, parse_items

MAX_ITEMS = 5000


def time_handler(hub: Hub) -> Handler:
    async def handle(received: Received) -> Response:
        source, body = received.source, received.body
        try:
            # A big body's JSON parse runs in a thread: the event loop stays free.
            items: Any = await parse_json_off_loop(body)
        except BodyRefused as refused:
            raise Refused(refused.status, refused.reason, refused.detail) from None
        if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
            raise Refused(
                422,
                "invalid_event",
                f"the body must be a JSON list of 1 to {MAX_ITEMS} items",
                error="invalid_body",
            )
        parsed = await off_loop(
            len(body), lambda: parse_items(items, source=source, limits=hub.settings.limits)
        )
        if not parsed.ok:
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

    return handle
