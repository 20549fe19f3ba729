"""A half-open circuit lets exactly one probe through, across processes: the others keep waiting
until the probe's outcome closes the circuit or opens it again; a probe that never reports (its
process died) is given up after the probe timeout and exactly one other caller probes.

Each caller is its own CircuitBreakers on its own engine (as a worker process has), all on one
store (SQLite and PostgreSQL), asking at the same instant from threads; time is an injected
clock moved by the test, never the wall clock."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pytest

from handoff.canonical.errors import PermanentError
from handoff.config import Settings, StoreConfig
from handoff.engine import steps
from handoff.engine.breaker import PROBE_POLL_SECONDS, BreakerPolicy, CircuitBreakers
from handoff.engine.runtime import Hub, set_current_hub
from handoff.store import migrate
from handoff.store.db import Store
from handoff.store.models import CircuitState
from support.clock import FakeClock

CALLERS = 8
SYSTEM = "odoo"
POLICY = BreakerPolicy(failure_threshold=2, cooldown_seconds=30, probe_timeout_seconds=60)
T = TypeVar("T")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def callers(store_url: str, clock: FakeClock) -> Iterator[list[CircuitBreakers]]:
    migrate.upgrade(Store(store_url))
    stores = [Store(store_url) for _ in range(CALLERS)]
    yield [CircuitBreakers(store, {SYSTEM: POLICY}, clock=clock) for store in stores]
    for store in stores:
        store.dispose()


def at_once(callers: list[CircuitBreakers], ask: Callable[[CircuitBreakers], T]) -> list[T]:
    """``ask`` of every caller, all released at the same instant."""
    start = threading.Barrier(len(callers))

    def one(breakers: CircuitBreakers) -> T:
        start.wait()
        return ask(breakers)

    with ThreadPoolExecutor(len(callers)) as pool:
        return list(pool.map(one, callers))


def waits(callers: list[CircuitBreakers]) -> list[float]:
    return at_once(callers, lambda b: b.wait_seconds(SYSTEM))


def probers(answers: list[float]) -> list[int]:
    return [i for i, wait in enumerate(answers) if wait == 0.0]


def open_circuit(breakers: CircuitBreakers) -> None:
    for _ in range(POLICY.failure_threshold):
        breakers.record_failure(SYSTEM, "503 Service Unavailable")


def test_one_probe_after_the_cooldown_the_others_wait_until_it_closes_the_circuit(
    callers: list[CircuitBreakers], clock: FakeClock
) -> None:
    open_circuit(callers[0])
    answers = waits(callers)
    assert all(wait == POLICY.cooldown_seconds for wait in answers), answers

    clock.advance(POLICY.cooldown_seconds)
    answers = waits(callers)
    [probe] = probers(answers)  # exactly one, whichever won
    assert all(0 < wait <= PROBE_POLL_SECONDS for i, wait in enumerate(answers) if i != probe)

    # The probe is slow: the others keep waiting (and a schedule would skip), however often
    # they ask, until the probe reports.
    for _ in range(3):
        clock.advance(PROBE_POLL_SECONDS)
        assert probers(waits(callers)) == []
        assert all(at_once(callers, lambda b: b.is_open(SYSTEM)))

    callers[probe].record_success(SYSTEM)
    assert probers(waits(callers)) == list(range(CALLERS))  # closed: everyone goes
    view = callers[0].view(SYSTEM, fresh=True)
    assert (view.state, view.consecutive_failures) == (CircuitState.CLOSED, 0)


def test_a_failed_probe_opens_the_circuit_again_and_the_next_cooldown_has_one_probe(
    callers: list[CircuitBreakers], clock: FakeClock
) -> None:
    open_circuit(callers[0])
    for _ in range(3):
        clock.advance(POLICY.cooldown_seconds)
        [probe] = probers(waits(callers))
        assert callers[probe].record_failure(SYSTEM, "still down") == CircuitState.OPEN
        answers = waits(callers)
        assert all(wait == POLICY.cooldown_seconds for wait in answers), answers
    clock.advance(POLICY.cooldown_seconds)
    [probe] = probers(waits(callers))
    callers[probe].record_success(SYSTEM)
    assert probers(waits(callers)) == list(range(CALLERS))


def test_a_probe_that_never_reports_is_replaced_by_exactly_one_after_the_probe_timeout(
    callers: list[CircuitBreakers], clock: FakeClock
) -> None:
    open_circuit(callers[0])
    clock.advance(POLICY.cooldown_seconds)
    [lost] = probers(waits(callers))  # its process dies mid-call: no outcome is ever recorded
    survivors = [b for i, b in enumerate(callers) if i != lost]

    clock.advance(POLICY.probe_timeout_seconds - 1)
    assert probers(waits(survivors)) == []
    clock.advance(1)
    [probe] = probers(waits(survivors))
    assert probers(waits(survivors)) == []  # and then nobody else
    survivors[probe].record_success(SYSTEM)
    assert probers(waits(survivors)) == list(range(len(survivors)))


def test_a_probe_refused_with_a_4xx_closes_the_circuit_the_system_answered(
    store_url: str, callers: list[CircuitBreakers], clock: FakeClock
) -> None:
    """The probe goes through the engine's call step (steps.call); the system refuses the
    record (a permanent error): it is up, so the others go at once instead of waiting out the
    probe timeout."""
    hub = Hub.from_settings(Settings(store=StoreConfig(url=store_url)), clock=clock)
    hub.breakers = callers[0]
    set_current_hub(hub)

    def refused() -> None:
        raise PermanentError("422: the partner has no email")

    try:
        open_circuit(callers[0])
        clock.advance(POLICY.cooldown_seconds)
        with pytest.raises(PermanentError):
            steps.call(SYSTEM, "write", refused)
        assert callers[1].view(SYSTEM, fresh=True).state == CircuitState.CLOSED
        assert probers(waits(callers[1:])) == list(range(CALLERS - 1))
    finally:
        set_current_hub(None)
        hub.store.dispose()
