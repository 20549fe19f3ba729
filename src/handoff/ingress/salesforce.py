"""``POST /webhooks/salesforce/cdc``: Change Data Capture events forwarded by a relay (its row:
``handoff.ingress.table``).

Salesforce delivers CDC over the gRPC Pub/Sub API, which a web endpoint cannot receive; a relay
(a subscriber process, or the sandbox) forwards each batch of decoded events here.

Relay contract (decided by Handoff, documented in connectors/salesforce/README.md):
- body: a JSON array of events (or one event object), at most 10 MB; each event is
  ``{"payload": {"ChangeEventHeader": {...}, ...changed fields}, "event": {"replayId": n}}``
  (``channel`` and ``schema`` optional), i.e. the decoded Pub/Sub / CometD event;
- header ``X-Handoff-Relay-Signature: sha256=<hex HMAC-SHA256(shared secret, raw body)>``,
  compared in constant time.

Each record id in an event's ``recordIds`` becomes one inbox event keyed
``{entityName}:{transactionKey}:{sequenceNumber}:{recordId}`` (``replay:{replayId}:{recordId}``
when the header lacks a transaction key), so a replayed event is stored once and answered as a
duplicate. Every refusal is a 4xx ``{"error", "detail"}`` and stores nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from handoff.ingress.bodies import BodyRefused, off_loop, parse_json
from handoff.ingress.inbox import EventInbox, accept
from handoff.ingress.router import Handler, Received, Refused
from handoff.ingress.schemes import hmac_sha256_hex
from handoff.observability.webhook_metrics import WEBHOOK_EVENTS
from handoff.store.inbox import IncomingEvent

SOURCE = "salesforce"
# Salesforce record ids are 15 or 18 characters, replay ids and transaction keys short: anything
# far longer is not Salesforce's and would not fit the inbox's 255-character keys.
MAX_ID_LENGTH = 64
MAX_EPOCH_MILLISECONDS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
SIGNATURE_HEADER = "X-Handoff-Relay-Signature"
KNOWN_ENTITIES = frozenset(
    {"Account", "Contact", "Opportunity", "OpportunityLineItem", "Product2", "PricebookEntry"}
)
CHANGE_TYPES = frozenset(
    {
        "CREATE", "UPDATE", "DELETE", "UNDELETE",
        "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW",
    }
)  # fmt: skip


class CdcRejected(Exception):
    def __init__(self, reason: str, detail: str, status_code: int = 400) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status_code = status_code


# The relay signs as every generic source does: "sha256=" + hex HMAC-SHA256 of the body.
sign_relay_body = hmac_sha256_hex


def parse_cdc_events(body: bytes) -> list[IncomingEvent]:
    """Inbox events from a relay body; raises CdcRejected on anything malformed."""
    try:
        data = parse_json(body)
    except BodyRefused as refused:
        raise CdcRejected(refused.reason, refused.detail, refused.status) from None
    raw_events = data if isinstance(data, list) else [data]
    if not raw_events:
        raise CdcRejected("empty", "The body holds no events.")
    events: list[IncomingEvent] = []
    for index, raw in enumerate(raw_events):
        events.extend(_events_of(index, raw))
    return events


def _events_of(index: int, raw: Any) -> list[IncomingEvent]:
    where = f"event[{index}]"
    if not isinstance(raw, dict):
        raise CdcRejected("bad_event", f"{where} is not a JSON object.")
    payload = raw.get("payload")
    header = payload.get("ChangeEventHeader") if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(header, dict):
        raise CdcRejected("bad_event", f"{where} has no payload.ChangeEventHeader.")
    entity = header.get("entityName")
    if entity not in KNOWN_ENTITIES:
        raise CdcRejected(
            "unknown_entity",
            f"{where}: entityName {entity!r} is not one Handoff follows "
            f"({', '.join(sorted(KNOWN_ENTITIES))}).",
            422,
        )
    change_type = header.get("changeType")
    if change_type not in CHANGE_TYPES:
        raise CdcRejected(
            "bad_event", f"{where}: changeType {change_type!r} is not a CDC change type."
        )
    record_ids = header.get("recordIds")
    if (
        not isinstance(record_ids, list)
        or not record_ids
        or not all(isinstance(i, str) and 0 < len(i) <= MAX_ID_LENGTH for i in record_ids)
    ):
        raise CdcRejected(
            "bad_event",
            f"{where}: recordIds must be a non-empty list of ids of 1 to {MAX_ID_LENGTH} "
            "characters.",
        )
    replay = raw.get("event", {}).get("replayId") if isinstance(raw.get("event"), dict) else None
    transaction_key = header.get("transactionKey")
    sequence = header.get("sequenceNumber")
    for name, value in (
        ("event.replayId", replay),
        ("transactionKey", transaction_key),
        ("sequenceNumber", sequence),
    ):
        if value is not None and (
            not isinstance(value, int | str)
            or isinstance(value, bool)
            or len(str(value)) > MAX_ID_LENGTH
        ):
            raise CdcRejected(
                "bad_event",
                f"{where}: {name} must be a number or a string of at most {MAX_ID_LENGTH} "
                "characters.",
            )
    if transaction_key and sequence is not None:
        identity = f"{entity}:{transaction_key}:{sequence}"
    elif replay is not None:
        identity = f"replay:{replay}"
    else:
        raise CdcRejected(
            "bad_event",
            f"{where}: needs ChangeEventHeader.transactionKey+sequenceNumber or event.replayId.",
        )
    occurred_at = None
    commit = header.get("commitTimestamp")
    if commit is not None:
        if (
            not isinstance(commit, int | float)
            or isinstance(commit, bool)
            or not 0 <= commit <= MAX_EPOCH_MILLISECONDS
        ):
            raise CdcRejected(
                "bad_event",
                f"{where}: commitTimestamp must be epoch milliseconds (year 1970 to 9999).",
            )
        occurred_at = datetime.fromtimestamp(commit / 1000, UTC)
    return [
        IncomingEvent(
            source_event_id=f"{identity}:{record_id}",
            entity_key=f"salesforce:{entity}:{record_id}",
            kind=f"{entity}.{change_type}",
            occurred_at=occurred_at,
            payload={"record_id": record_id, "replay_id": replay, **payload},
        )
        for record_id in record_ids
    ]


def salesforce_handler(inbox: EventInbox) -> Handler:
    async def handle(received: Received) -> Response:
        try:
            events = await off_loop(len(received.body), parse_cdc_events, received.body)
        except CdcRejected as error:
            raise Refused(error.status_code, error.reason, error.detail) from None
        results = await accept(inbox, received.source, events)
        accepted = sum(1 for r in results if not r.duplicate)
        WEBHOOK_EVENTS.labels(source=received.source).inc(accepted)
        return JSONResponse(
            {
                "accepted": accepted,
                "duplicates": len(results) - accepted,
                "inbox_ids": [r.inbox_id for r in results],
            }
        )

    return handle
