"""Counters every webhook endpoint shares (HubSpot, Salesforce CDC, Stripe, generic HMAC)."""

from __future__ import annotations

from prometheus_client import Counter

WEBHOOK_EVENTS = Counter(
    "handoff_webhook_events_total", "Webhook events accepted into the inbox", ["source"]
)
WEBHOOK_REJECTED = Counter(
    "handoff_webhook_rejected_total",
    "Webhook requests refused with a 4xx, by reason",
    ["source", "reason"],
)
