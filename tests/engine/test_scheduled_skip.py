"""Scheduled pollers and monitors skip their run while a system they call has an open circuit,
spending none of its calls, and count the skip (issue 10, defect 10). Real sandboxes: the Odoo
sandbox counts the RPC calls it serves."""

from __future__ import annotations

import httpx
from prometheus_client import REGISTRY

from handoff.canonical.crm import BillingModel
from handoff.flows.invoicing import poll_invoices
from handoff.flows.polling import poll_hubspot_deals
from handoff.invoicing.monitors import run_monitors
from invoicing.conftest import world  # noqa: F401  (the delivered world fixture)
from invoicing.world import World


def _odoo_calls(w: World) -> int:
    url = str(w.hub.settings.system("odoo").url).rstrip("/")
    return int(httpx.get(f"{url}/sandbox/control").json()["calls"])


def _skipped(job: str, system: str) -> float:
    value = REGISTRY.get_sample_value(
        "handoff_scheduled_runs_skipped_total", {"job": job, "system": system}
    )
    return value or 0.0


def _open(w: World, system: str) -> None:
    threshold = w.hub.breakers.policy(system).failure_threshold
    for _ in range(threshold):
        w.hub.breakers.record_failure(system, "503 injected")
    assert w.hub.breakers.is_open(system)


def test_pollers_and_monitors_skip_while_the_circuit_is_open_and_run_once_it_closes(
    world: World,  # noqa: F811
) -> None:
    deal = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 4, 150)])
    world.deliver(deal)
    _open(world, "odoo")
    _open(world, "hubspot")
    before = _odoo_calls(world)
    skipped = (
        _skipped("monitors", "odoo"),
        _skipped("poll.invoices", "odoo"),
        _skipped("poll.hubspot", "hubspot"),
    )

    report = run_monitors(world.hub)
    assert report.skipped == "odoo" and report.items == {}
    assert poll_invoices(world.hub) == 0
    assert poll_hubspot_deals(world.hub) == 0
    assert _odoo_calls(world) == before  # not one call spent on a system known to be down
    assert (
        _skipped("monitors", "odoo"),
        _skipped("poll.invoices", "odoo"),
        _skipped("poll.hubspot", "hubspot"),
    ) == tuple(count + 1 for count in skipped)
    assert world.hub.cursors.get("hubspot", "deals") == {}

    # Closed again (a flow's call succeeded): the next runs do their work.
    world.hub.breakers.record_success("odoo")
    world.hub.breakers.record_success("hubspot")
    assert run_monitors(world.hub).skipped is None
    assert _odoo_calls(world) > before
    poll_hubspot_deals(world.hub)
    assert _skipped("poll.hubspot", "hubspot") == skipped[2] + 1  # this one ran
    assert world.hub.cursors.get("hubspot", "deals") != {}
