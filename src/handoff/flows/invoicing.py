"""Invoice status back to the CRM: Odoo invoices polled on ``write_date`` become one
``invoice_status`` event per deal; the flow reads the deal's invoices and writes the figures back.

``poll_invoices(hub)`` is the trigger (run it from the scheduler every few seconds: "within a
minute of the change"); the cursor advances only after the window's events are in the inbox.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from handoff.connectors.odoo.adapter import WriteDateCursor
from handoff.connectors.registry import connectors_for
from handoff.engine import flows
from handoff.engine.flows import FlowEvent, flow
from handoff.engine.runtime import Hub, current_hub
from handoff.engine.schedules import open_circuit
from handoff.engine.steps import call
from handoff.invoicing.service import bound_orders
from handoff.invoicing.status import crm_deal, figures_for, write_back
from handoff.store.inbox import IncomingEvent

FLOW = "invoice_status"
ODOO_DATETIME = "%Y-%m-%d %H:%M:%S"
STREAM = "invoices"


def poll_invoices(hub: Hub, odoo: str | None = None, *, page_size: int = 500) -> int:
    """Submit one ``invoice_status`` event per deal whose invoices changed since the last poll,
    for the Odoo system called ``odoo`` (None: every Odoo system, each on its own cursor,
    circuit and inbox source, by name)."""
    names = [odoo] if odoo is not None else hub.settings.systems_of_kind("odoo")
    return sum(_poll_invoices_of(hub, name, page_size) for name in names)


def _poll_invoices_of(hub: Hub, system: str, page_size: int) -> int:
    if open_circuit(hub, "poll.invoices", [system]):
        return 0  # this Odoo's circuit is open: skipped and counted, the next poll probes
    odoo = connectors_for(hub.settings).odoo(system).odoo
    position = hub.cursors.get(system, STREAM)
    stored = WriteDateCursor.model_validate(position) if position else None
    cursor = _behind(stored, hub.settings.runtime.poll_lookback_seconds)
    orders = {b.order_id: b.deal_key for b in bound_orders(hub, system)}
    names = (
        {row["name"]: orders[row["id"]] for row in odoo.read("sale.order", list(orders), ["name"])}
        if orders
        else {}
    )
    count = 0
    while True:
        page = odoo.poll_changes(
            "account.move",
            ["invoice_origin"],
            cursor=cursor,
            domain=[["move_type", "in", ["out_invoice", "out_refund"]]],
            page_size=page_size,
        )
        # One event per deal: its newest invoice version in the page (id and write_date). Read
        # again in the look-back, that version is a duplicate; one committed late is new.
        latest: dict[str, str] = {}
        for record in page.records:
            deal_key = names.get(record.get("invoice_origin") or "")
            if deal_key is not None:
                latest[deal_key] = f"{record['write_date']}:{record['id']}"
        events = [
            IncomingEvent(
                source_event_id=f"invoice_status:{deal_key}:{stamp}",
                entity_key=deal_key,
                kind="invoice.changed",
                payload={"deal": deal_key},
                flow=FLOW,
            )
            for deal_key, stamp in latest.items()
        ]
        if events:
            accepted = flows.submit(hub, system, events)  # runs target this Odoo
            count += sum(not result.duplicate for result in accepted)
        if page.cursor is not None and (stored is None or _key(page.cursor) > _key(stored)):
            hub.cursors.advance(system, STREAM, page.cursor.model_dump(mode="json"))
            stored = page.cursor
        cursor = page.cursor
        if not page.more:
            return count


def _key(cursor: WriteDateCursor) -> tuple[str, int]:
    return cursor.write_date, cursor.id


def _behind(cursor: WriteDateCursor | None, seconds: float) -> WriteDateCursor | None:
    """Where a poll starts: ``seconds`` before the stored cursor (Odoo's write_date format)."""
    if cursor is None or seconds <= 0:
        return cursor
    stamp = datetime.strptime(cursor.write_date, ODOO_DATETIME) - timedelta(seconds=seconds)
    return WriteDateCursor(write_date=stamp.strftime(ODOO_DATETIME), id=0)


def update_deal_status(deal_key: str) -> dict[str, Any]:
    """Read the deal's invoices from Odoo and write the figures to its CRM (one step)."""
    hub = current_hub()
    figures = figures_for(hub, connectors_for(hub.settings).odoo().odoo, [deal_key])
    if figures:
        write_back(hub, figures)
        hub.audit.record(
            actor="handoff",
            action="write_back",
            system=crm_deal(deal_key)[0],
            model="deal",
            record_id=crm_deal(deal_key)[1],
            canonical_id=deal_key,
            after=figures[0].model_dump(mode="json"),
        )
    return figures[0].model_dump(mode="json") if figures else {}


@flow(FLOW, queue="odoo", record=lambda event: event.entity_key)
def invoice_status(event: FlowEvent) -> dict[str, Any]:
    deal_key = str(event.payload.get("deal") or event.entity_key)
    return call(crm_deal(deal_key)[0], "invoice_status", update_deal_status, deal_key)
