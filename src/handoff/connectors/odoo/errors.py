"""Typed Odoo errors, classified the way the engine retries or parks them.

Odoo answers every JSON-RPC error with HTTP 200 and ``error.data.name`` naming the Python exception
(README of the recorded Odoo 18 data); JSON-2 (Odoo 19+) answers an HTTP 4xx/5xx whose body carries
the same ``name``/``message``/``arguments``. :func:`error_from_payload` turns either into one of the
classes below through a declarative rule table (:data:`ERROR_RULES`).

Kinds (``handoff.canonical.errors``):
- transient (``retryable = True``): connection errors, timeouts, 429/5xx, database lock and
  serialization conflicts. The engine retries them, honouring ``retry_after``.
- business rule: Odoo's UserError family (UserError, ValidationError, MissingError): the data breaks
  a rule the server enforces; a person decides.
- permanent: access problems, invalid field/model/method, schema violations, protocol mismatches.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from handoff.canonical.errors import BusinessRuleError, HandoffError, PermanentError, TransientError


class OdooError(HandoffError):
    """Base of every error raised by the Odoo connector.

    ``server_name`` is Odoo's exception name (``error.data.name``), ``arguments`` its exception
    args, ``debug`` the server traceback; ``model``/``method`` say which call failed.
    """

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        server_name: str | None = None,
        arguments: Sequence[Any] = (),
        debug: str | None = None,
        model: str | None = None,
        method: str | None = None,
        retry_after: float | None = None,
        **kwargs: Any,
    ) -> None:
        context = dict(kwargs.pop("context", None) or {})
        context.update({k: v for k, v in (("model", model), ("method", method)) if v})
        super().__init__(message, context=context, **kwargs)
        self.server_name = server_name
        self.arguments = list(arguments)
        self.debug = debug
        self.model = model
        self.method = method
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = f"{self.model}.{self.method}: " if self.model and self.method else ""
        return f"{where}{self.message}"


# --- retryable ------------------------------------------------------------------------------


class OdooTransientError(OdooError, TransientError):
    """Retrying the same call later may succeed."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        OdooError.__init__(self, message, retry_after=retry_after, **kwargs)


class OdooConnectionError(OdooTransientError):
    """The server could not be reached or dropped the connection."""


class OdooTimeout(OdooTransientError):
    """The call did not complete within its timeout (the server may still have applied it)."""


class OdooUnavailable(OdooTransientError):
    """HTTP 429 / 5xx without an Odoo error body (proxy, restart, rate limit)."""

    def __init__(self, message: str, *, status: int, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status


class OdooConcurrencyError(OdooTransientError):
    """PostgreSQL lock/serialization conflict (``could not serialize access``, lock timeouts)."""


# --- business rules (Odoo's UserError family) ------------------------------------------------


class UserError(OdooError, BusinessRuleError):
    """``odoo.exceptions.UserError``: the server refused the operation for a business reason."""


class ValidationError(UserError):
    """``odoo.exceptions.ValidationError``: constraint, mandatory field or foreign key failure."""


class MissingError(UserError):
    """``odoo.exceptions.MissingError``: the record does not exist (write/unlink of a deleted id)."""


# --- permanent ------------------------------------------------------------------------------


class OdooPermanentError(OdooError, PermanentError):
    """Retrying cannot help: credentials, permissions or the request itself must change."""


class AccessDenied(OdooPermanentError):
    """``odoo.exceptions.AccessDenied``: wrong login, password or API key."""


class AccessError(OdooPermanentError):
    """``odoo.exceptions.AccessError``: the user may not do this (groups, private method)."""


class InvalidField(OdooPermanentError):
    """``ValueError: Invalid field 'x' on model 'y'`` (create, write, read or domain)."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class InvalidValue(OdooPermanentError):
    """``ValueError: Wrong value for model.field: 'v'`` (e.g. a selection value not allowed)."""

    def __init__(self, message: str, *, field: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.field = field


class InvalidModel(OdooPermanentError):
    """``UserError: Object x.y doesn't exist`` (the model is not installed)."""


class InvalidMethod(OdooPermanentError):
    """``AttributeError: The method 'm' does not exist``, or an unknown RPC dispatch method."""


class UnknownDatabase(OdooPermanentError):
    """``psycopg2.OperationalError ... database "x" does not exist``."""


class OdooServerError(OdooPermanentError):
    """Any other server exception (``builtins.KeyError``, ``Expected singleton``, ...)."""


class OdooProtocolError(OdooPermanentError):
    """The server answered something that is not a JSON-RPC/JSON-2 answer, or HTTP 4xx."""

    def __init__(self, message: str, *, status: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.status = status


# --- classification -------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorRule:
    """``server_name`` (exact, or prefix when it ends with '.') + optional message regex."""

    server_name: str
    error: type[OdooError]
    message_pattern: str | None = None

    def matches(self, server_name: str, message: str) -> bool:
        if self.server_name.endswith("."):
            named = server_name.startswith(self.server_name)
        else:
            named = server_name == self.server_name
        if not named:
            return False
        return self.message_pattern is None or re.search(self.message_pattern, message) is not None


_LOCK_PATTERN = (
    r"(?i)could not serialize access|concurrent update|could not obtain lock|deadlock detected"
    r"|lock timeout|lock not available"
)
# ir.model.data's unique (module, name) when a concurrent transaction created the same external id
# first (hub_calls_refused_by_real_odoo.json #2, load_concurrent_same_external_id.json): a retry
# finds that external id and updates instead of creating.
_EXTERNAL_ID_RACE = (
    r'duplicate key value violates unique constraint "ir_model_data_module_name_uniq'
)
# Another transaction touched the same rows: raised as an error, or reported inside load's result.
CONCURRENT_UPDATE = re.compile(f"{_LOCK_PATTERN}|{_EXTERNAL_ID_RACE}")

# First match wins. Names are the ones recorded from Odoo 18 (README "Shape of every JSON-RPC
# error") plus psycopg2's lock/serialization classes that Odoo lets through after its own retries.
ERROR_RULES: tuple[ErrorRule, ...] = (
    ErrorRule("odoo.exceptions.AccessDenied", AccessDenied),
    ErrorRule("odoo.exceptions.AccessError", AccessError),
    ErrorRule("odoo.exceptions.MissingError", MissingError),
    ErrorRule("odoo.exceptions.ValidationError", OdooConcurrencyError, _EXTERNAL_ID_RACE),
    ErrorRule("odoo.exceptions.ValidationError", ValidationError),
    ErrorRule("odoo.exceptions.UserError", InvalidModel, r"^Object \S+ doesn't exist"),
    ErrorRule("odoo.exceptions.UserError", UserError),
    ErrorRule("odoo.exceptions.RedirectWarning", UserError),
    ErrorRule("odoo.exceptions.", UserError),
    ErrorRule("builtins.ValueError", InvalidField, r"^Invalid field"),
    ErrorRule("builtins.ValueError", InvalidValue, r"^Wrong value for"),
    ErrorRule("builtins.AttributeError", InvalidMethod, r"^The method '.*' does not exist"),
    ErrorRule("builtins.NameError", InvalidMethod, r"^Method not available"),
    ErrorRule("psycopg2.", OdooConcurrencyError, _LOCK_PATTERN),
    ErrorRule("psycopg2.errors.SerializationFailure", OdooConcurrencyError),
    ErrorRule("psycopg2.errors.LockNotAvailable", OdooConcurrencyError),
    ErrorRule("psycopg2.errors.DeadlockDetected", OdooConcurrencyError),
    ErrorRule("psycopg2.extensions.TransactionRollbackError", OdooConcurrencyError),
    ErrorRule("psycopg2.OperationalError", UnknownDatabase, r"database \".*\" does not exist"),
    # Other operational errors (too many connections, server restarting) clear up by themselves.
    ErrorRule("psycopg2.OperationalError", OdooConcurrencyError),
)

_FIELD_IN_MESSAGE = re.compile(
    r"Invalid field '(?P<q>[^']+)'|Invalid field [\w.]+\.(?P<d>\w+) in leaf"
    r"|Wrong value for [\w.]+?\.(?P<w>\w+):"
)


def error_class_for(server_name: str, message: str) -> type[OdooError]:
    for rule in ERROR_RULES:
        if rule.matches(server_name, message):
            return rule.error
    return OdooServerError


def error_from_payload(
    data: dict[str, Any],
    *,
    model: str | None = None,
    method: str | None = None,
    retry_after: float | None = None,
) -> OdooError:
    """Build the typed error for an Odoo error object (``error.data`` or a JSON-2 error body)."""
    server_name = str(data.get("name") or "builtins.Exception")
    message = str(data.get("message") or "")
    cls = error_class_for(server_name, message)
    extra: dict[str, Any] = {}
    if cls in (InvalidField, InvalidValue):
        found = _FIELD_IN_MESSAGE.search(message)
        if found:
            extra["field"] = found.group("q") or found.group("d") or found.group("w")
    return typed_error(cls, message, server_name, data, model=model, method=method,
                       retry_after=retry_after, **extra)  # fmt: skip


def typed_error(
    cls: type[OdooError],
    message: str,
    server_name: str,
    data: Mapping[str, Any],
    *,
    model: str | None,
    method: str | None,
    retry_after: float | None,
    **extra: Any,
) -> OdooError:
    """``cls`` carrying what an Odoo error object (JSON-RPC ``error.data`` or a JSON-2 body)
    says: message, server name, arguments, traceback."""
    arguments = data.get("arguments") or []
    return cls(
        message or server_name,
        server_name=server_name,
        arguments=arguments if isinstance(arguments, list) else [arguments],
        debug=data.get("debug"),
        model=model,
        method=method,
        retry_after=retry_after,
        rule=server_name,
        **extra,
    )
