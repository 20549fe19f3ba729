"""Poll triggers: deals changed in a CRM since the last poll become inbox events, exactly like
webhook events (deduplicated by deal and modification time, routed, ordered per deal).
The cursor advances only after every changed deal of the window is in the inbox. A poll is
skipped (and counted) while the CRM's circuit is open.

Polls are per configured system *name*: each CRM system (``hubspot_eu``, ``hubspot_us``) has its
own cursor (``Cursor.system`` = its name), its own circuit and its own inbox source, and its
deals are keyed ``<name>:deal:<id>``; the invoice poll and the monitors run once per Odoo
system, each on its own cursor and circuit, so one Odoo down holds back only its own work.

And the hub's schedules (``hub_schedules``): the polls, the invoice-status poll, the monitors,
the alerts and the invoice run's cron, each the engine's scheduled workflow
(``handoff.engine.schedules``), run once per tick whatever the number of workers."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from handoff.connectors.registry import connectors_for
from handoff.connectors.salesforce.adapter import SyncCursor
from handoff.engine import flows
from handoff.engine.alerts import Alerter
from handoff.engine.runtime import Hub
from handoff.engine.schedules import Schedule, at, every, job, open_circuit
from handoff.flows.invoicing import poll_invoices
from handoff.flows.routing import route
from handoff.invoicing.monitors import run_monitors
from handoff.store.inbox import IncomingEvent

if TYPE_CHECKING:
    from handoff.config import Settings

STREAM = "deals"


def poll_hubspot_deals(hub: Hub, system: str | None = None) -> int:
    """Poll the HubSpot system called ``system`` (None: the only one)."""
    name = system or hub.settings.only_system_of_kind("hubspot")
    if open_circuit(hub, "poll.hubspot", [name]):
        return 0
    adapter = connectors_for(hub.settings).hubspot(name)
    position = hub.cursors.get(name, STREAM)
    sync = adapter.sync_modified("deals", int(position.get("ms", 0)), ["hs_lastmodifieddate"])
    count = 0
    for page in sync.pages:
        events = [
            IncomingEvent(
                source_event_id=f"poll:{record.id}:{record.properties.get('hs_lastmodifieddate')}",
                entity_key=f"{name}:deal:{record.id}",
                kind="deal.polled",
                payload={"objectId": record.id},
            )
            for record in page
        ]
        flows.submit(hub, name, route(name, events, kind="hubspot"))
        count += len(events)
    hub.cursors.advance(name, STREAM, {"ms": sync.next_cursor_ms})
    return count


def poll_salesforce_deals(hub: Hub, system: str | None = None) -> int:
    """Poll the Salesforce system called ``system`` (None: the only one)."""
    name = system or hub.settings.only_system_of_kind("salesforce")
    if open_circuit(hub, "poll.salesforce", [name]):
        return 0
    adapter = connectors_for(hub.settings).salesforce(name)
    position = hub.cursors.get(name, STREAM)
    cursor = SyncCursor.model_validate(position) if position else None
    count = 0
    for batch in adapter.changed_deals(cursor):
        events = [
            IncomingEvent(
                source_event_id=f"poll:{deal.external_id}:{deal.updated_at}",
                entity_key=f"{name}:deal:{deal.external_id}",
                kind="Opportunity.POLLED",
                payload={"recordId": deal.external_id},
            )
            for deal in batch.records
        ]
        flows.submit(hub, name, route(name, events, kind="salesforce"))
        count += len(events)
        hub.cursors.advance(name, STREAM, batch.cursor.model_dump(mode="json"))
    return count


POLLERS = {"hubspot": poll_hubspot_deals, "salesforce": poll_salesforce_deals}


# ── The hub's schedules (run by every worker as the engine's scheduled workflows) ───────────

INVOICE_POLL_SECONDS = 20.0  # invoice and payment status reach the CRM within a minute
ALERTS_STREAM = "alerts.firing"  # the conditions already sent, whichever worker sent them


def _crm_systems(hub: Hub, args: dict[str, Any]) -> list[str]:
    return [str(args["system"])]


@job("poll.deals", systems=_crm_systems)
def _poll_deals(hub: Hub, fired_at: datetime, args: dict[str, Any]) -> int:
    name = str(args["system"])
    return POLLERS[hub.settings.system(name).kind](hub, name)


# One tick polls every Odoo system; each is skipped alone while its own circuit is open.
@job("poll.invoices")
def _poll_invoices(hub: Hub, fired_at: datetime, args: dict[str, Any]) -> int:
    return poll_invoices(hub)


@job("monitors")
def _monitors(hub: Hub, fired_at: datetime, args: dict[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for odoo in hub.settings.systems_of_kind("odoo"):
        for name, count in run_monitors(hub, odoo=odoo).counts().items():
            counts[name] = counts.get(name, 0) + count
    return counts


@job("alerts")
def _alerts(hub: Hub, fired_at: datetime, args: dict[str, Any]) -> list[str]:
    """Send the alert conditions that started since the last tick, on whichever worker: the
    ones already firing are kept in the store, not in one process's memory."""
    alerter = Alerter()
    alerter.firing = set(hub.cursors.get("handoff", ALERTS_STREAM).get("keys", []))
    started = alerter.check(hub)
    hub.cursors.advance("handoff", ALERTS_STREAM, {"keys": sorted(alerter.firing)})
    return [alert.key for alert in started]


def invoice_poll_seconds(settings: Settings) -> float:
    """flows.invoice_status.trigger.poll.interval_seconds when configured, else 20 s."""
    configured = settings.flows.get("invoice_status")
    trigger = configured.trigger if configured is not None else None
    poll = trigger.poll if trigger is not None else None
    return poll.interval_seconds if poll is not None else INVOICE_POLL_SECONDS


def hub_schedules(settings: Settings) -> list[Schedule]:
    """What the hub runs on a schedule, from handoff.yaml: each configured deal poll
    (``flows.*.trigger.poll``); alerts (``runtime.alerts_seconds``); with an Odoo, the invoice
    status poll and the monitors (``runtime.monitors_seconds``); the invoice run on its cron
    (``flows.billing_run.trigger.cron``)."""
    schedules = []
    for name, flow_config in settings.flows.items():
        poll = flow_config.trigger.poll if flow_config.trigger is not None else None
        if not flow_config.enabled or poll is None or name == "invoice_status":
            continue
        if settings.system(poll.system).kind in POLLERS:
            cron, period = every(poll.interval_seconds)
            schedules.append(Schedule(f"poll.{name}", "poll.deals", cron,
                                      f"{name}: poll {poll.system} every {period:g}s",
                                      {"system": poll.system}))  # fmt: skip
    cron, period = every(settings.runtime.alerts_seconds)
    schedules.append(Schedule("alerts", "alerts", cron, f"alerts every {period:g}s"))
    if any(system.kind == "odoo" for system in settings.systems.values()):
        cron, period = every(invoice_poll_seconds(settings))
        schedules.append(Schedule("poll.invoice_status", "poll.invoices", cron,
                                  f"invoice status poll every {period:g}s"))  # fmt: skip
        cron, period = every(settings.runtime.monitors_seconds)
        schedules.append(Schedule("monitors", "monitors", cron, f"monitors every {period:g}s"))
    billing = settings.flows.get("billing_run")
    if billing is not None and billing.enabled and billing.trigger and billing.trigger.cron:
        # It bills the month just ended when the cron fires in a month's first days, else the
        # current month (invoicing.service.scheduled_period).
        schedules.append(Schedule("billing_run", "billing_run", at(billing.trigger.cron),
                                  f"billing run on cron {billing.trigger.cron}"))  # fmt: skip
    return schedules
