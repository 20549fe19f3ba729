"""Poll triggers: deals changed in a CRM since the last poll become inbox events, exactly like
webhook events (deduplicated by deal and modification time, routed, ordered per deal).
The cursor advances only after every changed deal of the window is in the inbox. A poll is
skipped (and counted) while the CRM's circuit is open."""

from __future__ import annotations

from handoff.connectors.registry import connectors_for
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.engine.schedules import open_circuit, systems_of_kind
from handoff.flows.routing import route
from handoff.store.inbox import IncomingEvent

STREAM = "deals"


def poll_hubspot_deals(hub: Hub) -> int:
    if open_circuit(hub, "poll.hubspot", systems_of_kind(hub, "hubspot")):
        return 0
    adapter = connectors_for(hub.settings).hubspot()
    position = hub.cursors.get("hubspot", STREAM)
    sync = adapter.sync_modified("deals", int(position.get("ms", 0)), ["hs_lastmodifieddate"])
    count = 0
    for page in sync.pages:
        events = [
            IncomingEvent(
                source_event_id=f"poll:{record.id}:{record.properties.get('hs_lastmodifieddate')}",
                entity_key=f"hubspot:deal:{record.id}",
                kind="deal.polled",
                payload={"objectId": record.id},
            )
            for record in page
        ]
        flows.submit(hub, "hubspot", route("hubspot", events))
        count += len(events)
    hub.cursors.advance("hubspot", STREAM, {"ms": sync.next_cursor_ms})
    return count


def poll_salesforce_deals(hub: Hub) -> int:
    from handoff.connectors.salesforce.adapter import SyncCursor

    if open_circuit(hub, "poll.salesforce", systems_of_kind(hub, "salesforce")):
        return 0
    adapter = connectors_for(hub.settings).salesforce()
    position = hub.cursors.get("salesforce", STREAM)
    cursor = SyncCursor.model_validate(position) if position else None
    count = 0
    for batch in adapter.changed_deals(cursor):
        events = [
            IncomingEvent(
                source_event_id=f"poll:{deal.external_id}:{deal.updated_at}",
                entity_key=f"salesforce:deal:{deal.external_id}",
                kind="Opportunity.POLLED",
                payload={"recordId": deal.external_id},
            )
            for deal in batch.records
        ]
        flows.submit(hub, "salesforce", route("salesforce", events))
        count += len(events)
        hub.cursors.advance("salesforce", STREAM, batch.cursor.model_dump(mode="json"))
    return count


POLLERS = {"hubspot": poll_hubspot_deals, "salesforce": poll_salesforce_deals}
