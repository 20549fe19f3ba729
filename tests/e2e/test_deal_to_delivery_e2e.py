"""Deal to delivery end to end, over real HTTP between real processes: about 200 deals won across
HubSpot and Salesforce reach `handoff api` as signed webhooks and CDC events (HubSpot duplicating
and reordering its deliveries), two `handoff worker` processes run the flows against the Odoo
sandbox while it fails on purpose, and one worker is SIGKILLed mid-run and restarted.

Result: every valid deal exactly once in Odoo (one partner per customer, one order, one project),
every defective deal exactly one actionable exception, every delivered deal written back."""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.connectors.odoo import OdooAdapter, OdooClient, OdooTransientError
from handoff.engine.runtime import Hub
from handoff_sandbox.stack import Stack, running_stack
from support.servers import free_port
from support.stack_processes import reading_hub, running_api
from support.waiting import wait_for
from support.workers import Worker

EXTRA_DEALS_PER_CRM = 85  # plus the seeded open deals: about 200 in all


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with running_stack(
        tmp_path / "world",
        hub_port=free_port(),
        extra_deals=EXTRA_DEALS_PER_CRM,
        hubspot_settings={"webhook_duplicate": True, "webhook_reorder": True},
    ) as running:
        yield running


@pytest.fixture
def api(stack: Stack, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    with running_api(stack, tmp_path) as process:
        yield process


@pytest.fixture
def reader(stack: Stack) -> Iterator[Hub]:
    with reading_hub(stack) as hub:
        yield hub


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_about_200_won_deals_are_delivered_exactly_once_despite_failures(
    stack: Stack, api: subprocess.Popen[bytes], reader: Hub, tmp_path: Path
) -> None:
    odoo = OdooAdapter(
        OdooClient(stack.odoo.url, stack.odoo.db, stack.odoo.login, stack.odoo.password)
    )
    winnable = stack.winnable_deals()
    valid = [d for d in winnable if not d.defect]
    defective = [d for d in winnable if d.defect]
    assert (
        len(winnable) >= 190 and defective and {d.crm for d in valid} == {"hubspot", "salesforce"}
    )

    workers = [Worker(stack.config_path, name, tmp_path).start() for name in ("w1", "w2")]
    try:
        stack.odoo.set_faults(fail_next=8, fail_kind="http", fail_status=503)
        stack.win(*(d.key for d in winnable))

        def orders() -> list[dict[str, object]]:
            # The test's own reads may meet the injected faults too: read until one gets through.
            while True:
                try:
                    return odoo.search_read(
                        "sale.order",
                        [["client_order_ref", "!=", False]],
                        ["client_order_ref", "state", "partner_id"],
                    )
                except OdooTransientError:
                    time.sleep(0.1)

        wait_for(lambda: len(orders()) >= 20, timeout=180, what="the first orders")
        workers[0].kill()  # mid-run: flows of w1 are in flight
        stack.odoo.set_faults(fail_next=4, fail_kind="lock")
        workers[0] = Worker(stack.config_path, "w1", tmp_path).start()

        def settled() -> bool:
            return (
                len(orders()) >= len(valid)
                and len(reader.exceptions.list(limit=1000)) >= len(defective)
                and not any(r.status in ("PENDING", "ENQUEUED") for r in _runs(reader))
            )

        wait_for(settled, timeout=420, what="every deal delivered or excepted")
    finally:
        for worker in workers:
            worker.stop()

    found = orders()
    refs = Counter(str(o["client_order_ref"]) for o in found)
    assert len(found) == len(valid), "an order per valid deal, no more"
    assert all(count == 1 for count in refs.values()), "no deal delivered twice"
    assert {o["state"] for o in found} == {"sale"}

    # One partner per customer: the CRM's "GLOBEX corp." is Odoo's existing Globex Corporation.
    customers = {d.client for d in valid}
    partners = {o["partner_id"][0] for o in found}  # type: ignore[index]
    assert len(partners) == len(customers)
    globex = odoo.search_read(
        "res.partner", [["name", "ilike", "globex"], ["is_company", "=", True]], ["name"]
    )
    assert len(globex) == 1

    projects = odoo.search_read(
        "project.project", [["sale_order_id", "!=", False]], ["sale_order_id"]
    )
    assert Counter(p["sale_order_id"][0] for p in projects) == Counter({o["id"]: 1 for o in found})

    exceptions = reader.exceptions.list(limit=1000)
    assert sorted(e.record for e in exceptions) == sorted(
        f"{d.crm}:deal:{stack.crm_id(d.key)}" for d in defective
    ), "exactly one exception per defective deal"
    for record in exceptions:
        assert record.suggested_fix and record.rule == "deal_validation"

    written = [e for e in reader.audit.search(text="", limit=5000) if e.action == "write_back"]
    assert len({e.canonical_id for e in written}) == len(valid), "every delivery written back"


def _runs(hub: Hub) -> list[object]:
    """The business flows' runs (the schedules' ticks are workflows too, one always waiting)."""
    from handoff import services
    from handoff.engine.schedules import SCHEDULED_WORKFLOW

    runs = services.list_flow_runs(hub, limit=5000)
    return [r for r in runs if r.flow != SCHEDULED_WORKFLOW]
