"""Every flow is deterministic: run once over the sandboxes, then forked from each of its steps
(as `handoff flows replay ID --from-step N` does), every fork completes as the original did, with
no DBOSUnexpectedStepError (issue 10, defect 2).

Parametrised over the flow registry: a new flow is collected here by itself, and fails until it
has a scenario in ``SCENARIOS`` that runs it once.
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable
from typing import Any

import pytest
from dbos import DBOS

from handoff import services
from handoff.api.app import create_app
from handoff.canonical.crm import BillingModel
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows import billing_run
from handoff.flows.invoicing import poll_invoices
from invoicing.conftest import world  # noqa: F401  (the delivered world fixture)
from invoicing.test_invoice_run import _charge, _post
from invoicing.world import PERIOD, World
from support.servers import serving
from support.waiting import wait_for
from timesheets.desk import Desk, desk, entry  # noqa: F401  (the timesheet desk fixture)

flows.load_flow_modules()


def _deal(w: World) -> str:
    deal = w.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    w.deliver(deal)
    return deal


def _invoiced(w: World) -> str:
    deal = _deal(w)
    w.log(deal, [2.5])
    billing_run.request(w.hub, PERIOD, requested="replay-test", post=True)
    wait_for(w.settled(1, "billing_run"), timeout=60, what="the billing run")
    assert [e.message for e in w.hub.exceptions.list()] == []
    return deal


def _status(w: World) -> None:
    _invoiced(w)
    assert poll_invoices(w.hub) >= 1
    wait_for(w.settled(1, "invoice_status"), timeout=60, what="the status flow")


def _payment(w: World) -> None:
    deal = _invoiced(w)
    [invoice] = [i for i in w.invoices() if i["invoice_origin"] == w.order(deal)["name"]]
    with serving(create_app(w.hub)) as api:
        _post(api, _charge("evt_r1", "ch_r1", 10000, invoice["name"]))
        wait_for(w.settled(1, "stripe_payment"), timeout=60, what="the payment flow")


def _time_entry(d: Desk) -> None:
    response = d.post([entry("te-replay-1")])
    assert response.status_code < 300, response.text
    wait_for(d.settled(1), timeout=60, what="the time entry")


# flow name -> (the fixture its scenario needs, the scenario: runs the flow once to success)
SCENARIOS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "deal_to_delivery": ("world", _deal),
    "billing_run": ("world", _invoiced),
    "invoice_status": ("world", _status),
    "stripe_payment": ("world", _payment),
    "time_entry": ("desk", _time_entry),
}


def _result(workflow_id: str, timeout: float = 60) -> tuple[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [status] = DBOS.list_workflows(workflow_ids=[workflow_id])
        if status.status not in ("PENDING", "ENQUEUED"):
            return status.status, status.output if status.status == "SUCCESS" else status.error
        time.sleep(0.05)
    raise AssertionError(f"{workflow_id} still running after {timeout} s")


def product_flows() -> list[str]:
    """Every flow the product registers (all of handoff.flows imported), not the test suite's
    own (support.flows' ledger flows, registered when their modules are imported)."""
    import handoff.flows as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{module.name}")
    return sorted(
        name for name, spec in flows.registered().items()
        if spec.module.startswith("handoff.")
    )  # fmt: skip


@pytest.mark.parametrize("flow_name", product_flows())
def test_every_flow_forked_from_every_step_ends_as_it_did(
    flow_name: str, store_url: str, request: pytest.FixtureRequest
) -> None:
    assert flow_name in SCENARIOS, (
        f"flow {flow_name!r} has no replay scenario: add one to SCENARIOS in {__file__}"
    )
    fixture, scenario = SCENARIOS[flow_name]
    place = request.getfixturevalue(fixture)
    scenario(place)
    hub: Hub = place.hub
    # The inbox reads done at the flow's last step, a moment before its run is SUCCESS.
    ran = [s.workflow_id for s in DBOS.list_workflows(name=flow_name) if not s.forked_from]
    runs = [
        status
        for workflow_id in ran
        if _result(workflow_id)[0] == "SUCCESS"
        for status in DBOS.list_workflows(workflow_ids=[workflow_id])
    ]
    assert runs, f"the scenario ran no successful {flow_name}"
    original = runs[0]
    steps = DBOS.list_workflow_steps(original.workflow_id)
    names = [s["function_name"] for s in steps]
    open_exceptions = len(hub.exceptions.list())
    for start in range(1, int(steps[-1]["function_id"]) + 2):
        fork = services.replay_flow_run(hub, original.workflow_id, from_step=start)
        status, outcome = _result(fork)
        where = f"{flow_name} forked from step {start} of {names}"
        assert status == "SUCCESS", f"{where}: {outcome}"
        forked = [s["function_name"] for s in DBOS.list_workflow_steps(fork)]
        assert forked[: start - 1] == names[: start - 1], where
        assert not any(
            "DBOSUnexpectedStepError" in str(s["error"]) for s in DBOS.list_workflow_steps(fork)
        ), where
        if start > len(names):  # every step recorded: a pure replay returns the same output
            assert outcome == original.output, where
    assert len(hub.exceptions.list()) == open_exceptions
