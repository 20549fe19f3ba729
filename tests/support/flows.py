"""Flows used by the engine tests; worker subprocesses load them through handoff.yaml's runtime.flow_modules.

The ledger stands for a target that keeps one effect per natural key, as Odoo keeps one record
per external id: each step's effect is keyed by the event it acts on (its inbox row, one per
source event) and the step's place in the flow, never by anything of the run, so a step run again
after a crash, a retry or a replay meets its own earlier effect.
"""

from __future__ import annotations

import httpx
from dbos import DBOS

from handoff.engine.flows import BatchPolicy, FlowEvent, batch_mates, finish_batch_mates, flow
from handoff.engine.steps import call

_http = httpx.Client(timeout=httpx.Timeout(2.0))


def append(url: str, key: str, entity: str, seq: int, step: int) -> dict[str, object]:
    response = _http.post(url, json={"key": key, "entity": entity, "seq": seq, "step": step})
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
            f"{event.source}:{event.inbox_id}:{step}",  # the effect's natural key
            event.entity_key,
            int(event.payload["seq"]),
            step,
        )
    return int(event.payload["seq"])


@flow("ledger_batch", queue="ledger", batch=BatchPolicy(size=3, linger_ms=100))
def ledger_batch(event: FlowEvent) -> int:
    """A flow that takes batches: one ledger effect per event of its batch, its batch-mates
    finished in bulk (what any batching flow owes the engine)."""
    workflow_id = DBOS.workflow_id or ""
    mates = DBOS.run_step({"name": "mates"}, batch_mates, workflow_id, event.inbox_id)
    for inbox_id, payload in [(event.inbox_id, event.payload), *mates]:
        key = f"{event.source}:{inbox_id}:0"  # the effect's natural key: its event's
        call("ledger", "append", append, payload["ledger"], key, event.entity_key,
             int(payload["seq"]), 0)  # fmt: skip
    DBOS.run_step({"name": "finish"}, finish_batch_mates, [i for i, _ in mates], [])
    return 1 + len(mates)
