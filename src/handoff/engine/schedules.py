"""Scheduled jobs (pollers, monitors) hold back while a system they call has an open circuit.

A poll that would only fail against a system known to be down spends nothing: the run is
skipped, counted (``handoff_scheduled_runs_skipped_total{job,system}``) and logged, and the next
run after the cool-down (half-open) is the probe. Inside a durable workflow the check is a step,
so a replay sees the same decision.
"""

from __future__ import annotations

from collections.abc import Iterable

from dbos import DBOS

from handoff.engine.breaker import SCHEDULED_SKIPPED
from handoff.engine.runtime import Hub
from handoff.observability.logging import get_logger

log = get_logger("handoff.schedule")


def open_circuit(hub: Hub, job: str, systems: Iterable[str]) -> str | None:
    """The first of ``systems`` whose circuit is open (the run of ``job`` is then skipped and
    counted), else None: the job may run."""
    names = list(dict.fromkeys(systems))
    if DBOS.workflow_id:
        found: str | None = DBOS.run_step(
            {"name": f"schedule.{job}.circuit"}, _first_open, hub, names
        )
    else:
        found = _first_open(hub, names)
    if found is not None:
        SCHEDULED_SKIPPED.labels(job, found).inc()
        # From the view, not ``wait_seconds``: asking how long to wait may take the probe.
        until = hub.breakers.view(found).opened_until
        log.info(
            "%s skipped: the circuit of %s is open until %s",
            job,
            found,
            until.isoformat() if until is not None else "its probe reports",
        )
    return found


def systems_of_kind(hub: Hub, kind: str) -> list[str]:
    """The breaker names a system of ``kind`` is known by: flows' calls name the kind, the
    configured systems their own names."""
    return [kind, *(name for name, system in hub.settings.systems.items() if system.kind == kind)]


def _first_open(hub: Hub, systems: list[str]) -> str | None:
    for system in systems:
        if hub.breakers.is_open(system):
            return system
    return None
