"""handoff.yaml's ``runtime`` section reaches the machinery it names (it replaced the
HANDOFF_ENGINE_LOG_LEVEL variable and constants in the CLI): the durable engine's log level, and
how often a worker hands over events stored but never started."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from engine.conftest import engine_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.inbox import IncomingEvent
from support.ledger import Ledger
from support.waiting import wait_for


@pytest.fixture
def hubs() -> Iterator[list[Hub]]:
    started: list[Hub] = []
    yield started
    for hub in started:
        hub.shutdown()
    flows.close_clients()
    set_current_hub(None)


@pytest.mark.parametrize("level", ["ERROR", "DEBUG"])
def test_the_engine_logs_at_runtime_engine_log_level(
    store_url: str, ledger: tuple[str, Ledger], hubs: list[Hub], level: str
) -> None:
    settings = engine_settings(store_url, ledger[0])
    settings = settings.model_copy(
        update={"runtime": settings.runtime.model_copy(update={"engine_log_level": level})}
    )
    hub = start_hub(settings)
    hubs.append(hub)
    hub.launch(executor_id="log-level")
    assert logging.getLogger("dbos").level == getattr(logging, level)


def test_the_inbox_sweep_runs_every_runtime_inbox_sweep_seconds(
    store_url: str, ledger: tuple[str, Ledger], hubs: list[Hub]
) -> None:
    from handoff.cli.processes import _sweep_inbox

    url, book = ledger
    settings = engine_settings(store_url, url)
    settings = settings.model_copy(
        update={"runtime": settings.runtime.model_copy(update={"inbox_sweep_seconds": 0.2})}
    )
    hub = start_hub(settings)
    hubs.append(hub)
    hub.launch(executor_id="sweeper")
    # Stored but never handed over, as when the API dies between the two.
    [stored] = hub.inbox.accept_many(
        "test",
        [IncomingEvent(source_event_id="e-1", entity_key="acct-1", kind="test",
                       payload={"ledger": url, "seq": 1, "steps": 1},
                       flow="ledger_steps")],
    )  # fmt: skip
    assert [row.id for row in hub.inbox.waiting()] == [stored.inbox_id]
    stop = threading.Event()
    sweeper = threading.Thread(target=_sweep_inbox, args=(hub, stop), daemon=True)
    sweeper.start()
    try:
        # The default (5 s) would not hand it over within this wait; 0.2 s does.
        wait_for(
            lambda: [str(e.status) for e in hub.inbox.list(limit=5)] == ["done"],
            timeout=4,
            what="the swept event done",
        )
    finally:
        stop.set()
        sweeper.join(5)
    assert len(book.entries()) == 1
