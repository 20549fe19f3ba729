"""Prometheus metrics. Counters and histograms are per process; gauges that describe shared state
(queue depth, open exceptions, circuits) are read from the store at scrape time, so any process's
/metrics tells the truth about the whole hub."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.registry import Collector

from handoff.observability.webhook_metrics import WEBHOOK_EVENTS, WEBHOOK_REJECTED

__all__ = ["WEBHOOK_EVENTS", "WEBHOOK_REJECTED"]

EVENTS_RECEIVED = Counter(
    "handoff_events_received_total", "Events accepted into the inbox", ["source", "duplicate"]
)
FLOWS_STARTED = Counter("handoff_flows_started_total", "Flows started", ["flow"])
FLOWS_SUCCEEDED = Counter("handoff_flows_succeeded_total", "Flows that completed", ["flow"])
FLOWS_FAILED = Counter(
    "handoff_flows_failed_total", "Flows that ended in an exception record", ["flow", "kind"]
)
BATCH_EVENTS = Histogram(
    "handoff_batch_events",
    "Events a batching flow's run was given (its group's size when dispatched)",
    ["flow"],
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000),
)
STEP_SECONDS = Histogram(
    "handoff_step_seconds",
    "Latency of calls to other systems, per attempt",
    ["system", "operation", "outcome"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BILLING_FAILED = Counter(
    "handoff_billing_invoices_failed_total",
    "Approved proposals the invoice run could not invoice, by reason (a missing Odoo setup "
    "rule such as no_sale_journal, or error)",
    ["reason"],
)
RETRIES = Counter("handoff_retries_total", "Attempts retried after a transient error", ["system"])
CALLS = Counter("handoff_calls_total", "Calls made to other systems", ["system", "operation"])
RATE_LIMIT_HEADROOM = Gauge(
    "handoff_rate_limit_headroom_ratio",
    "Share of a system's rate-limit budget still available, as last reported by the system",
    ["system", "window"],
    multiprocess_mode="mostrecent",
)


def count_received(source: str, results: Sequence[Any]) -> None:
    """Count accepted events (``AcceptResult``s) per source and whether each was a duplicate."""
    for result in results:
        EVENTS_RECEIVED.labels(source, str(result.duplicate).lower()).inc()


def exposition() -> bytes:
    """The text of /metrics. Under multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, set by the
    CLI for `api`, `worker` and `run`) every process's counters summed, plus the hub's state."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        return generate_latest()
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    for collector in _collectors.values():
        registry.register(collector)
    return generate_latest(registry)


# The collectors of shared state (``handoff.api.state_metrics``), one per hub, by the hub's id:
# registered here, at the bottom, so the engine can unregister its hub's without knowing them.
_collectors: dict[int, Collector] = {}


def unregister_state_collector(hub: Any) -> None:
    collector = _collectors.pop(id(hub), None)
    if collector is not None:
        REGISTRY.unregister(collector)


def register_state_collector(hub: Any, collector: Collector) -> None:
    """``collector`` (of ``hub``'s shared state) is the process's one: it replaces any other."""
    for registered in list(_collectors.values()):
        REGISTRY.unregister(registered)
    _collectors.clear()
    REGISTRY.register(collector)
    _collectors[id(hub)] = collector
