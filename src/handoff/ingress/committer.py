"""Group commit for the webhooks: the events of concurrent requests of one source are stored and
their runs enqueued in ONE ``flows.submit`` (one transaction), and each request is answered when
that transaction has committed, with its own results.

Why: on SQLite one writer at a time holds the database; many requests each committing on its own
thread queue on its lock (SQLite's busy handler sleeps between tries: the long tail) and each
pays a transaction. Here one writer thread (a few on PostgreSQL) takes whatever has arrived while
the previous transaction ran, so the batch grows with the load and a lone request is not delayed
(no timer: a request that finds the writer idle is committed at once).

What each request keeps:

- Durability: its future is settled only after ``flows.submit`` returned, i.e. its events and
  their runs (or whatever submit stores with them) committed; a crash before that loses nothing
  the sender was told was accepted, and its redelivery dedups in the inbox.
- Its own answer: results are split back per request, in order. A duplicate inside a group is
  answered as it would be alone (the first copy wins, in arrival order).
- Its own error: when a group's transaction fails, each of its requests is committed again on
  its own, so one request's failure fails that request only.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from handoff.engine import failpoints, flows
from handoff.engine.runtime import Hub
from handoff.ingress.inbox import routed
from handoff.store.inbox import AcceptResult, IncomingEvent

# Failpoint: a group committed, none of its requests answered yet (what a crash there leaves:
# events stored and enqueued that the senders were not told about; they redeliver, it dedups).
GROUP_COMMITTED = "ingress.group_committed"
# A group takes at most this many events (one request's batch always fits whole).
MAX_GROUP_EVENTS = 1000

Commit = Callable[[str, list[IncomingEvent]], list[AcceptResult]]
Outcome = list[AcceptResult] | BaseException
_Settled = tuple["asyncio.Future[list[AcceptResult]]", Outcome]


@dataclass
class _Waiting:
    events: list[IncomingEvent]
    future: asyncio.Future[list[AcceptResult]]
    loop: asyncio.AbstractEventLoop = field(init=False)

    def __post_init__(self) -> None:
        self.loop = self.future.get_loop()


def _settle(pairs: list[_Settled]) -> None:
    for future, outcome in pairs:
        if future.done():  # its request was cancelled (the client left): nothing to answer
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


class Committer:
    """Coalesces concurrent ``submit(source, events)`` calls into one ``commit(source, events)``
    per source and group, on at most ``writers`` threads of its own."""

    def __init__(
        self, commit: Commit, *, writers: int = 1, max_group_events: int = MAX_GROUP_EVENTS
    ) -> None:
        if writers < 1:
            raise ValueError("a committer needs at least one writer")
        self._commit = commit
        self._writers = writers
        self._max_group_events = max_group_events
        self._lock = threading.Lock()
        self._pending: dict[str, list[_Waiting]] = {}
        self._running = 0
        self._executor = ThreadPoolExecutor(
            max_workers=writers, thread_name_prefix="ingress-commit"
        )
        # What the committer did, for tests and the benchmark: transactions and requests.
        self.groups = 0
        self.requests = 0

    async def submit(self, source: str, events: Sequence[IncomingEvent]) -> list[AcceptResult]:
        """Store ``events`` of ``source`` with the requests' that arrive meanwhile; returns their
        results once committed (or raises what their own commit raised)."""
        future: asyncio.Future[list[AcceptResult]] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._pending.setdefault(source, []).append(_Waiting(list(events), future))
            start = self._running < self._writers
            if start:
                self._running += 1
        if start:
            self._executor.submit(self._drain)
        return await future

    def close(self) -> None:
        """Finish the groups under way and stop the writer threads."""
        self._executor.shutdown(wait=True)

    def _take(self) -> tuple[str, list[_Waiting]] | None:
        """The oldest source's waiting requests, up to a group's size (caller holds the lock);
        what is left goes behind the other sources."""
        if not self._pending:
            return None
        source = next(iter(self._pending))
        waiting = self._pending.pop(source)
        size, count = 0, 0
        for item in waiting:
            if count and size + len(item.events) > self._max_group_events:
                break
            size += len(item.events)
            count += 1
        if count < len(waiting):
            self._pending[source] = waiting[count:]
        return source, waiting[:count]

    def _drain(self) -> None:
        """A writer: commit groups until nothing waits."""
        while True:
            with self._lock:
                taken = self._take()
                if taken is None:
                    self._running -= 1
                    return
            source, group = taken
            try:
                outcomes = self._commit_group(source, group)
            except BaseException as error:  # handed to each request, not lost
                outcomes = [error] * len(group)
            by_loop: dict[asyncio.AbstractEventLoop, list[_Settled]] = {}
            for item, outcome in zip(group, outcomes, strict=True):
                by_loop.setdefault(item.loop, []).append((item.future, outcome))
            for loop, pairs in by_loop.items():
                # A closed loop (its server stopped) has nobody waiting any more.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_settle, pairs)

    def _commit_group(self, source: str, group: list[_Waiting]) -> list[Outcome]:
        self.groups += 1
        self.requests += len(group)
        events = [event for item in group for event in item.events]
        try:
            results = self._commit(source, events)
        except Exception as error:
            if len(group) == 1:
                return [error]
            # One request's events failed the group's transaction (nothing of it committed):
            # each request again on its own, so that only its own answer is an error.
            return [self._alone(source, item.events) for item in group]
        failpoints.reached(GROUP_COMMITTED)
        outcomes: list[Outcome] = []
        start = 0
        for item in group:
            outcomes.append(results[start : start + len(item.events)])
            start += len(item.events)
        return outcomes

    def _alone(self, source: str, events: list[IncomingEvent]) -> Outcome:
        self.groups += 1
        try:
            results = self._commit(source, events)
        except Exception as error:
            return error
        failpoints.reached(GROUP_COMMITTED)
        return results


def hub_committer(hub: Hub) -> Committer:
    """The committer of ``hub``'s webhooks: ``flows.submit``, one writer on SQLite (one writer
    at a time holds the file: more would only queue on its lock), a few on PostgreSQL."""
    writers = 1 if hub.store.dialect == "sqlite" else 4
    return Committer(lambda source, events: flows.submit(hub, source, events), writers=writers)


class CommittedInbox:
    """The webhooks' inbox: routed events stored and their flows enqueued through a committer."""

    def __init__(self, hub: Hub, committer: Committer) -> None:
        self.hub = hub
        self.committer = committer

    async def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        return await self.committer.submit(source, routed(self.hub, source, events))
