"""Rolling-window request limits, per token, as HubSpot enforces them."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass
class RollingWindow:
    """At most `limit` requests in any `interval` seconds."""

    limit: int
    interval: float
    stamps: deque[float] = field(default_factory=deque)

    def _expire(self, moment: float) -> None:
        while self.stamps and moment - self.stamps[0] >= self.interval:
            self.stamps.popleft()

    def try_take(self, moment: float | None = None) -> bool:
        moment = time.monotonic() if moment is None else moment
        self._expire(moment)
        if len(self.stamps) >= self.limit:
            return False
        self.stamps.append(moment)
        return True

    def remaining(self, moment: float | None = None) -> int:
        moment = time.monotonic() if moment is None else moment
        self._expire(moment)
        return max(0, self.limit - len(self.stamps))

    def seconds_until_free(self, moment: float | None = None) -> float:
        moment = time.monotonic() if moment is None else moment
        self._expire(moment)
        if len(self.stamps) < self.limit:
            return 0.0
        return max(0.0, self.interval - (moment - self.stamps[0]))


@dataclass
class TokenBudget:
    ten_secondly: RollingWindow
    search: RollingWindow
    daily_used: int = 0
