"""Flows are deterministic on replay: a circuit's state, the retry policy and the backoff are read
inside durable steps, so a run recovered or forked after a circuit-breaker wait takes the same
path whatever the circuit's state is by then (issue 10, defect 2)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from dbos import DBOS

from handoff import services
from handoff.engine import flows
from handoff.engine.breaker import CircuitBreakers, effective_state
from handoff.engine.runtime import Hub
from handoff.store import migrate
from handoff.store.db import Store
from handoff.store.inbox import IncomingEvent
from handoff.store.models import Circuit, CircuitState, ExceptionStatus, InboxStatus
from support.ledger import Ledger
from support.waiting import wait_for


def _submit(hub: Hub, url: str, key: str, steps: int = 2) -> str:
    [accepted] = flows.submit(
        hub,
        "test",
        [
            IncomingEvent(
                source_event_id=key,
                entity_key=f"d-{key}",
                kind="k",
                flow="ledger_steps",
                payload={"ledger": url, "seq": 7, "steps": steps},
            )
        ],
    )
    return flows.workflow_id_for(accepted.inbox_id, "ledger_steps")


def _run_through_a_breaker_wait(hub: Hub, url: str, book: Ledger) -> str:
    book.fail_next(2, 503)  # two failures open the circuit (threshold 2); max_attempts is 4
    workflow_id = _submit(hub, url, "wait-1")
    assert DBOS.retrieve_workflow(workflow_id).get_result() == 7
    names = [s["function_name"] for s in DBOS.list_workflow_steps(workflow_id)]
    assert names.count("DBOS.sleep") >= 2, names  # a backoff and the circuit's wait
    return workflow_id


def test_a_run_forked_from_every_step_after_a_breaker_wait_ends_as_the_original(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch(failure_threshold=2, cooldown_seconds=1.0)
    original = _run_through_a_breaker_wait(hub, url, book)
    steps = DBOS.list_workflow_steps(original)
    # The circuit is closed now: a replay that read it afresh would skip the recorded wait.
    assert [c.state for c in services.circuits(hub) if c.system == "ledger"] == [
        CircuitState.CLOSED
    ]
    for step in range(1, int(steps[-1]["function_id"]) + 2):
        fork = services.replay_flow_run(hub, original, from_step=step)
        assert DBOS.retrieve_workflow(fork).get_result() == 7, f"fork from step {step}"
        forked = [s["function_name"] for s in DBOS.list_workflow_steps(fork)]
        recorded = [s["function_name"] for s in steps[: step - 1]]
        assert forked[: step - 1] == recorded, f"fork from step {step}"


def test_a_retried_exception_after_a_breaker_wait_runs_again_and_keeps_its_cause(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch(failure_threshold=2, cooldown_seconds=1.0)
    # Open the circuit (2 failures), wait it out, then two more failures exhaust the 4 attempts.
    book.fail_next(4, 503)
    workflow_id = _submit(hub, url, "retry-1", steps=1)
    wait_for(
        lambda: [e.status for e in hub.inbox.list()] == [InboxStatus.FAILED], what="failed run"
    )
    [exception] = hub.exceptions.list()
    assert exception.workflow_id == workflow_id
    assert "503" in exception.message
    fork = services.retry_exception(hub, exception.id)
    assert DBOS.retrieve_workflow(fork).get_result() == 7
    wait_for(lambda: [e.status for e in hub.inbox.list()] == [InboxStatus.DONE], what="inbox done")
    [after] = hub.exceptions.list(status=None)
    assert after.status == ExceptionStatus.RESOLVED and "503" in after.message


def test_circuit_open_until_in_the_past_is_half_open_for_every_reader(store_url: str) -> None:
    store = Store(store_url)
    migrate.upgrade(store)
    past = datetime.now(UTC) - timedelta(seconds=5)
    with store.session() as session:
        session.add(
            Circuit(
                system="odoo", state=CircuitState.OPEN, consecutive_failures=5, opened_until=past
            )
        )
    breakers = CircuitBreakers(store)
    assert effective_state(CircuitState.OPEN, past) == CircuitState.HALF_OPEN
    assert effective_state(CircuitState.OPEN, past + timedelta(minutes=1)) == CircuitState.OPEN
    assert [v.state for v in breakers.all()] == [CircuitState.HALF_OPEN]
    assert breakers.view("odoo").state == CircuitState.HALF_OPEN
    assert breakers.wait_seconds("odoo") == 0.0
    # A failed probe opens it again at once.
    assert breakers.record_failure("odoo", "still down") == CircuitState.OPEN
    assert breakers.wait_seconds("odoo") > 0
    store.dispose()
