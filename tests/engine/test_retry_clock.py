"""A call outside a workflow (a script, a CLI command) retries on the hub's clock: the backoff it
sleeps, Retry-After and the circuit's cool-down are read and spent on time the test moves, so
minutes of waiting take no wall time and nothing depends on how fast the machine is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.canonical.errors import TransientError
from handoff.config import BreakerPolicy as BreakerSettings
from handoff.config import RetryPolicy, Settings, StoreConfig, SystemConfig
from handoff.engine import steps
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.models import CircuitState
from support.clock import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hub(store_url: str, clock: FakeClock) -> Iterator[Hub]:
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "crm": SystemConfig(
                kind="http",
                url="http://127.0.0.1:9",
                circuit_breaker=BreakerSettings(failure_threshold=3, cooldown_seconds=120),
            )
        },
        retry=RetryPolicy(
            max_attempts=6, initial_delay_seconds=2, max_delay_seconds=60, multiplier=2
        ),
    )
    started = start_hub(settings, clock=clock)
    yield started
    started.shutdown()
    set_current_hub(None)


class Flaky:
    """Fails with each of ``errors`` in turn, then answers ``"ok"``."""

    def __init__(self, *errors: TransientError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


def test_backoff_and_retry_after_are_slept_on_the_hubs_clock(hub: Hub, clock: FakeClock) -> None:
    flaky = Flaky(TransientError("503"), TransientError("429", retry_after=45))
    assert steps.call("crm", "read", flaky) == "ok"
    assert flaky.calls == 3
    first, second = clock.slept
    assert 0.001 <= first <= 2  # full jitter under the first ceiling (initial_delay_seconds)
    assert second == 45  # the ceiling is 4 s: Retry-After asked for more, and got it


def test_a_circuit_opened_by_the_retries_is_waited_out_then_probed(
    hub: Hub, clock: FakeClock
) -> None:
    """Three failures open the circuit (threshold 3): the fourth attempt waits the whole
    cool-down on the clock, without a call, then probes and closes it."""
    flaky = Flaky(*(TransientError("503") for _ in range(3)))
    assert steps.call("crm", "read", flaky) == "ok"
    assert flaky.calls == 4  # the cool-down's wait spent no attempt
    backoffs, cooldown = clock.slept[:3], clock.slept[3:]
    assert all(0.001 <= wait <= 8 for wait in backoffs), backoffs
    assert sum(cooldown) == pytest.approx(120 - backoffs[-1]), clock.slept
    assert hub.breakers.view("crm", fresh=True).state == CircuitState.CLOSED
