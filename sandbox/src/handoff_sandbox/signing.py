"""How the emulated systems sign what they send, written from each provider's own specification.

Nothing here comes from the hub: the hub verifies signatures with its own code, and the sandbox
signs with this, so a test of one against the other (tests/sandbox/test_signing.py) checks both
against the specification rather than a function against itself.

- HubSpot webhooks (developers.hubspot.com, "Validating requests"): v1 ``X-HubSpot-Signature`` =
  hex(SHA-256(client secret + body)); v3 ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client
  secret, method + URI + body + timestamp)) with the timestamp in milliseconds in
  ``X-HubSpot-Request-Timestamp``, the URI with a few percent-escapes decoded.
- Stripe (stripe.com/docs/webhooks, "Verify signatures manually"): ``Stripe-Signature:
  t=<unix seconds>,v1=<hex HMAC-SHA256(endpoint secret, "<t>.<body>")>``.
- The hub's own HMAC scheme (its README, "Webhooks"), which a time tracker and the Salesforce
  Change Data Capture relay follow: ``sha256=<hex HMAC-SHA256(shared secret, raw body)>`` in
  ``X-Handoff-Signature`` (time tracker) or ``X-Handoff-Relay-Signature`` (CDC relay).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

HUBSPOT_V1_HEADER = "X-HubSpot-Signature"
HUBSPOT_V3_HEADER = "X-HubSpot-Signature-v3"
HUBSPOT_TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"
STRIPE_HEADER = "Stripe-Signature"
TIME_TRACKER_HEADER = "X-Handoff-Signature"
CDC_RELAY_HEADER = "X-Handoff-Relay-Signature"

# HubSpot signs v3 over the URI with these escapes decoded (its "Validate the v3 request
# signature" steps list exactly these).
_HUBSPOT_DECODED = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$",
    "%27": "'", "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


def hubspot_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def hubspot_v3(secret: str, method: str, uri: str, body: bytes, timestamp_ms: str) -> str:
    for escape, char in _HUBSPOT_DECODED.items():
        uri = uri.replace(escape, char).replace(escape.lower(), char)
    message = method.upper().encode() + uri.encode() + body + timestamp_ms.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def hubspot_headers(secret: str, uri: str, body: bytes, timestamp_ms: str) -> dict[str, str]:
    """Both signatures HubSpot sends with a webhook batch POSTed to ``uri``."""
    return {
        HUBSPOT_V1_HEADER: hubspot_v1(secret, body),
        "X-HubSpot-Signature-Version": "v1",
        HUBSPOT_V3_HEADER: hubspot_v3(secret, "POST", uri, body, timestamp_ms),
        HUBSPOT_TIMESTAMP_HEADER: timestamp_ms,
    }


def stripe_signature(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` value Stripe sends with ``body`` (now, unless ``timestamp``)."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def hmac_sha256(secret: str, body: bytes) -> str:
    """``sha256=<hex>``: the time tracker's and the CDC relay's signature of ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
