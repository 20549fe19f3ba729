"""Latency and fault injection for the Odoo sandbox (tests and benchmarks).

Faults are consumed per RPC call (one `/jsonrpc`, `/xmlrpc/...` or `/json/2/...` request), never by
the control endpoint itself, so a test can say "the next two calls fail with 503" and count on it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from pydantic import BaseModel, Field

FaultKind = Literal["http", "lock", "timeout", "disconnect"]


class FaultSettings(BaseModel):
    """What the control endpoint accepts (`POST /sandbox/control`); every key is optional."""

    latency_ms: float | None = Field(default=None, ge=0, description="Delay added to every call.")
    fail_next: int | None = Field(default=None, ge=0, description="How many next calls fail.")
    fail_status: int | None = Field(default=None, ge=400, le=599, description="HTTP status of 'http'.")
    fail_kind: FaultKind | None = Field(default=None, description="How the failing calls fail.")
    load_conflicts: int | None = Field(
        default=None, ge=0,
        description="How many next `load` calls answer, inside their result, the serialization "
                    "failure real Odoo gives when a concurrent transaction wrote the same rows.")
    reset: bool = Field(default=False, description="Clear latency and pending faults first.")


class FaultState(BaseModel):
    """The injector's current settings, as `GET /sandbox/control` reports them."""

    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    fail_kind: FaultKind = "http"
    load_conflicts: int = 0
    calls: int = 0
    faults_served: int = 0


class FaultInjector:
    """Thread-safe holder of the latency and the pending faults."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._state = FaultState(latency_ms=latency_ms)

    def configure(self, settings: FaultSettings) -> FaultState:
        with self._lock:
            if settings.reset:
                self._state = FaultState(calls=self._state.calls)
            for name in ("latency_ms", "fail_next", "fail_status", "fail_kind", "load_conflicts"):
                value = getattr(settings, name)
                if value is not None:
                    setattr(self._state, name, value)
            return self._state.model_copy()

    def state(self) -> FaultState:
        with self._lock:
            return self._state.model_copy()

    def take(self) -> tuple[float, FaultKind | None, int]:
        """Count one call; return (latency in seconds, fault kind or None, http status)."""
        with self._lock:
            self._state.calls += 1
            kind: FaultKind | None = None
            if self._state.fail_next > 0:
                self._state.fail_next -= 1
                self._state.faults_served += 1
                kind = self._state.fail_kind
            return self._state.latency_ms / 1000.0, kind, self._state.fail_status

    def take_load_conflict(self) -> bool:
        """Whether this `load` call meets a (simulated) concurrent update."""
        with self._lock:
            if self._state.load_conflicts <= 0:
                return False
            self._state.load_conflicts -= 1
            self._state.faults_served += 1
            return True

    async def delay(self, seconds: float) -> None:
        if seconds > 0:
            await asyncio.sleep(seconds)
