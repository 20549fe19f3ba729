"""Latency and fault injection for the Odoo sandbox (tests and benchmarks).

Faults are consumed per RPC call (one `/jsonrpc`, `/xmlrpc/...` or `/json/2/...` request), never by
the control endpoint itself, so a test can say "the next two calls fail with 503" and count on it.

A *hold* stops one chosen call in its tracks, so a crash test can kill the client at that exact
point: `{"hold_after": k, "hold_mode": "after"}` holds the (k+1)-th call from now once its effect
is applied (the write happened, the client never hears of it), `"before"` holds it before and then
drops it without effect; `"hold_methods": ["create", "write"]` counts only calls of those methods
(hold the k-th write, whatever reads the client makes around it; `"sale.order.line.create"`: only
that model's). `GET /sandbox/control` says
`held: true` and which call (`held_call`, e.g. `sale.order.create`) while a call waits;
`{"release": true}` lets it go (it is also let go after `HOLD_LIMIT_SECONDS`).
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Literal, NamedTuple

from pydantic import BaseModel, Field

FaultKind = Literal["http", "lock", "timeout", "disconnect"]
# What a call whose body holds a given text meets: a fault, or "refuse": Odoo's ValidationError
# (the answer of a record Odoo will not take), for one bad row among good ones.
MatchFault = Literal["http", "lock", "timeout", "disconnect", "refuse"]
HoldMode = Literal["before", "after"]  # the held call's effect: not applied, or applied
HOLD_LIMIT_SECONDS = 120.0  # a hold nobody releases ends on its own (no sandbox hangs forever)


class FaultSettings(BaseModel):
    """What the control endpoint accepts (`POST /sandbox/control`); every key is optional."""

    latency_ms: float | None = Field(default=None, ge=0, description="Delay added to every call.")
    fail_next: int | None = Field(default=None, ge=0, description="How many next calls fail.")
    fail_status: int | None = Field(
        default=None, ge=400, le=599, description="HTTP status of 'http'."
    )
    fail_kind: FaultKind | None = Field(default=None, description="How the failing calls fail.")
    load_conflicts: int | None = Field(
        default=None,
        ge=0,
        description="How many next `load` calls answer, inside their result, the serialization "
        "failure real Odoo gives when a concurrent transaction wrote the same rows.",
    )
    hold_after: int | None = Field(
        default=None, ge=0, description="Hold the call after this many more calls (0: the next)."
    )
    hold_mode: HoldMode | None = Field(
        default=None, description="Hold the call before its effect (then drop it) or after it."
    )
    hold_methods: list[str] | None = Field(
        default=None,
        description="Count only calls of these methods (or <model>.<method>) toward `hold_after`.",
    )
    fail_matching: dict[str, MatchFault] | None = Field(
        default=None,
        description="Calls whose request body contains a key's text meet its fault, every "
        "time, until reset (`{}` clears them); a held call meets none.",
    )
    release: bool = Field(default=False, description="Let the held call (or the pending hold) go.")
    reset: bool = Field(default=False, description="Clear latency and pending faults first.")


class FaultState(BaseModel):
    """The injector's current settings, as `GET /sandbox/control` reports them."""

    latency_ms: float = 0.0
    fail_next: int = 0
    fail_status: int = 503
    fail_kind: FaultKind = "http"
    load_conflicts: int = 0
    hold_countdown: int | None = None  # counted calls still let through before the held one
    hold_mode: HoldMode = "after"
    hold_methods: list[str] = Field(default_factory=list)  # empty: every call counts
    fail_matching: dict[str, MatchFault] = Field(default_factory=dict)
    held: bool = False  # a call is being held now
    held_call: str | None = None  # "<model>.<method>" (or "<service>.<method>") of that call
    calls: int = 0
    faults_served: int = 0


class TakenCall(NamedTuple):
    """What one RPC call meets: its delay, its fault, the fault's status, and its hold."""

    delay_seconds: float
    fault: FaultKind | None
    status: int
    hold: HoldMode | None


class FaultInjector:
    """Thread-safe holder of the latency and the pending faults."""

    def __init__(self, latency_ms: float = 0.0) -> None:
        self._lock = threading.Lock()
        self._state = FaultState(latency_ms=latency_ms)
        self._released = threading.Event()

    def configure(self, settings: FaultSettings) -> FaultState:
        with self._lock:
            if settings.reset or settings.release:
                self._released.set()  # whatever is held goes; a pending hold is dropped
                self._state.hold_countdown, self._state.held = None, False
                self._state.held_call = None
            if settings.reset:
                self._state = FaultState(calls=self._state.calls)
            for name in ("latency_ms", "fail_next", "fail_status", "fail_kind", "load_conflicts",
                         "hold_mode", "hold_methods", "fail_matching"):  # fmt: skip
                value = getattr(settings, name)
                if value is not None:
                    setattr(self._state, name, value)
            if settings.hold_after is not None:
                self._released = threading.Event()
                self._state.hold_countdown = settings.hold_after
                self._state.held, self._state.held_call = False, None
            return self._state.model_copy()

    def names_calls(self) -> bool:
        """Whether the next call's name matters (a hold counts only some methods)."""
        with self._lock:
            return self._state.hold_countdown is not None and bool(self._state.hold_methods)

    def matches_bodies(self) -> bool:
        """Whether a call's body matters (``fail_matching`` is set)."""
        with self._lock:
            return bool(self._state.fail_matching)

    def match(self, body: bytes) -> MatchFault | None:
        """The fault of the first ``fail_matching`` text the body contains (counted as served)."""
        text = body.decode("utf-8", errors="replace")
        with self._lock:
            for needle, kind in self._state.fail_matching.items():
                if needle in text:
                    self._state.faults_served += 1
                    return kind
        return None

    def state(self) -> FaultState:
        with self._lock:
            return self._state.model_copy()

    def take(self, call: str | None = None) -> TakenCall:
        """Count one call (``call``: its "<model>.<method>" when known); say what it meets (a
        held call meets no other fault)."""
        with self._lock:
            self._state.calls += 1
            method = (call or "").rsplit(".", 1)[-1]
            wanted = self._state.hold_methods
            counted = not wanted or method in wanted or (call or "") in wanted
            if self._state.hold_countdown is not None and counted:
                if self._state.hold_countdown == 0:
                    # "held" is said only once the call waits (after its effect, in "after")
                    self._state.hold_countdown, self._state.held_call = None, call
                    return TakenCall(self._state.latency_ms / 1000.0, None, 200,
                                     self._state.hold_mode)  # fmt: skip
                self._state.hold_countdown -= 1
            kind: FaultKind | None = None
            if self._state.fail_next > 0:
                self._state.fail_next -= 1
                self._state.faults_served += 1
                kind = self._state.fail_kind
            return TakenCall(self._state.latency_ms / 1000.0, kind, self._state.fail_status, None)

    async def hold(self) -> None:
        """Keep the current call waiting until released (or ``HOLD_LIMIT_SECONDS``), without
        blocking the server's other calls."""
        with self._lock:
            self._state.held = True
            released = self._released
        deadline = time.monotonic() + HOLD_LIMIT_SECONDS
        while not released.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        with self._lock:
            if released is self._released:
                self._state.held = False

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
