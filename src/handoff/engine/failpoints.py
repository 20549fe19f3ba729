"""Named crash points for crash tests, in the manner of FoundationDB's buggify and etcd's gofail.

Code marks the places where a crash would leave the most delicate state (``reached("inbox.accepted")``
between storing events and enqueueing their flows, inside the one transaction that does both, so
a crash there must leave nothing); a test process sets

    HANDOFF_FAILPOINTS="inbox.accepted=exit"

and the process dies there at once (``os._exit``: no cleanup, no flush, as a kill -9 would),
leaving exactly the state a crash at that point leaves. Actions: ``exit`` (every time) and
``exit-once=<file>`` (only while ``<file>`` does not exist; it is created first, so a restarted
process with the same environment passes). Unset, a failpoint costs one dict lookup.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "HANDOFF_FAILPOINTS"
CRASH_EXIT_CODE = 86  # what a process killed by a failpoint exits with, to tell it from a bug

INBOX_ACCEPTED = "inbox.accepted"  # events stored in the inbox, their flows not yet enqueued
# The first flow enqueued, its inbox row not yet marked queued, the others not enqueued.
FIRST_ENQUEUED = "inbox.first_enqueued"
# Waiting events of a batching flow claimed for their group's run, the run not yet enqueued.
BATCH_CLAIMED = "batch.claimed"


def _parse(text: str) -> dict[str, str]:
    """``"a=exit,b=exit-once=/tmp/x"`` -> ``{"a": "exit", "b": "exit-once=/tmp/x"}``."""
    points: dict[str, str] = {}
    for item in text.split(","):
        name, _, action = item.strip().partition("=")
        if name:
            points[name] = action or "exit"
    return points


_ACTIVE: dict[str, str] = _parse(os.environ.get(ENV_VAR, ""))


def reached(name: str) -> None:
    """The process is at failpoint ``name``: die here if a test asked for it."""
    action = _ACTIVE.get(name)
    if action is None:
        return
    if action.startswith("exit-once="):
        marker = Path(action.removeprefix("exit-once="))
        if marker.exists():
            return
        marker.touch()
    elif action != "exit":
        raise ValueError(f"{ENV_VAR}: unknown action {action!r} for {name!r} (exit, exit-once=)")
    os._exit(CRASH_EXIT_CODE)
