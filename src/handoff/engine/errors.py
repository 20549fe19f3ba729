"""Kept only so durable records pickled before the errors moved to ``handoff.canonical.errors``
(a step's raised error names its class by module) still load; new code imports the canonical
module, which every layer may use."""

from handoff.canonical.errors import (
    BusinessRuleError,
    CircuitOpenError,
    ErrorKind,
    HandoffError,
    PermanentError,
    TransientError,
    _rebuild,
)

__all__ = [
    "BusinessRuleError",
    "CircuitOpenError",
    "ErrorKind",
    "HandoffError",
    "PermanentError",
    "TransientError",
    "_rebuild",
]
