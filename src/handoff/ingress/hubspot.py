"""HubSpot webhooks: signature checks (pure functions), the events a body stands for, and the
handler of `POST /webhooks/hubspot` (its row: ``handoff.ingress.table``).

Signatures (HubSpot developer docs, test vectors in shared/crm-apis.md):
- v1 `X-HubSpot-Signature` = hex(SHA-256(secret + body))
- v2 `X-HubSpot-Signature` = hex(SHA-256(secret + method + uri + body))
- v3 `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(secret, method + uri + body + timestamp)),
  timestamp in ms from `X-HubSpot-Request-Timestamp`, refused when older than 5 minutes.
Only v3 is accepted unless v1/v2 are switched on: they carry no timestamp, so a captured request
could be replayed forever.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from fastapi.responses import JSONResponse, Response

from handoff.ingress.bodies import BodyRefused, EventError, off_loop, parse_json
from handoff.ingress.inbox import EventInbox, accept
from handoff.ingress.router import Handler, Received, Refused, SignatureError, Signed
from handoff.observability.webhook_metrics import WEBHOOK_EVENTS
from handoff.store.inbox import IncomingEvent

SOURCE = "hubspot"
MAX_TIMESTAMP_AGE_SECONDS = 300.0
# HubSpot ids are 64-bit numbers; a longer id is not HubSpot's and would not fit the inbox keys.
MAX_ID_LENGTH = 64
MAX_EPOCH_MILLISECONDS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
KNOWN_OBJECTS = frozenset({"contact", "company", "deal", "line_item", "product", "ticket"})
ACCEPTED_OBJECTS = frozenset({"contact", "company", "deal", "line_item", "product"})
KNOWN_ACTIONS = frozenset(
    {
        "creation",
        "deletion",
        "propertyChange",
        "associationChange",
        "restore",
        "merge",
        "privacyDeletion",
    }
)


# -- signatures (pure) -------------------------------------------------------------------------
def sign_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def sign_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(
        secret.encode() + method.upper().encode() + uri.encode() + body
    ).hexdigest()


# HubSpot decodes these percent-escapes in the URI before signing v3.
_V3_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def v3_uri(uri: str) -> str:
    decoded = uri
    for escape in _V3_DECODED:
        decoded = decoded.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return decoded


def sign_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    message = method.upper().encode() + v3_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    headers: dict[str, str],
    now: float | None = None,
    accepted_versions: Sequence[str] = ("v3",),
    max_age_seconds: float = MAX_TIMESTAMP_AGE_SECONDS,
) -> str:
    """Answer the signature version that matched, or raise SignatureError. `headers` lower-case."""
    if not secret:
        raise SignatureError("no_secret", "No webhook secret is configured for HubSpot.")
    moment = time.time() if now is None else now
    v3 = headers.get("x-hubspot-signature-v3")
    if v3 is not None and "v3" in accepted_versions:
        raw_timestamp = headers.get("x-hubspot-request-timestamp", "")
        if not (raw_timestamp.isascii() and raw_timestamp.isdigit() and len(raw_timestamp) <= 16):
            raise SignatureError(
                "missing_timestamp",
                "X-HubSpot-Request-Timestamp is missing or not epoch milliseconds.",
            )
        age = moment - int(raw_timestamp) / 1000
        if age > max_age_seconds:
            raise SignatureError(
                "stale_timestamp",
                f"Request timestamp is {age:.0f} s old; the limit is {max_age_seconds:.0f} s.",
            )
        if age < -max_age_seconds:
            raise SignatureError(
                "stale_timestamp", "Request timestamp is in the future beyond the allowed skew."
            )
        expected = sign_v3(secret, method, uri, body, raw_timestamp)
        if hmac.compare_digest(expected.encode(), v3.encode("utf-8", "replace")):
            return "v3"
        raise SignatureError("bad_signature", "X-HubSpot-Signature-v3 does not match the request.")
    legacy = headers.get("x-hubspot-signature")
    version = headers.get("x-hubspot-signature-version", "v1").lower()
    if legacy is not None and version in accepted_versions:
        expected = sign_v1(secret, body) if version == "v1" else sign_v2(secret, method, uri, body)
        if hmac.compare_digest(expected.encode(), legacy.lower().encode("utf-8", "replace")):
            return version
        raise SignatureError(
            "bad_signature", f"X-HubSpot-Signature ({version}) does not match the request."
        )
    accepted = ", ".join(accepted_versions)
    raise SignatureError(
        "missing_signature", f"No HubSpot signature of an accepted version ({accepted}) was sent."
    )


# -- events ------------------------------------------------------------------------------------
def parse_events(body: bytes) -> list[IncomingEvent]:
    """The inbox events a HubSpot webhook body stands for, or EventError naming the bad part."""
    try:
        decoded = parse_json(body)
    except BodyRefused as refused:
        raise EventError(refused.reason, refused.detail, refused.status) from None
    if not isinstance(decoded, list):
        raise EventError(
            "not_an_array", f"Body must be a JSON array of events, got {type(decoded).__name__}."
        )
    events: list[IncomingEvent] = []
    for index, raw in enumerate(decoded):
        events.append(_incoming(index, raw))
    return events


def _incoming(index: int, raw: Any) -> IncomingEvent:
    where = f"event [{index}]"
    if not isinstance(raw, dict):
        raise EventError("invalid_event", f"{where} is not an object.")
    for required in ("eventId", "subscriptionType", "occurredAt"):
        if required not in raw:
            raise EventError("invalid_event", f"{where} has no {required}.")
    subscription = raw["subscriptionType"]
    if not isinstance(subscription, str) or "." not in subscription:
        raise EventError(
            "invalid_event", f"{where} subscriptionType {subscription!r} is not <object>.<action>."
        )
    object_name, action = subscription.split(".", 1)
    if object_name not in ACCEPTED_OBJECTS:
        raise EventError(
            "unknown_object_type",
            f"{where} is about object type {object_name!r}; this hub accepts {sorted(ACCEPTED_OBJECTS)}.",
            422,
        )
    if action not in KNOWN_ACTIONS:
        raise EventError(
            "unknown_subscription_type",
            f"{where} subscriptionType {subscription!r} is not one HubSpot sends.",
            422,
        )
    occurred = raw["occurredAt"]
    if (
        not isinstance(occurred, int)
        or isinstance(occurred, bool)
        or not 0 <= occurred <= MAX_EPOCH_MILLISECONDS
    ):
        raise EventError(
            "invalid_event", f"{where} occurredAt must be epoch milliseconds (year 1970 to 9999)."
        )
    object_id = raw.get("objectId", raw.get("fromObjectId"))
    if object_id is None:
        raise EventError("invalid_event", f"{where} has no objectId.")
    for name, value in (("eventId", raw["eventId"]), ("objectId", object_id)):
        if not isinstance(value, int | str) or isinstance(value, bool):
            raise EventError("invalid_event", f"{where} {name} must be a number or a string.")
        if len(str(value)) > MAX_ID_LENGTH:
            raise EventError(
                "invalid_event",
                f"{where} {name} has {len(str(value))} characters (at most {MAX_ID_LENGTH}).",
            )
    return IncomingEvent(
        source_event_id=str(raw["eventId"]),
        entity_key=f"{SOURCE}:{object_name}:{object_id}",
        kind=subscription,
        occurred_at=datetime.fromtimestamp(occurred / 1000, tz=UTC),
        payload=raw,
    )


# -- the scheme and the handler -----------------------------------------------------------------
@dataclass(frozen=True)
class HubSpotSignature:
    """v3 (timestamped) unless v1/v2 are switched on; ``public_base_url``: the URL HubSpot calls
    when a proxy changes scheme or host (it is part of the signed text)."""

    accepted_versions: tuple[str, ...] = ("v3",)
    max_age_seconds: float = MAX_TIMESTAMP_AGE_SECONDS
    public_base_url: str | None = None

    def verify(self, secret: str, request: Signed, now: float) -> None:
        uri = request.url
        if self.public_base_url:
            uri = self.public_base_url.rstrip("/") + request.path
            if request.query:
                uri += "?" + request.query
        verify_signature(
            secret=secret,
            method=request.method,
            uri=uri,
            body=request.body,
            headers=request.headers,
            now=now,
            accepted_versions=self.accepted_versions,
            max_age_seconds=self.max_age_seconds,
        )


def hubspot_handler(
    inbox: EventInbox, flow_for: Callable[[IncomingEvent], str | None] | None = None
) -> Handler:
    """Parse, store in the inbox, answer fast. An event already in the inbox (HubSpot
    redelivers) is answered 200 and marked `duplicate`. `flow_for` names the flow an event
    starts (e.g. deal.propertyChange of dealstage -> "deal_won"), or None to only store."""

    async def handle(received: Received) -> Response:
        try:
            events = await off_loop(len(received.body), parse_events, received.body)
        except EventError as error:
            raise Refused(error.status_code, error.reason, error.detail) from None
        if flow_for is not None:
            for incoming in events:
                incoming.flow = flow_for(incoming)
        results = await accept(inbox, received.source, events)
        fresh = sum(1 for r in results if not r.duplicate)
        WEBHOOK_EVENTS.labels(source=received.source).inc(fresh)
        return JSONResponse(
            {
                "accepted": fresh,
                "duplicates": len(results) - fresh,
                "results": [
                    {"eventId": e.source_event_id, "inbox_id": r.inbox_id, "duplicate": r.duplicate}
                    for e, r in zip(events, results, strict=True)
                ],
            }
        )

    return handle
