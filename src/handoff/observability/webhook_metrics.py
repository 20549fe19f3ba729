"""Counters every webhook endpoint shares (HubSpot, Salesforce CDC, Stripe, generic HMAC).

Label values come only from names the hub knows (the systems of handoff.yaml and fixed reasons):
anything a caller chose, such as the ``{source}`` of ``/webhooks/events/{source}`` before it is
recognised, is counted under ``UNKNOWN_SOURCE``, so no request can add a time series."""

from __future__ import annotations

from collections.abc import Container

from prometheus_client import Counter

UNKNOWN_SOURCE = "unknown"

WEBHOOK_EVENTS = Counter(
    "handoff_webhook_events_total", "Webhook events accepted into the inbox", ["source"]
)
WEBHOOK_REJECTED = Counter(
    "handoff_webhook_rejected_total",
    "Webhook requests refused with a 4xx, by reason",
    ["source", "reason"],
)


def source_label(name: str, configured: Container[str]) -> str:
    """``name`` when it is a configured system, else ``UNKNOWN_SOURCE``."""
    return name if name in configured else UNKNOWN_SOURCE
