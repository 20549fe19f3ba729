"""The invoice run as a durable flow, its one path: what the schedule starts and ``handoff billing
run`` hands to the workers (and follows step by step). Steps: record the period's proposals,
then invoice each approved proposal, one durable step each, so a worker killed in the middle
resumes where it stopped, and every step is safe to repeat (see ``handoff.invoicing.service``).

One event per request, one entity for all runs (``billing``): runs never overlap. The schedule
names its event after the period and the minute it fired, so the same cron firing in several
workers starts one run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handoff.billing.engine import BillingPeriod
from handoff.canonical.errors import TransientError
from handoff.engine import flows
from handoff.engine.flows import FlowEvent, flow
from handoff.engine.runs import flow_output
from handoff.engine.runtime import Hub, current_hub
from handoff.engine.schedules import job
from handoff.engine.steps import call
from handoff.engine.targets import current_target
from handoff.invoicing.service import (
    invoice_or_record_failure,
    invoiceable,
    record_proposals,
    scheduled_period,
)
from handoff.store.inbox import AcceptResult, IncomingEvent

FLOW = "billing_run"
SOURCE = "billing"
ENTITY = "billing"


def request(
    hub: Hub,
    period: BillingPeriod,
    *,
    requested: str,
    require_approval: bool | None = None,
    post: bool | None = None,
    odoo: str | None = None,
) -> AcceptResult:
    """Hand the run for ``period`` to the workers; ``requested`` names this request (a second
    request with the same name is a duplicate and starts nothing). ``require_approval`` and
    ``post`` as for ``run_billing``; None: the worker's environment decides. ``odoo``: the Odoo
    system to bill, by name (its queue and breaker; the event's source), None: the only one."""
    if odoo is not None and odoo not in hub.settings.systems_of_kind("odoo"):
        odoos = ", ".join(hub.settings.systems_of_kind("odoo")) or "none"
        raise ValueError(f"no Odoo system named {odoo!r} (Odoo systems: {odoos})")
    event = IncomingEvent(
        source_event_id=f"{FLOW}:{period.label}:{requested}",
        entity_key=ENTITY,
        kind="billing.run",
        payload={"period": period.label, "require_approval": require_approval, "post": post},
        flow=FLOW,
    )
    [accepted] = flows.submit(hub, odoo or SOURCE, [event])
    return accepted


def request_scheduled(hub: Hub, fired_at: datetime, odoo: str | None = None) -> AcceptResult:
    """The schedule's request: the period :func:`scheduled_period` bills on that day."""
    period = scheduled_period(fired_at.date())
    return request(hub, period, requested=f"cron@{fired_at:%Y-%m-%dT%H:%M}", odoo=odoo)


@job("billing_run")
def _on_cron(hub: Hub, fired_at: datetime, args: dict[str, Any]) -> list[int]:
    """The schedule's tick (``flows.billing_run.trigger.cron``): request the run of each Odoo
    system (one run, as before, with one Odoo); the inbox ids."""
    odoos = hub.settings.systems_of_kind("odoo")
    if len(odoos) <= 1:
        return [request_scheduled(hub, fired_at).inbox_id]
    return [request_scheduled(hub, fired_at, odoo).inbox_id for odoo in odoos]


def propose(period: str, require_approval: bool | None) -> list[int]:
    hub = current_hub()
    result = record_proposals(hub, BillingPeriod.month(period), require_approval=require_approval)
    return result.proposed


def to_invoice() -> list[int]:
    return invoiceable(current_hub())


def invoice(proposal_id: int, post: bool | None) -> dict[str, Any]:
    invoices, error = invoice_or_record_failure(
        current_hub(), proposal_id, post=post, passing=(TransientError,)
    )
    return {"invoices": invoices} if error is None else {"error": error[:500]}


@dataclass(frozen=True)
class RunOutcome:
    inbox_id: int
    status: str  # the inbox event's: done, failed, or still queued / received
    output: dict[str, Any]  # period, proposed, invoiced, failed (empty unless done)
    run_status: str | None = None  # the engine's (ENQUEUED while no worker took it, ...)


@dataclass(frozen=True)
class StepDone:
    """One step of the run that ended, as the run reports its progress."""

    number: int
    name: str
    error: str | None


def run_and_wait(
    hub: Hub,
    period: BillingPeriod,
    *,
    requested: str,
    timeout: float,
    require_approval: bool | None = None,
    post: bool | None = None,
    on_step: Callable[[StepDone], None] | None = None,
    odoo: str | None = None,
) -> RunOutcome:
    """Request the run (:func:`request`) and wait up to ``timeout`` s for a worker to end it;
    ``on_step`` hears of each of the run's steps as it ends (its progress)."""
    accepted = request(hub, period, requested=requested, require_approval=require_approval,
                       post=post, odoo=odoo)  # fmt: skip
    workflow_id = flows.workflow_id_for(accepted.inbox_id, FLOW)
    deadline = time.monotonic() + timeout
    reported = 0
    while True:
        row = hub.inbox.get(accepted.inbox_id)
        status = row.status if row is not None else "missing"
        ended = status in ("done", "failed")
        if on_step is not None:
            steps = flows.steps_of(hub, workflow_id)
            for step in steps[reported:]:
                if step["completed_at_epoch_ms"] is None:
                    break
                on_step(StepDone(int(step["function_id"]), str(step["function_name"]),
                                 None if step["error"] is None else str(step["error"])))  # fmt: skip
                reported += 1
        if ended or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    found = flow_output(hub, workflow_id) if status == "done" else None
    output = dict(found) if found else {}
    return RunOutcome(accepted.inbox_id, status, output, flows.run_status(hub, workflow_id))


@flow(FLOW, queue="odoo", record=lambda event: f"{SOURCE}:{event.payload.get('period')}")
def billing_run(event: FlowEvent) -> dict[str, Any]:
    period = str(event.payload["period"])
    post = event.payload.get("post")
    odoo = current_target()
    proposed = call(odoo, "propose", propose, period, event.payload.get("require_approval"))
    outcomes = {
        proposal_id: call(odoo, "invoice", invoice, proposal_id, post)
        for proposal_id in call("handoff", "to_invoice", to_invoice)
    }
    return {
        "period": period,
        "proposed": proposed,
        "invoiced": {k: v["invoices"] for k, v in outcomes.items() if "invoices" in v},
        "failed": {k: v["error"] for k, v in outcomes.items() if "error" in v},
    }
