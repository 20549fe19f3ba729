"""DocuSign Connect: a completed envelope lifts the deal's `signed_sow` gate.

The deal reference is checked before anything is stored: its CRM must be one configured in
handoff.yaml and its id must have that CRM's shape (HubSpot: digits; Salesforce: a 15 or 18
character record id), else 422. A well-formed reference to a deal the hub has never seen lifts
nothing: the hub keeps the envelope for audit and raises an exception for a person (202).

The exact Connect payload is unconfirmed, so everything read from it is in ``ENVELOPE_SHAPE``:
one place to change when a firm's Connect configuration differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from handoff.ingress.bodies import BodyRefused, parse_json
from handoff.ingress.router import Handler, Received, Refused
from handoff.ingress.schemes import hmac_sha256_base64
from handoff.observability.webhook_metrics import WEBHOOK_EVENTS

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


# The id shape of a deal per CRM kind: HubSpot object ids are integers, Salesforce record ids
# 15 (case-sensitive) or 18 (case-insensitive) alphanumeric characters.
DEAL_ID_SHAPES: Mapping[str, re.Pattern[str]] = {
    "hubspot": re.compile(r"[0-9]{1,20}"),
    "salesforce": re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?"),
}
ENVELOPE_ID_SHAPE = re.compile(r"[A-Za-z0-9-]{1,64}")  # DocuSign envelope ids are GUIDs
MAX_REFERENCE_CHARS = 128


class DealReferenceError(ValueError):
    """The envelope's deal reference is missing or malformed; ``reason`` is the metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


# DocuSign Connect's HMAC: base64 HMAC-SHA256 of the body, keyed by the Connect key.
sign = hmac_sha256_base64


def _path(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        document = document.get(part) if isinstance(document, dict) else None
    return document


def completed_deal(
    envelope: dict[str, Any], crms: Mapping[str, str]
) -> tuple[str, str, str] | None:
    """(crm, deal id, envelope id) for a completed envelope carrying a deal, else None.
    ``crms``: the configured CRM systems, name -> kind. Raises DealReferenceError."""
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
        raise DealReferenceError(
            "missing_deal_reference",
            f"envelope has no custom field {ENVELOPE_SHAPE['deal_field']!r} of the form "
            "'<crm>:<deal id>'; add it to the statement-of-work template",
        )
    return (*deal_reference(reference, crms), envelope_id_of(envelope))


def deal_reference(reference: str, crms: Mapping[str, str]) -> tuple[str, str]:
    """(crm, deal id) of ``reference`` ("<crm>:<deal id>"), checked against the configured CRMs
    and the id shape of the CRM's kind."""
    field = ENVELOPE_SHAPE["deal_field"]
    if len(reference) > MAX_REFERENCE_CHARS:
        raise DealReferenceError(
            "invalid_deal_reference",
            f"custom field {field!r} has {len(reference)} characters; a deal reference has at "
            f"most {MAX_REFERENCE_CHARS}",
        )
    crm, deal_id = reference.split(":", 1)
    kind = crms.get(crm)
    if kind is None:
        known = ", ".join(sorted(crms)) or "none configured"
        raise DealReferenceError(
            "invalid_deal_reference",
            f"custom field {field!r} names CRM {crm[:40]!r}, not a CRM system of handoff.yaml "
            f"({known})",
        )
    shape = DEAL_ID_SHAPES.get(kind)
    if shape is None or not shape.fullmatch(deal_id):
        raise DealReferenceError(
            "invalid_deal_reference",
            f"custom field {field!r}: {deal_id[:40]!r} is not a {kind} deal id",
        )
    return crm, deal_id


def envelope_id_of(envelope: dict[str, Any]) -> str:
    envelope_id = _path(envelope, ENVELOPE_SHAPE["envelope_id"])
    if not isinstance(envelope_id, str) or not ENVELOPE_ID_SHAPE.fullmatch(envelope_id):
        raise DealReferenceError(
            "invalid_envelope",
            f"{ENVELOPE_SHAPE['envelope_id']} must be the envelope's id (a GUID)",
        )
    return envelope_id


def docusign_handler(
    on_signed: Callable[[str, str, str], bool], crms: Mapping[str, str]
) -> Handler:
    """``on_signed(crm, deal_id, envelope_id)`` lifts the gate and says True, or holds an
    envelope for a deal the hub does not know and says False. ``crms``: the configured CRM
    systems, name -> kind."""

    async def handle(received: Received) -> Response:
        try:
            envelope = parse_json(received.body)
            signed = completed_deal(envelope, crms) if isinstance(envelope, dict) else None
        except BodyRefused as refused:  # bounded JSON: depth, numbers, UTF-8, NUL, surrogates
            raise Refused(refused.status, refused.reason, refused.detail) from None
        except DealReferenceError as error:
            raise Refused(422, error.reason, str(error)) from None
        if signed is None:
            return JSONResponse({"ignored": "not a completed envelope"}, status_code=200)
        lifted = await run_in_threadpool(on_signed, *signed)
        WEBHOOK_EVENTS.labels(source=SOURCE).inc()
        if not lifted:
            return JSONResponse(
                {
                    "held": signed[2],
                    "detail": f"no deal {signed[0]}:{signed[1]} in the hub: the envelope is kept "
                    "and an exception raised; no gate was lifted",
                },
                status_code=202,
            )
        return JSONResponse({"accepted": signed[2]}, status_code=200)

    return handle
