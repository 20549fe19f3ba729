"""The gauges of the hub's shared state (open exceptions, failed proposals, queue depths,
circuits), read from the store and the durable engine when /metrics is scraped, so any process's
/metrics tells the truth about the whole hub. Here, above the services it reads, and not in
``handoff.observability``, which sits at the bottom and imports nothing of the hub's."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from handoff import services
from handoff.engine.runtime import Hub
from handoff.invoicing.records import Proposals, ProposalStatus
from handoff.observability import metrics

CIRCUIT_LEVEL = {"closed": 0, "half_open": 1, "open": 2}


class HubStateCollector:
    """Gauges read from the shared store and the durable engine when /metrics is scraped."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            families = list(self._families())
        except Exception:  # a scrape reports what it can; the store being down is in /readyz
            return
        yield from families

    def _families(self) -> Iterator[GaugeMetricFamily]:
        exceptions = GaugeMetricFamily(
            "handoff_open_exceptions", "Exception records waiting for a person"
        )
        exceptions.add_metric([], self.hub.exceptions.count_open())
        yield exceptions

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
        for (queue, status), count in services.queue_depths(self.hub).items():
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
        for view in services.circuits(self.hub):
            state.add_metric([view.system], CIRCUIT_LEVEL[view.state])
            failures.add_metric([view.system], view.consecutive_failures)
        yield state
        yield failures


def register_state_collector(hub: Hub) -> None:
    """Register ``hub``'s collector, the process's one (it replaces any other hub's)."""
    metrics.register_state_collector(hub, HubStateCollector(hub))


unregister_state_collector = metrics.unregister_state_collector
