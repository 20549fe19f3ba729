"""Every call to another system is a durable step: checkpointed, classified, retried with
backoff and jitter, held back while the system's circuit is open, and measured."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from dbos import DBOS

from handoff.engine.errors import CircuitOpenError, ErrorKind, HandoffError, classify_exception
from handoff.engine.runtime import current_hub
from handoff.observability.metrics import CALLS, RETRIES, STEP_SECONDS

T = TypeVar("T")


def call(system: str, operation: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` against ``system`` as a durable, retried step.

    Outside a workflow (a script, a test) it still classifies, retries and measures.
    """
    hub = current_hub()
    backoff = hub.backoff
    attempt = 0
    while True:
        attempt += 1
        wait = hub.breakers.wait_seconds(system)
        if wait > 0:
            # The circuit is open: wait it out durably rather than spend an attempt.
            _sleep(wait)
            attempt -= 1
            continue
        try:
            return _run_step(system, operation, fn, args, kwargs)
        except HandoffError as error:
            if error.kind != ErrorKind.TRANSIENT or backoff.gives_up_after(attempt):
                if error.kind == ErrorKind.TRANSIENT:
                    error.suggested_fix = error.suggested_fix or (
                        f"{system} kept failing after {attempt} attempts; check that it is up, "
                        "then retry this exception."
                    )
                error.context = {**error.context, "system": system, "operation": operation}
                raise error from None
            RETRIES.labels(system).inc()
            _sleep(backoff.delay(attempt, getattr(error, "retry_after", None)))


def _run_step(
    system: str, operation: str, fn: Callable[..., T], args: tuple[Any, ...], kw: dict[str, Any]
) -> T:
    if not DBOS.workflow_id:
        return _attempt(system, operation, fn, args, kw)
    return DBOS.run_step(
        {"name": f"{system}.{operation}"}, _attempt, system, operation, fn, args, kw
    )


def _attempt(
    system: str, operation: str, fn: Callable[..., T], args: tuple[Any, ...], kw: dict[str, Any]
) -> T:
    hub = current_hub()
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
        raise error from None
    STEP_SECONDS.labels(system, operation, "ok").observe(time.perf_counter() - started)
    hub.breakers.record_success(system)
    return result


def _sleep(seconds: float) -> None:
    if DBOS.workflow_id:
        DBOS.sleep(seconds)
    else:
        time.sleep(seconds)


def idempotency_key() -> str:
    """A key that is the same every time this step runs again (after a crash or a retry), to send
    to systems that deduplicate writes by key. Outside a step it is unique per call."""
    if DBOS.workflow_id and DBOS.step_id is not None:
        return f"{DBOS.workflow_id}:{DBOS.step_id}"
    import uuid

    return uuid.uuid4().hex
