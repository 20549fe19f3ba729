"""The engine's time, injectable: circuit breakers and the retry loop outside a workflow read and
spend time through a ``Clock``, so tests move a fake one instead of racing the wall clock.

Inside a durable workflow a decision that depends on time is made inside a step (the breaker's
wait, the backoff's delay) and recorded with it; the workflow only sleeps what a step decided,
with the engine's durable sleep, so a replay takes the same path whatever the clock says then.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC): what is stored and compared across processes."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start that never go back: for durations in one process."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass (outside a workflow; a workflow sleeps durably)."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


SYSTEM_CLOCK: Clock = SystemClock()
