"""kill -9 of a worker while its flows wait on an open circuit: after a restart with the system
healed, every event ends done and every effect happened once (issue 10, defect 2: the waits were
decided outside durable steps, so the recovered flows replayed another path and were lost)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from handoff import services
from handoff.config import load_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.inbox import IncomingEvent
from handoff.store.models import CircuitState, InboxStatus
from support import flows as _test_flows  # noqa: F401  (registers the flow for submitting)
from support.ledger import Ledger, running_ledger
from support.waiting import wait_for
from support.workers import TEST_FLOWS, Worker

FLOWS = 40
COOLDOWN = 4.0


@pytest.fixture
def ledger() -> Iterator[tuple[str, Ledger]]:
    with running_ledger() as running:
        yield running


@pytest.fixture
def driver(tmp_path: Path, store_url: str, ledger: tuple[str, Ledger]) -> Iterator[Hub]:
    config = tmp_path / "handoff.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "store": {"url": store_url},
                "systems": {
                    "ledger": {
                        "kind": "http",
                        "url": ledger[0],
                        "concurrency": 16,
                        "circuit_breaker": {
                            "failure_threshold": 3,
                            "cooldown_seconds": COOLDOWN,
                        },
                    }
                },
                "retry": {
                    "max_attempts": 6,
                    "initial_delay_seconds": 0.05,
                    "max_delay_seconds": 0.5,
                },
                "runtime": {"flow_modules": [TEST_FLOWS]},
            }
        )
    )
    hub = start_hub(load_settings(config))
    yield hub
    flows.close_clients()
    hub.shutdown()
    set_current_hub(None)


def test_worker_killed_during_a_breaker_wait_loses_nothing_after_restart(
    tmp_path: Path, driver: Hub, ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    book.fail_next(10_000, 503)  # the system is down
    config = driver.settings.source
    assert config is not None
    worker = Worker(config, "breaker-worker", tmp_path).start()
    try:
        flows.submit(
            driver,
            "test",
            [
                IncomingEvent(
                    source_event_id=f"e{i}",
                    entity_key=f"entry-{i}",
                    kind="test.append",
                    flow="ledger_steps",
                    payload={"ledger": url, "seq": i, "steps": 1},
                )
                for i in range(FLOWS)
            ],
        )
        wait_for(
            lambda: driver.breakers.view("ledger", fresh=True).state == CircuitState.OPEN,
            what="the circuit to open",
        )
        failed_calls = book.requests
        # 16 run at once (the queue's concurrency), the others are still enqueued behind them.
        wait_for(lambda: _waiting(driver) >= 10, what="flows waiting on the circuit")
        assert book.requests <= failed_calls + 16  # they wait; they do not spend attempts
        worker.kill()

        with book.lock:
            book.failures.clear()  # the system is healed
        # Restart once the cool-down is over: the circuit no longer says "wait" (half-open).
        wait_for(
            lambda: driver.breakers.view("ledger", fresh=True).state != CircuitState.OPEN,
            timeout=COOLDOWN + 5,
            what="the cool-down to pass",
        )
        worker = Worker(config, "breaker-worker", tmp_path).start()  # resumes its flows
        wait_for(
            lambda: _statuses(driver) == ["SUCCESS"] * FLOWS,
            timeout=120,
            what=f"all {FLOWS} flows to succeed",
        )
    finally:
        worker.stop()

    statuses = [e.status for e in driver.inbox.list(limit=1000)]
    assert statuses == [InboxStatus.DONE] * FLOWS, statuses
    entries = book.entries()
    assert sorted(int(e["seq"]) for e in entries) == list(range(FLOWS))  # each effect once
    assert driver.exceptions.list() == []


def _waiting(hub: Hub) -> int:
    """Pending flow runs whose last recorded step is a durable sleep (the circuit is open)."""
    waiting = 0
    for run in services.list_flow_runs(hub, flow="ledger_steps", limit=100):
        if run.status != "PENDING":
            continue
        _, steps = services.show_flow_run(hub, run.workflow_id)
        if steps and steps[-1].name == "DBOS.sleep":
            waiting += 1
    return waiting


def _statuses(hub: Hub) -> list[str]:
    return sorted(r.status for r in services.list_flow_runs(hub, flow="ledger_steps", limit=100))
