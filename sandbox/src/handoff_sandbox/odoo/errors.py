"""The exceptions the sandbox raises, named exactly as Odoo 18 names them on the wire.

`wire_name` is what goes into `error.data.name` over JSON-RPC; `xmlrpc_fault_code` is the fault code
Odoo's `/xmlrpc/2/` answers for it (README: 1 other, 2 UserError family, 3 AccessDenied, 4 AccessError);
`json2_status` is the HTTP status of the JSON-2 error body: Odoo 19's Json2Dispatcher answers the
UserError family with its `http_status` (422; AccessError/AccessDenied 403; MissingError 404) and
every other exception with 500 (recorded in shared/odoo19: ValueError, KeyError, TypeError).
"""

from __future__ import annotations

from typing import ClassVar


class OdooError(Exception):
    wire_name: ClassVar[str] = "builtins.Exception"
    xmlrpc_fault_code: ClassVar[int] = 1
    json2_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def traceback_text(self, where: str) -> str:
        """A traceback-shaped `debug` text, like Odoo's (the sandbox has no Odoo frames to show)."""
        return (
            "Traceback (most recent call last):\n"
            f'  File "handoff_sandbox/odoo/{where}", line 1, in dispatch\n'
            f"{self.wire_name}: {self.message}\n"
        )


class UserError(OdooError):
    wire_name = "odoo.exceptions.UserError"
    xmlrpc_fault_code = 2
    json2_status = 422


class ValidationError(UserError):
    wire_name = "odoo.exceptions.ValidationError"


class MissingError(UserError):
    wire_name = "odoo.exceptions.MissingError"
    json2_status = 404


class AccessDenied(OdooError):
    wire_name = "odoo.exceptions.AccessDenied"
    xmlrpc_fault_code = 3
    json2_status = 403

    def __init__(self, message: str = "Access Denied") -> None:
        super().__init__(message)


class AccessError(OdooError):
    wire_name = "odoo.exceptions.AccessError"
    xmlrpc_fault_code = 4
    json2_status = 403


class InvalidValue(OdooError):
    """Python's ValueError as Odoo lets it through (unknown field, bad selection, singleton...)."""

    wire_name = "builtins.ValueError"


class UnknownMethod(OdooError):
    wire_name = "builtins.AttributeError"


class UnknownDispatch(OdooError):
    wire_name = "builtins.NameError"


class UnknownService(OdooError):
    wire_name = "builtins.KeyError"


class DatabaseMissing(OdooError):
    wire_name = "psycopg2.OperationalError"


class SerializationFailure(OdooError):
    """What a concurrent-update conflict looks like in Odoo (injected by the `lock` fault)."""

    wire_name = "psycopg2.errors.SerializationFailure"

    def __init__(self) -> None:
        super().__init__("could not serialize access due to concurrent update\n")


def missing_record(model: str, ids: list[int], uid: int) -> MissingError:
    return MissingError(
        f"Record does not exist or has been deleted.\n(Record: {model}{tuple(ids)!r}, User: {uid})"
    )
