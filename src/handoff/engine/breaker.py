"""A circuit breaker per target system, its state in the store so every worker sees it.

After ``failure_threshold`` consecutive transient failures the circuit opens for
``cooldown_seconds``: work waits instead of burning retries. After the cool-down exactly one
probe call is let through (half-open); its success closes the circuit, its failure opens it
again, and every other caller waits meanwhile, in every process: the probe is taken by one
conditional UPDATE of the circuit's row (``wait_seconds``), which one caller wins. A stored
"half_open" row is a probe in flight since its ``updated_at``; a probe that has not reported
within ``probe_timeout_seconds`` (its process died) is presumed lost and the next caller probes.

A stored "open" whose open-until has passed *is* half-open: ``effective_state`` says so, and
every reader (flows, schedules, CLI, API, metrics) sees the state through it.

Time comes from an injectable clock (``CircuitBreakers(clock=...)``, ``handoff.engine.clock``), the
open-until and the read cache's age alike, so tests move it instead of racing the wall clock.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from handoff.engine.clock import SYSTEM_CLOCK, Clock
from handoff.store.db import Store
from handoff.store.models import Circuit, CircuitState

CIRCUIT_WAITS = Counter(
    "handoff_circuit_waits_total", "Calls that waited for an open circuit", ["system"]
)
SCHEDULED_SKIPPED = Counter(
    "handoff_scheduled_runs_skipped_total",
    "Scheduled runs (pollers, monitors) skipped because a system's circuit was open",
    ["job", "system"],
)


def effective_state(
    state: CircuitState | str, opened_until: datetime | None, now: datetime | None = None
) -> CircuitState:
    """The state a circuit is in *now*: an open circuit whose open-until has passed is half-open
    (the next call is the probe), whatever the stored row still says."""
    state = CircuitState(state)
    expired = opened_until is not None and opened_until <= (now or datetime.now(UTC))
    return CircuitState.HALF_OPEN if state == CircuitState.OPEN and expired else state


# How often callers waiting on another's probe ask again (each ask is a durable step and sleep).
PROBE_POLL_SECONDS = 1.0


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    # How long the one probe of a half-open circuit may take to report its outcome before it is
    # presumed lost (its process died mid-call) and the next caller probes instead.
    probe_timeout_seconds: float = 60.0


@dataclass(frozen=True)
class CircuitView:
    system: str
    state: CircuitState
    consecutive_failures: int
    opened_until: datetime | None
    last_error: str | None
    probe_since: datetime | None = None  # half-open with its one probe in flight since then


class CircuitBreakers:
    """All circuits of one store. Reads are cached briefly: a closed circuit costs no query."""

    CACHE_SECONDS = 0.5

    def __init__(
        self,
        store: Store,
        policies: dict[str, BreakerPolicy] | None = None,
        *,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.store = store
        self.policies = policies or {}
        self.clock = clock
        self._cache: dict[str, tuple[float, CircuitView]] = {}
        self._lock = threading.Lock()

    def policy(self, system: str) -> BreakerPolicy:
        return self.policies.get(system, BreakerPolicy())

    def view(self, system: str, *, fresh: bool = False) -> CircuitView:
        now = self.clock.monotonic()
        with self._lock:
            cached = self._cache.get(system)
        if cached and not fresh and now - cached[0] < self.CACHE_SECONDS:
            return self._effective(cached[1])
        with self.store.session() as session:
            row = session.get(Circuit, system)
            view = _view(system, row)
        with self._lock:
            self._cache[system] = (now, view)
        return self._effective(view)

    def wait_seconds(self, system: str) -> float:
        """0 when this caller may call ``system`` now, else how long to wait before asking again.

        Closed: 0. Open: the rest of the cool-down. Half-open: 0 for the one caller that takes
        the probe (across processes: the store decides), else until the probe has reported,
        asked again every ``PROBE_POLL_SECONDS``. A 0 from a half-open circuit is the probe:
        its caller must report its outcome (``record_success`` / ``record_failure``)."""
        if self.view(system).state == CircuitState.CLOSED:
            return 0.0
        policy = self.policy(system)
        for _ in range(3):  # a probe that ends between the two statements below: ask again
            now = self.clock.now()
            with self.store.session() as session:
                taken = _take_probe(session, system, now, policy)
                row = None if taken else session.get(Circuit, system)
                state = CircuitState(row.state) if row is not None else CircuitState.CLOSED
                wait = _open_for(row, now, policy) if row is not None else 0.0
            if taken:
                self._forget(system)  # the probe's outcome is written over a fresh read
                return 0.0
            if state == CircuitState.CLOSED:
                return 0.0
            if wait > 0:
                return min(wait, PROBE_POLL_SECONDS) if state == CircuitState.HALF_OPEN else wait
        return PROBE_POLL_SECONDS

    def is_open(self, system: str) -> bool:
        """True while calls to ``system`` must wait: open (cool-down not over) or half-open with
        its probe in flight. Read-only: it never takes the probe (schedules ask it to skip a
        run; their calls go through ``wait_seconds`` like every other)."""
        if self.view(system).state == CircuitState.CLOSED:
            return False
        with self.store.session() as session:
            row = session.get(Circuit, system)
            return row is not None and _open_for(row, self.clock.now(), self.policy(system)) > 0

    def record_success(self, system: str) -> None:
        view = self.view(system)
        if view.state == CircuitState.CLOSED and view.consecutive_failures == 0:
            return
        with self.store.session() as session:
            row = _row(session, system)
            row.state = CircuitState.CLOSED
            row.consecutive_failures = 0
            row.opened_until = None
        self._forget(system)

    def record_failure(self, system: str, error: str) -> CircuitState:
        policy = self.policy(system)
        with self.store.session() as session:
            row = _row(session, system, for_update=True)
            now = self.clock.now()
            row.consecutive_failures += 1
            row.last_error = error[:2000]
            if (
                effective_state(row.state, row.opened_until, now) == CircuitState.HALF_OPEN
                or row.consecutive_failures >= policy.failure_threshold
            ):
                row.state = CircuitState.OPEN
                row.opened_until = now + timedelta(seconds=policy.cooldown_seconds)
            state = CircuitState(row.state)
        self._forget(system)
        return state

    def all(self) -> list[CircuitView]:
        with self.store.session() as session:
            return [
                self._effective(_view(row.system, row)) for row in session.scalars(select(Circuit))
            ]

    def _effective(self, view: CircuitView) -> CircuitView:
        state = effective_state(view.state, view.opened_until, self.clock.now())
        if state == view.state:
            return view
        return CircuitView(
            view.system,
            state,
            view.consecutive_failures,
            view.opened_until,
            view.last_error,
            view.probe_since,
        )

    def _forget(self, system: str) -> None:
        with self._lock:
            self._cache.pop(system, None)


def _take_probe(session: Session, system: str, now: datetime, policy: BreakerPolicy) -> bool:
    """Whether this caller took the probe of ``system``: one UPDATE that matches only while no
    probe is in flight (open with its cool-down over, or a probe older than the probe timeout),
    so of concurrent callers in any number of processes exactly one matches. The row then
    stays "half_open" since ``now`` until the probe's outcome is recorded."""
    lost = now - timedelta(seconds=policy.probe_timeout_seconds)
    taken = session.execute(
        update(Circuit)
        .where(
            Circuit.system == system,
            or_(
                and_(Circuit.state == CircuitState.OPEN, Circuit.opened_until <= now),
                and_(Circuit.state == CircuitState.HALF_OPEN, Circuit.updated_at <= lost),
            ),
        )
        .values(state=CircuitState.HALF_OPEN, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(taken, "rowcount", 0) == 1)


def _open_for(row: Circuit, now: datetime, policy: BreakerPolicy) -> float:
    """Seconds until ``row`` lets a caller through: the rest of an open circuit's cool-down, or
    of the time a half-open circuit's probe has to report; 0 when the probe is free."""
    if row.state == CircuitState.OPEN and row.opened_until is not None:
        return max(0.0, (row.opened_until - now).total_seconds())
    if row.state == CircuitState.HALF_OPEN:
        deadline = row.updated_at + timedelta(seconds=policy.probe_timeout_seconds)
        return max(0.0, (deadline - now).total_seconds())
    return 0.0


def _row(session: Session, system: str, *, for_update: bool = False) -> Circuit:
    query = select(Circuit).where(Circuit.system == system)
    if for_update:
        query = query.with_for_update()
    row = session.scalar(query)
    if row is None:
        from sqlalchemy.exc import IntegrityError

        try:
            with session.begin_nested():
                row = Circuit(system=system, state=CircuitState.CLOSED, consecutive_failures=0)
                session.add(row)
        except IntegrityError:
            # Another flow of the same system created the row first (flows run side by side).
            row = session.scalar(query)
            assert row is not None
    return row


def _view(system: str, row: Circuit | None) -> CircuitView:
    if row is None:
        return CircuitView(system, CircuitState.CLOSED, 0, None, None)
    state = CircuitState(row.state)
    return CircuitView(
        system,
        state,
        row.consecutive_failures,
        row.opened_until,
        row.last_error,
        row.updated_at if state == CircuitState.HALF_OPEN else None,
    )
