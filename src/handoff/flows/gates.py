"""The gates a won deal's flow waits at (approval, signed SOW, deposit): how a deal is named and
how a gate is lifted. Here, below the services, because flows lift gates too (a Stripe deposit)
and a flow never imports the services that start it."""

from __future__ import annotations

from typing import Any

from handoff.engine import flows
from handoff.engine.runtime import Hub

GATE_TOPIC = "handoff.gates"


def deal_key(source: str, external_id: str) -> str:
    """How the hub names a CRM deal everywhere: inbox entity, gates, bindings' canonical id."""
    return f"{source}:deal:{external_id}"


def satisfy_gate(
    hub: Hub, key: str, gate: str, *, by: str, evidence: dict[str, Any] | None = None
) -> None:
    """Lift a gate (approval, signed SOW, deposit) and wake the deal's flow if it is waiting."""
    row = hub.gates.satisfy(key, gate, by=by, evidence=evidence)
    hub.audit.record(
        actor=by,
        action="gate.satisfied",
        system="handoff",
        model="gate",
        record_id=str(row.id),
        canonical_id=key,
        after={"gate": gate, **(evidence or {})},
        workflow_id=row.workflow_id,
    )
    if row.workflow_id:
        flows._client(hub).send(row.workflow_id, {"gate": gate}, topic=GATE_TOPIC)
