"""How long to wait before the next attempt: exponential backoff with full jitter, capped,
never shorter than what the other system asked for with Retry-After."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    max_attempts: int = 6
    initial_delay_seconds: float = 1.0
    max_delay_seconds: float = 300.0
    multiplier: float = 2.0
    jitter: bool = True

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(
            self.max_delay_seconds, self.initial_delay_seconds * self.multiplier ** (attempt - 1)
        )
        # Full jitter spreads the retries of many flows hitting one busy system apart.
        wait = random.uniform(0, ceiling) if self.jitter else ceiling
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay_seconds))
        return wait

    def gives_up_after(self, attempt: int) -> bool:
        return attempt >= self.max_attempts
