"""Every failure the hub meets is one of three kinds, and the kind decides what happens next.

- ``TransientError``: the other system was busy, slow or briefly unreachable (429, 5xx, timeouts,
  lock contention). Retried with backoff and jitter, honouring ``retry_after``.
- ``PermanentError``: the request itself is wrong (4xx, schema violation, unknown reference).
  Retrying cannot help; a person must fix data or configuration, then retry or replay.
- ``BusinessRuleError``: the data is well-formed but breaks a rule of the firm (unknown service
  product, missing account owner, not-to-exceed cap reached). Also a person's decision.

Permanent and business-rule failures become exception records that say which record, which rule,
which value and what to do.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import httpx


class ErrorKind(StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    BUSINESS_RULE = "business_rule"


class HandoffError(Exception):
    """Base of every classified error. ``rule`` and ``suggested_fix`` feed the exception queue."""

    kind: ErrorKind = ErrorKind.PERMANENT
    # Set by the engine's step that raised it (handoff.engine.steps): after how many seconds the
    # call is tried again, None when it is not. Recorded with the step, so a replay decides alike.
    retry_in: float | None = None

    def __init__(
        self,
        message: str,
        *,
        rule: str | None = None,
        value: Any = None,
        suggested_fix: str | None = None,
        context: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rule = rule or type(self).__name__
        self.value = value
        self.suggested_fix = suggested_fix
        self.context = context or {}

    def __reduce__(self) -> tuple[Any, ...]:
        # Durable steps pickle the error they raised; keyword-only state must survive that.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[HandoffError], message: str, state: dict[str, Any]) -> HandoffError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class TransientError(HandoffError):
    kind = ErrorKind.TRANSIENT

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class PermanentError(HandoffError):
    kind = ErrorKind.PERMANENT


class BusinessRuleError(HandoffError):
    kind = ErrorKind.BUSINESS_RULE


class CircuitOpenError(TransientError):
    """Raised instead of calling a system whose circuit is open; waits out the cool-down."""


RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def classify_http_response(response: httpx.Response, *, system: str) -> HandoffError | None:
    """The error a non-2xx response stands for, or None when it succeeded."""
    if response.is_success:
        return None
    detail = response.text[:500]
    where = f"{system} {response.request.method} {response.request.url.path}"
    if response.status_code in RETRYABLE_STATUS:
        return TransientError(
            f"{where} answered {response.status_code}: {detail}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            rule=f"http_{response.status_code}",
            context={"status": response.status_code},
        )
    return PermanentError(
        f"{where} answered {response.status_code}: {detail}",
        rule=f"http_{response.status_code}",
        value=detail,
        suggested_fix="Correct the record or the mapping that produced this request, then retry.",
        context={"status": response.status_code},
    )


def classify_exception(error: BaseException, *, system: str) -> HandoffError:
    """Map any exception raised while calling ``system`` to one of the three kinds."""
    if isinstance(error, HandoffError):
        return error
    if isinstance(error, httpx.TimeoutException):
        return TransientError(f"{system}: timed out ({type(error).__name__})", rule="timeout")
    if isinstance(error, httpx.TransportError):
        return TransientError(f"{system}: connection failed: {error}", rule="connection")
    if isinstance(error, httpx.HTTPStatusError):
        classified = classify_http_response(error.response, system=system)
        if classified is not None:
            return classified
    return PermanentError(
        f"{system}: {type(error).__name__}: {error}",
        rule="unexpected_error",
        suggested_fix="This looks like a defect; report it with the flow id, then retry.",
    )
