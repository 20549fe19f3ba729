"""What the durable engine tells of one run once it has ended."""

from __future__ import annotations

from typing import Any

from handoff.engine import flows
from handoff.engine.runtime import Hub


def flow_output(hub: Hub, workflow_id: str) -> Any:
    """What a finished flow run returned (None while it runs, or when it failed)."""
    found = flows._client(hub).list_workflows(workflow_ids=[workflow_id], load_output=True)
    return found[0].output if found else None
