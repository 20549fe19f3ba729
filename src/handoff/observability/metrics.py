"""Prometheus metrics. Counters and histograms are per process; gauges that describe shared state
(queue depth, open exceptions, circuits) are read from the store at scrape time, so any process's
/metrics tells the truth about the whole hub."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

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


class HubStateCollector:
    """Gauges read from the shared store and the durable engine when /metrics is scraped."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = list(self._families())
        except Exception:  # a scrape reports what it can; the store being down is in /readyz
            return
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily]:
        from handoff.services import circuits, queue_depths

        exceptions = GaugeMetricFamily(
            "handoff_open_exceptions", "Exception records waiting for a person"
        )
        exceptions.add_metric([], self.hub.exceptions.count_open())
        yield exceptions

        from handoff.invoicing.records import Proposals, ProposalStatus

        failed = GaugeMetricFamily(
            "handoff_billing_proposals_failed",
            "Approved proposals whose invoicing failed and waits for a retry",
        )
        failed.add_metric(
            [], len(Proposals(self.hub.store).list(status=ProposalStatus.FAILED, limit=100_000))
        )
        yield failed

        depth = GaugeMetricFamily(
            "handoff_queue_depth", "Flows waiting or running per queue", labels=["queue", "status"]
        )
        for (queue, status), count in queue_depths(self.hub).items():
            depth.add_metric([queue, status], count)
        yield depth

        state = GaugeMetricFamily(
            "handoff_circuit_state",
            "Circuit breaker per system: 0 closed, 1 half-open, 2 open",
            labels=["system"],
        )
        failures = GaugeMetricFamily(
            "handoff_circuit_consecutive_failures",
            "Consecutive transient failures per system",
            labels=["system"],
        )
        for view in circuits(self.hub):
            state.add_metric([view.system], CIRCUIT_LEVEL[view.state])
            failures.add_metric([view.system], view.consecutive_failures)
        yield state
        yield failures


CIRCUIT_LEVEL = {"closed": 0, "half_open": 1, "open": 2}
_collectors: dict[int, HubStateCollector] = {}


def unregister_state_collector(hub: Any) -> None:
    collector = _collectors.pop(id(hub), None)
    if collector is not None:
        REGISTRY.unregister(collector)


def register_state_collector(hub: Any) -> None:
    """Register once per process (re-registering the same hub is a no-op)."""
    for collector in list(_collectors.values()):
        REGISTRY.unregister(collector)
    _collectors.clear()
    collector = HubStateCollector(hub)
    REGISTRY.register(collector)
    _collectors[id(hub)] = collector
