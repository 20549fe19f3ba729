from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from handoff.config import BreakerPolicy, RetryPolicy, Settings, StoreConfig, SystemConfig
from handoff.engine import flows, launcher
from handoff.engine.clock import SYSTEM_CLOCK, Clock
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from support import flows as _test_flows  # noqa: F401  (registers the test flows)
from support.ledger import Ledger, running_ledger


@pytest.fixture
def ledger() -> Iterator[tuple[str, Ledger]]:
    with running_ledger() as running:
        yield running


def engine_settings(store_url: str, ledger_url: str, **breaker: Any) -> Settings:
    return Settings(
        store=StoreConfig(url=store_url),
        systems={
            "ledger": SystemConfig(
                kind="http",
                url=ledger_url,
                concurrency=16,
                circuit_breaker=BreakerPolicy(**({"failure_threshold": 50} | breaker)),
            )
        },
        retry=RetryPolicy(max_attempts=4, initial_delay_seconds=0.05, max_delay_seconds=3),
    )


@pytest.fixture
def launch(store_url: str, ledger: tuple[str, Ledger]) -> Iterator[Callable[..., Hub]]:
    """Start the hub and its durable engine in this process (one per test)."""
    started: list[Hub] = []

    def _launch(*, clock: Clock = SYSTEM_CLOCK, **breaker: Any) -> Hub:
        hub = start_hub(engine_settings(store_url, ledger[0], **breaker), clock=clock)
        launcher.launch(hub, executor_id="test-executor")
        started.append(hub)
        return hub

    yield _launch
    for hub in started:
        hub.shutdown()
    flows.close_clients()
    set_current_hub(None)
