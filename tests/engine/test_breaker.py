"""Circuit breakers: shared state in the store, and a flow that waits instead of burning retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from handoff import services
from handoff.engine import flows
from handoff.engine.breaker import BreakerPolicy, CircuitBreakers
from handoff.engine.runtime import Hub
from handoff.store import migrate
from handoff.store.db import Store
from handoff.store.inbox import IncomingEvent
from handoff.store.models import CircuitState, InboxStatus
from support.clock import FakeClock
from support.ledger import Ledger
from support.waiting import wait_for


def test_breaker_opens_after_threshold_half_opens_after_cooldown_and_closes_on_success(
    store_url: str,
) -> None:
    store = Store(store_url)
    migrate.upgrade(store)
    clock = FakeClock()
    breakers = CircuitBreakers(
        store, {"odoo": BreakerPolicy(failure_threshold=3, cooldown_seconds=30)}, clock=clock
    )
    other_process = CircuitBreakers(Store(store_url), clock=clock)  # sees the same state

    assert breakers.record_failure("odoo", "503") == CircuitState.CLOSED
    assert breakers.record_failure("odoo", "503") == CircuitState.CLOSED
    breakers.record_success("odoo")  # success resets the count: only consecutive failures count
    for _ in range(2):
        breakers.record_failure("odoo", "timeout")
    assert breakers.record_failure("odoo", "timeout") == CircuitState.OPEN
    assert breakers.wait_seconds("odoo") == 30
    assert other_process.view("odoo", fresh=True).state == CircuitState.OPEN

    clock.advance(29.999)
    assert breakers.wait_seconds("odoo") == pytest.approx(0.001)  # the cool-down's very end
    assert other_process.view("odoo", fresh=True).state == CircuitState.OPEN
    clock.advance(0.001)
    assert breakers.wait_seconds("odoo") == 0.0  # the probe may go
    assert breakers.view("odoo", fresh=True).state == CircuitState.HALF_OPEN
    assert breakers.record_failure("odoo", "still down") == CircuitState.OPEN  # probe failed
    assert breakers.wait_seconds("odoo") == 30  # a whole cool-down again, from the failure

    clock.advance(30)
    assert breakers.wait_seconds("odoo") == 0.0
    breakers.record_success("odoo")
    view = other_process.view("odoo", fresh=True)
    assert (view.state, view.consecutive_failures) == (CircuitState.CLOSED, 0)
    assert view.last_error == "still down"


def _circuit_waits(system: str) -> float:
    return REGISTRY.get_sample_value("handoff_circuit_waits_total", {"system": system}) or 0.0


def test_flow_waits_while_the_circuit_is_open_instead_of_spending_attempts(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    """The hub's clock is the test's: the circuit stays open, however long the machine takes,
    until the test moves time past the cool-down. Meanwhile the run asks again after each
    (really slept) wait and sends nothing."""
    url, book = ledger
    clock = FakeClock()
    hub = launch(clock=clock, failure_threshold=2, cooldown_seconds=0.2)
    book.fail_next(2, 503)  # two failures open the circuit; max_attempts is 4
    waits_before = _circuit_waits("ledger")
    flows.submit(
        hub,
        "test",
        [
            IncomingEvent(
                source_event_id="b1",
                entity_key="d",
                kind="k",
                flow="ledger_steps",
                payload={"ledger": url, "seq": 0, "steps": 1},
            )
        ],
    )
    wait_for(
        lambda: any(c.state == CircuitState.OPEN for c in services.circuits(hub)),
        what="the circuit to open",
    )
    # Three waits in a row: the run held back (each a durable step and its sleep), attempts kept.
    wait_for(lambda: _circuit_waits("ledger") >= waits_before + 3, what="the run to wait")
    assert book.requests == 2  # nothing was sent while open
    assert [e.status for e in hub.inbox.list()] == [InboxStatus.QUEUED]

    clock.advance(0.2)  # the cool-down is over: the next ask is the probe, which succeeds
    wait_for(lambda: [e.status for e in hub.inbox.list()] == [InboxStatus.DONE], what="done")
    assert book.requests == 3 and len(book.entries()) == 1
    assert [c.state for c in services.circuits(hub) if c.system == "ledger"] == [
        CircuitState.CLOSED
    ]
