"""Deals read and written across runs with the CRMs' batch endpoints.

Each won deal is its own durable run (its own outcome, exception and replay), but its CRM reads
and writes need not be its own requests:

- ``SnapshotPrefetcher``: the first run that needs a deal's snapshot reads, in one batch, the
  snapshots of up to ``size`` deals: its own and those of the deals still waiting in the inbox
  for the same flow (``pending``). The others are kept, and the run of each of those deals takes
  its snapshot from here instead of reading it again, but only if the snapshot was read after
  that run's event was received: a change announced after the read is never hidden by it.
  Every snapshot is handed out once; after that (a retry, a later event) the deal is read
  again. One batch read is in flight per CRM at a time: runs that need a deal meanwhile wait for
  it and then find their snapshot, so a burst of deals costs one batch read, not N.
- ``WriteBackBatcher``: write-backs that arrive within ``linger`` seconds of each other (or
  until ``size`` of them wait) go out as one batch update; each caller gets its own deal's
  outcome (an error for its deal is raised to it alone; a failed request to all of them, and
  each run's step retries it).

Both are per process and per CRM system; the run's step records what it got, so a replay takes
the same path whatever is cached. When a grouped run (one run for N deal events) exists, it
calls ``CrmSource.fetch_deals`` / ``write_back_many`` directly and needs neither.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from handoff.canonical.errors import HandoffError
from handoff.crm.sources import CrmSource, DealSnapshot, DeliveryStatus, SnapshotOutcome

BATCH_SIZE = 100  # HubSpot's batch input limit; Salesforce's IN lists take more
KEEP_FOR = timedelta(minutes=5)  # a prefetched snapshot not taken by then is read again
MAX_KEPT = 2_000
WRITE_LINGER_SECONDS = 0.05


@dataclass
class _Kept:
    outcome: SnapshotOutcome
    read_at: datetime  # when the read started: the snapshot is at least this recent


@dataclass(frozen=True)
class Waiting:
    """An event still waiting for its run: which inbox row, for which deal."""

    event: int
    deal_id: str


@dataclass
class PrefetchStats:
    batches: int = 0
    deals_read: int = 0
    served_from_batch: int = 0


class SnapshotPrefetcher:
    def __init__(
        self,
        *,
        size: int = BATCH_SIZE,
        keep_for: timedelta = KEEP_FOR,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.size = size
        self.keep_for = keep_for
        self.clock = clock
        self._kept: dict[str, _Kept] = {}
        # Events whose run already has its snapshot (inbox id -> when): their rows stay queued
        # until the run ends, and reading their deals ahead again would be waste.
        self._served: dict[int, datetime] = {}
        self._lock = threading.Lock()
        self._reading = threading.Lock()  # one batch read in flight per CRM
        self.stats = PrefetchStats()

    def snapshot(
        self,
        source: CrmSource,
        deal_id: str,
        *,
        event: int | None = None,
        received_at: datetime | None = None,
        pending: Callable[[], Sequence[Waiting]] = tuple,
    ) -> DealSnapshot:
        """The snapshot of ``deal_id`` for the run of inbox row ``event``, read after that
        event was ``received_at``; raises the deal's own error."""
        kept = self._take(deal_id, event, received_at)
        if kept is None:
            with self._reading:
                # A batch read that ended while this run waited may have read its deal.
                kept = self._take(deal_id, event, received_at)
                if kept is None:
                    kept = self._read(source, deal_id, event, pending)
        if isinstance(kept, HandoffError):
            raise kept
        return kept

    def _take(
        self, deal_id: str, event: int | None, received_at: datetime | None
    ) -> SnapshotOutcome | None:
        with self._lock:
            self._expire()
            kept = self._kept.pop(deal_id, None)  # each snapshot is handed out once
            if kept is None:
                return None
            if received_at is not None and kept.read_at < _aware(received_at):
                return None  # read before this deal's event: stale for it
            self._mark_served(event, kept.read_at)
            self.stats.served_from_batch += 1
            return kept.outcome

    def _read(
        self,
        source: CrmSource,
        deal_id: str,
        event: int | None,
        pending: Callable[[], Sequence[Waiting]],
    ) -> SnapshotOutcome:
        waiting = pending()
        with self._lock:
            skip = set(self._kept) | {deal_id}
            served = set(self._served)
        others = list(
            dict.fromkeys(
                w.deal_id for w in waiting if w.deal_id not in skip and w.event not in served
            )
        )
        ids = [deal_id, *others[: self.size - 1]]
        read_at = self.clock()
        outcomes = source.fetch_deals(ids)
        with self._lock:
            self.stats.batches += 1
            self.stats.deals_read += len(ids)
            self._mark_served(event, read_at)
            for other in ids[1:]:
                if other in outcomes and len(self._kept) < MAX_KEPT:
                    self._kept[other] = _Kept(outcomes[other], read_at)
        return outcomes[deal_id]

    def _mark_served(self, event: int | None, moment: datetime) -> None:
        if event is not None:
            self._served[event] = moment

    def _expire(self) -> None:
        oldest = self.clock() - self.keep_for
        for key in [k for k, v in self._kept.items() if v.read_at < oldest]:
            del self._kept[key]
        for event in [k for k, v in self._served.items() if v < oldest]:
            del self._served[event]

    def forget(self) -> None:
        with self._lock:
            self._kept.clear()
            self._served.clear()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@dataclass
class _Waiting:
    deal_id: str
    status: DeliveryStatus
    done: Future[None] = field(default_factory=Future)


@dataclass
class WriteBackStats:
    batches: int = 0
    deals_written: int = 0


class WriteBackBatcher:
    def __init__(
        self,
        *,
        linger: float = WRITE_LINGER_SECONDS,
        size: int = BATCH_SIZE,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.linger = linger
        self.size = size
        self.sleep = sleep
        self._waiting: list[_Waiting] = []
        self._lock = threading.Lock()
        self._full = threading.Condition(self._lock)
        self.stats = WriteBackStats()

    def write(self, source: CrmSource, deal_id: str, status: DeliveryStatus) -> None:
        """Write this deal's status, in one batch with the others waiting; raises its error."""
        mine = _Waiting(deal_id, status)
        taken: list[_Waiting] = []
        with self._lock:
            leads = not self._waiting
            self._waiting.append(mine)
            if len(self._waiting) >= self.size:
                self._full.notify_all()
            if leads:
                # The first write waits a little for others; whoever comes after it joins it.
                self._full.wait_for(lambda: len(self._waiting) >= self.size, timeout=self.linger)
                taken, self._waiting = self._waiting, []
        for batch in _batches(taken, self.size):
            self._send(source, batch)
        mine.done.result()

    def _send(self, source: CrmSource, batch: list[_Waiting]) -> None:
        try:
            refused = source.write_back_many({w.deal_id: w.status for w in batch})
        except BaseException as error:  # the request failed: every deal in it retries
            for waiting in batch:
                waiting.done.set_exception(error)
            return
        with self._lock:
            self.stats.batches += 1
            self.stats.deals_written += len(batch)
        for waiting in batch:
            failure: HandoffError | None = refused.get(waiting.deal_id)
            if failure is None:
                waiting.done.set_result(None)
            else:
                waiting.done.set_exception(failure)


def _batches(waiting: list[_Waiting], size: int) -> list[list[_Waiting]]:
    """Batches of at most ``size`` writes, one per deal each: a deal's second write goes in a
    later batch, after its first (a batch update names each record once)."""
    batches: list[list[_Waiting]] = []
    for item in waiting:
        for batch in batches:
            if len(batch) < size and all(w.deal_id != item.deal_id for w in batch):
                batch.append(item)
                break
        else:
            batches.append([item])
    return batches
