"""Every call to another system is a durable step: checkpointed, classified, retried with
backoff and jitter, held back while the system's circuit is open, and measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from dbos import DBOS

from handoff.canonical.errors import CircuitOpenError, ErrorKind, HandoffError, classify_exception
from handoff.engine.breaker import CIRCUIT_WAITS
from handoff.engine.retry import Backoff
from handoff.engine.runtime import current_hub
from handoff.observability.metrics import CALLS, RETRIES, STEP_SECONDS

T = TypeVar("T")


class CircuitWait(Exception):
    """A step's recorded outcome "the circuit of ``system`` is open: wait ``seconds``".

    Raised from inside the durable step, so a replay or a fork after a crash sees the same wait
    (and sleeps the same recorded sleep) whatever the circuit's state is by then.
    """

    def __init__(self, system: str, seconds: float) -> None:
        super().__init__(system, seconds)
        self.system = system
        self.seconds = seconds

    def __str__(self) -> str:
        return f"circuit of {self.system} open: waiting {self.seconds:.1f} s"


def call(system: str, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` against ``system`` as a durable, retried step.

    Deterministic on replay: the circuit's state, the retry policy and the backoff delay are all
    read inside the step and recorded with its outcome; the workflow only sleeps what the step
    decided (a durable sleep). Outside a workflow (a script, a test) it still classifies,
    retries and measures.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return _run_step(system, operation, fn, args, kwargs, attempt)
        except CircuitWait as wait:
            # The circuit is open: wait it out durably rather than spend an attempt.
            attempt -= 1
            _sleep(wait.seconds)
        except HandoffError as error:
            delay = error.retry_in
            if delay is None:
                raise error from None
            RETRIES.labels(system).inc()
            _sleep(delay)


def _run_step(
    system: str,
    operation: str,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    attempt: int,
) -> T:
    if not DBOS.workflow_id:
        return _attempt(system, operation, fn, args, kw, attempt)
    return DBOS.run_step(
        {"name": f"{system}.{operation}"}, _attempt, system, operation, fn, args, kw, attempt
    )


def _attempt(
    system: str,
    operation: str,
    fn: Callable[..., T],
    args: tuple[Any, ...],
    kw: dict[str, Any],
    attempt: int,
) -> T:
    hub = current_hub()
    wait = hub.breakers.wait_seconds(system)
    if wait > 0:
        CIRCUIT_WAITS.labels(system).inc()
        raise CircuitWait(system, wait)
    CALLS.labels(system, operation).inc()
    started = time.perf_counter()
    try:
        result = fn(*args, **kw)
    except Exception as raw:
        error = classify_exception(raw, system=system)
        STEP_SECONDS.labels(system, operation, error.kind.value).observe(
            time.perf_counter() - started
        )
        if error.kind == ErrorKind.TRANSIENT and not isinstance(error, CircuitOpenError):
            hub.breakers.record_failure(system, error.message)
        elif error.kind != ErrorKind.TRANSIENT:
            # A refusal is an answer: the system is up. This is how a half-open circuit's one
            # probe that ends in a 4xx closes it, instead of holding the others back until the
            # probe is presumed lost.
            hub.breakers.record_success(system)
        _decide_retry(error, hub.backoff, system, operation, attempt)
        raise error from None
    STEP_SECONDS.labels(system, operation, "ok").observe(time.perf_counter() - started)
    hub.breakers.record_success(system)
    return result


def _decide_retry(
    error: HandoffError, backoff: Backoff, system: str, operation: str, attempt: int
) -> None:
    """Decide, inside the step, whether and after how long the call is tried again
    (``error.retry_in``, None: give up); the decision is recorded with the step's error."""
    error.context = {**error.context, "system": system, "operation": operation}
    if error.kind != ErrorKind.TRANSIENT:
        error.retry_in = None
        return
    if backoff.gives_up_after(attempt):
        error.retry_in = None
        error.suggested_fix = error.suggested_fix or (
            f"{system} kept failing after {attempt} attempts; check that it is up, "
            "then retry this exception."
        )
        return
    # DBOS.sleep records nothing for a wait <= 0, which would shift the steps on replay.
    error.retry_in = max(0.001, backoff.delay(attempt, getattr(error, "retry_after", None)))


def _sleep(seconds: float) -> None:
    if DBOS.workflow_id:
        DBOS.sleep(seconds)  # durable: a replay sleeps what the step recorded
    else:
        current_hub().clock.sleep(seconds)
