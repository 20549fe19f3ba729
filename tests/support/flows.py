"""Flows used by the engine tests; worker subprocesses load them through handoff.yaml's runtime.flow_modules."""

from __future__ import annotations

import httpx

from handoff.engine.flows import FlowEvent, flow
from handoff.engine.steps import call, idempotency_key

_http = httpx.Client(timeout=httpx.Timeout(2.0))


def append(url: str, entity: str, seq: int, step: int) -> dict[str, object]:
    response = _http.post(
        url, json={"key": idempotency_key(), "entity": entity, "seq": seq, "step": step}
    )
    response.raise_for_status()
    return dict(response.json())


@flow("ledger_steps", queue="ledger")
def ledger_steps(event: FlowEvent) -> int:
    """Writes ``steps`` effects to the ledger, one durable step each."""
    for step in range(int(event.payload.get("steps", 3))):
        call(
            "ledger",
            "append",
            append,
            event.payload["ledger"],
            event.entity_key,
            int(event.payload["seq"]),
            step,
        )
    return int(event.payload["seq"])
