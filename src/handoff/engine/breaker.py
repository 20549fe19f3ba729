"""A circuit breaker per target system, its state in the store so every worker sees it.

After ``failure_threshold`` consecutive transient failures the circuit opens for
``cooldown_seconds``: work waits instead of burning retries. After the cool-down one probe call
is let through (half-open); its success closes the circuit, its failure opens it again.

A stored "open" whose open-until has passed *is* half-open: ``effective_state`` says so, and
every reader (flows, schedules, CLI, API, metrics) sees the state through it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from prometheus_client import Counter
from sqlalchemy import select

from handoff.store.db import Store
from handoff.store.models import Circuit, CircuitState, utcnow

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


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0


@dataclass(frozen=True)
class CircuitView:
    system: str
    state: CircuitState
    consecutive_failures: int
    opened_until: datetime | None
    last_error: str | None


class CircuitBreakers:
    """All circuits of one store. Reads are cached briefly: a closed circuit costs no query."""

    CACHE_SECONDS = 0.5

    def __init__(self, store: Store, policies: dict[str, BreakerPolicy] | None = None) -> None:
        self.store = store
        self.policies = policies or {}
        self._cache: dict[str, tuple[float, CircuitView]] = {}
        self._lock = threading.Lock()

    def policy(self, system: str) -> BreakerPolicy:
        return self.policies.get(system, BreakerPolicy())

    def view(self, system: str, *, fresh: bool = False) -> CircuitView:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(system)
        if cached and not fresh and now - cached[0] < self.CACHE_SECONDS:
            return _effective(cached[1])
        with self.store.session() as session:
            row = session.get(Circuit, system)
            view = _view(system, row)
        with self._lock:
            self._cache[system] = (now, view)
        return _effective(view)

    def wait_seconds(self, system: str) -> float:
        """0 when a call may go ahead now, else how long the circuit stays open."""
        view = self.view(system)
        if view.state == CircuitState.CLOSED:
            return 0.0
        view = self.view(system, fresh=True)
        if view.state == CircuitState.OPEN and view.opened_until is not None:
            return max(0.0, (view.opened_until - datetime.now(UTC)).total_seconds())
        return 0.0

    def is_open(self, system: str) -> bool:
        """True while calls to ``system`` must wait (open, cool-down not over)."""
        return self.wait_seconds(system) > 0

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
            row.consecutive_failures += 1
            row.last_error = error[:2000]
            if (
                effective_state(row.state, row.opened_until) == CircuitState.HALF_OPEN
                or row.consecutive_failures >= policy.failure_threshold
            ):
                row.state = CircuitState.OPEN
                row.opened_until = utcnow() + timedelta(seconds=policy.cooldown_seconds)
            state = CircuitState(row.state)
        self._forget(system)
        return state

    def all(self) -> list[CircuitView]:
        with self.store.session() as session:
            return [
                _effective(_view(row.system, row)) for row in session.scalars(select(Circuit))
            ]

    def _forget(self, system: str) -> None:
        with self._lock:
            self._cache.pop(system, None)


def _row(session: object, system: str, *, for_update: bool = False) -> Circuit:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
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


def _effective(view: CircuitView) -> CircuitView:
    state = effective_state(view.state, view.opened_until)
    if state == view.state:
        return view
    return CircuitView(
        view.system, state, view.consecutive_failures, view.opened_until, view.last_error
    )


def _view(system: str, row: Circuit | None) -> CircuitView:
    if row is None:
        return CircuitView(system, CircuitState.CLOSED, 0, None, None)
    return CircuitView(
        system, CircuitState(row.state), row.consecutive_failures, row.opened_until, row.last_error
    )
