"""DocuSign Connect: a completed envelope lifts the deal's `signed_sow` gate.

The exact Connect payload is unconfirmed, so everything read from it is in ``ENVELOPE_SHAPE``:
one place to change when a firm's Connect configuration differs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from handoff.api.bodies import read_limited_body
from handoff.observability.webhook_metrics import WEBHOOK_EVENTS, WEBHOOK_REJECTED

SOURCE = "docusign"
SIGNATURE_HEADER = "X-DocuSign-Signature-1"
ENVELOPE_SHAPE = {
    "event": "event",
    "completed_event": "envelope-completed",
    "envelope_id": "data.envelopeId",
    "status": "data.envelopeSummary.status",
    "custom_fields": "data.envelopeSummary.customFields.textCustomFields",
    # The statement-of-work template carries the deal as "<crm>:<deal id>", e.g. "hubspot:1234".
    "deal_field": "handoff_deal",
}


def sign(connect_key: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(connect_key.encode(), body, hashlib.sha256).digest()).decode()


def _path(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def completed_deal(envelope: dict[str, Any]) -> tuple[str, str, str] | None:
    """(crm, deal id, envelope id) for a completed envelope carrying a deal, else None."""
    if _path(envelope, ENVELOPE_SHAPE["event"]) != ENVELOPE_SHAPE["completed_event"]:
        return None
    if _path(envelope, ENVELOPE_SHAPE["status"]) != "completed":
        return None
    fields = _path(envelope, ENVELOPE_SHAPE["custom_fields"]) or []
    reference = next(
        (
            f.get("value")
            for f in fields
            if isinstance(f, dict) and f.get("name") == ENVELOPE_SHAPE["deal_field"]
        ),
        None,
    )
    if not isinstance(reference, str) or ":" not in reference:
        raise ValueError(
            f"envelope has no custom field {ENVELOPE_SHAPE['deal_field']!r} of the form "
            "'<crm>:<deal id>'; add it to the statement-of-work template"
        )
    crm, deal_id = reference.split(":", 1)
    return crm, deal_id, str(_path(envelope, ENVELOPE_SHAPE["envelope_id"]) or "")


def docusign_router(
    connect_key: Callable[[], str | None], on_signed: Callable[[str, str, str], None]
) -> APIRouter:
    """`POST /webhooks/docusign`; ``on_signed(crm, deal_id, envelope_id)`` lifts the gate."""
    router = APIRouter()

    def reject(reason: str, detail: str, status: int) -> JSONResponse:
        WEBHOOK_REJECTED.labels(source=SOURCE, reason=reason).inc()
        return JSONResponse({"error": reason, "detail": detail}, status_code=status)

    @router.post("/webhooks/docusign")
    async def receive(request: Request) -> JSONResponse:
        body = await read_limited_body(request)
        if body is None:
            return reject("too_large", "the body exceeds 10 MB", 413)
        key = connect_key()
        given = request.headers.get(SIGNATURE_HEADER, "")
        if not key or not given or not hmac.compare_digest(given, sign(key, body)):
            return reject("signature", f"{SIGNATURE_HEADER} missing or wrong", 401)
        try:
            envelope = json.loads(body)
            signed = completed_deal(envelope) if isinstance(envelope, dict) else None
        except json.JSONDecodeError as error:
            return reject("malformed_json", str(error), 400)
        except ValueError as error:
            return reject("missing_deal_reference", str(error), 422)
        if signed is None:
            return JSONResponse({"ignored": "not a completed envelope"}, status_code=200)
        from starlette.concurrency import run_in_threadpool

        await run_in_threadpool(on_signed, *signed)
        WEBHOOK_EVENTS.labels(source=SOURCE).inc()
        return JSONResponse({"accepted": signed[2]}, status_code=200)

    return router
