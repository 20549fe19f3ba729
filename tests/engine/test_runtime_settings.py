"""handoff.yaml's ``runtime`` section reaches the machinery it names (it replaced the
HANDOFF_ENGINE_LOG_LEVEL variable and constants in the CLI): the durable engine's log level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from engine.conftest import engine_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from support.ledger import Ledger


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
