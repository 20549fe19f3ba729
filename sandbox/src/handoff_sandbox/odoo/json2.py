"""``/json/2/<model>/<method>`` as Odoo 19's ``rpc`` module serves it (recorded in shared/odoo19).

The checks run in the real server's order: database (404 HTML), route (404 "Did you mean ..."),
Content-Type (415 HTML), bearer key (401), body (400), model (404), method (403 private, 404
unknown), ``ids`` on an ``@api.model`` method (422), ``signature.bind`` (422), then the call.
Errors are ``{name, message, arguments, context, debug}`` with the status Odoo 19 gives them:
``http_status`` of the UserError family (422; 403 AccessError; 404 MissingError), the code of a
werkzeug exception, 500 for anything else. Success is the method's bare JSON value.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from .auth import uid_for_key
from .errors import AccessError, OdooError
from .orm import PUBLIC_METHODS, Env

if TYPE_CHECKING:
    from .orm import Database
    from .series import Series

JSON_TYPE = "application/json; charset=utf-8"
NOT_FOUND_HINT = "Did you mean POST /json/2/<model>/<method>?"
NO_KEY = "User not authenticated, use an API Key with a Bearer Authorization header."
NO_DATABASE_PAGE = (
    "<!DOCTYPE html>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>No database is selected and the requested URL was not found in the server-wide "
    "controllers.</p>\n<p>Please verify the hostname, <a href=/web/login>login</a> and try "
    "again.</p>\n\n<!-- Alternatively, use the X-Odoo-Database header. -->\n"
)
UNSUPPORTED_MEDIA_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>415 Unsupported Media Type</title>\n"
    "<h1>Unsupported Media Type</h1>\n<p>Request inferred type is compatible with "
    "[&#39;http&#39;] but &#39;/json/2/&lt;__model__&gt;/&lt;__method__&gt;&#39; is "
    "type=&#39;json2&#39;.<br><br>Please verify the Content-Type request header and try "
    "again.</p>\n"
)
BEARER = re.compile(r"^bearer\s+(.+)$", re.IGNORECASE)


# Odoo 19's signatures of the ORM methods (BaseModel), for `signature.bind(records, **kwargs)`:
# binding them gives the server's own 422 messages ("missing a required argument: 'domain'",
# "got an unexpected keyword argument 'fieldz'").
def _create(self, vals_list): ...  # type: ignore[no-untyped-def]
def _write(self, vals): ...  # type: ignore[no-untyped-def]
def _read(self, fields=None, load="_classic_read"): ...  # type: ignore[no-untyped-def]
def _unlink(self): ...  # type: ignore[no-untyped-def]
def _search(self, domain, offset=0, limit=None, order=None): ...  # type: ignore[no-untyped-def]
def _search_count(self, domain, limit=None): ...  # type: ignore[no-untyped-def]
def _search_read(
    self, domain=None, fields=None, offset=0, limit=None, order=None, **read_kwargs
): ...  # type: ignore[no-untyped-def]
def _web_search_read(
    self, domain, specification, offset=0, limit=None, order=None, count_limit=None
): ...  # type: ignore[no-untyped-def]
def _web_read(self, specification): ...  # type: ignore[no-untyped-def]
def _name_search(self, name="", domain=None, operator="ilike", limit=100): ...  # type: ignore[no-untyped-def]
def _name_create(self, name): ...  # type: ignore[no-untyped-def]
def _fields_get(self, allfields=None, attributes=None): ...  # type: ignore[no-untyped-def]
def _default_get(self, fields): ...  # type: ignore[no-untyped-def]
def _load(self, fields, data): ...  # type: ignore[no-untyped-def]
def _read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True): ...  # type: ignore[no-untyped-def]
def _formatted_read_group(
    self, domain=(), groupby=(), aggregates=(), having=(), offset=0, limit=None, order=None
): ...  # type: ignore[no-untyped-def]
def _copy(self, default=None): ...  # type: ignore[no-untyped-def]
def _exists(self): ...  # type: ignore[no-untyped-def]
def _check_access_rights(self, operation, raise_exception=True): ...  # type: ignore[no-untyped-def]
def _has_access(self, operation): ...  # type: ignore[no-untyped-def]
def _context_get(self): ...  # type: ignore[no-untyped-def]
def _check_object_reference(self, module, xml_id, raise_on_access_error=False): ...  # type: ignore[no-untyped-def]


SIGNATURES: dict[str, inspect.Signature] = {
    name.removeprefix("_"): inspect.signature(func)
    for name, func in {
        "_create": _create,
        "_write": _write,
        "_read": _read,
        "_unlink": _unlink,
        "_search": _search,
        "_search_count": _search_count,
        "_search_read": _search_read,
        "_web_search_read": _web_search_read,
        "_web_read": _web_read,
        "_name_search": _name_search,
        "_name_create": _name_create,
        "_fields_get": _fields_get,
        "_default_get": _default_get,
        "_load": _load,
        "_read_group": _read_group,
        "_copy": _copy,
        "_formatted_read_group": _formatted_read_group,
        "_exists": _exists,
        "_check_access_rights": _check_access_rights,
        "_has_access": _has_access,
        "_context_get": _context_get,
        "_check_object_reference": _check_object_reference,
    }.items()
}
# Methods the sandbox serves only when it claims 19 (implemented in server.OdooSandbox).
SERIES_19_METHODS = frozenset({"formatted_read_group"})
API_MODEL = frozenset(
    {
        "formatted_read_group",
        "create",
        "search",
        "search_count",
        "search_read",
        "web_search_read",
        "name_search",
        "name_create",
        "fields_get",
        "default_get",
        "load",
        "read_group",
        "check_access_rights",
        "context_get",
        "check_object_reference",
    }
)
# The sandbox ORM's keyword names where Odoo 19 renamed the parameter.
SANDBOX_KWARGS: dict[tuple[str, str], str] = {
    ("name_search", "domain"): "args",
    ("default_get", "fields"): "fields_list",
    ("check_object_reference", "xml_id"): "name",
}


class HttpError(Exception):
    """A werkzeug HTTPException as the JSON-2 dispatcher serialises it."""

    def __init__(
        self, status: int, name: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.name, self.message = status, name, message
        self.headers = headers or {}


def not_found(message: str) -> HttpError:
    return HttpError(404, "werkzeug.exceptions.NotFound", message)


def unprocessable(message: str) -> HttpError:
    return HttpError(422, "werkzeug.exceptions.UnprocessableEntity", message)


def unauthorized(message: str) -> HttpError:
    return HttpError(
        401, "werkzeug.exceptions.Unauthorized", message, {"WWW-Authenticate": "Bearer "}
    )


def error_response(exc: Exception, where: str = "json2.py") -> Response:
    if isinstance(exc, HttpError):
        body = {
            "name": exc.name,
            "message": exc.message,
            "arguments": [exc.message, exc.status],
            "context": {},
            "debug": _traceback(exc.name, exc.message, where),
        }
        return Response(
            json.dumps(body), status_code=exc.status, headers=exc.headers, media_type=JSON_TYPE
        )
    error = exc if isinstance(exc, OdooError) else _as_odoo(exc)
    status = error.json2_status
    body = {
        "name": error.wire_name,
        "message": error.message,
        "arguments": [error.message],
        "context": {},
        "debug": error.traceback_text(where),
    }
    return Response(json.dumps(body), status_code=status, media_type=JSON_TYPE)


def _as_odoo(exc: Exception) -> OdooError:
    error = OdooError(str(exc.args[0]) if exc.args else str(exc))
    error.wire_name = f"builtins.{type(exc).__name__}"  # type: ignore[misc]
    return error


def _traceback(name: str, message: str, where: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        f'  File "handoff_sandbox/odoo/{where}", line 1, in web_json_2_rpc\n'
        f"{name}: {message}\n"
    )


def ok(result: Any) -> Response:
    return Response(
        json.dumps(result), media_type=JSON_TYPE, headers={"X-Content-Type-Options": "nosniff"}
    )


def database_gate(request: Request, db: Database) -> Response | None:
    """404 HTML when ``X-Odoo-Database`` names a database this server does not serve."""
    wanted = request.headers.get("x-odoo-database")
    if wanted is not None and wanted != db.name:
        return Response(NO_DATABASE_PAGE, status_code=404, media_type="text/html; charset=utf-8")
    return None


def bearer_uid(request: Request, db: Database) -> int:
    header = request.headers.get("authorization", "")
    found = BEARER.match(header)
    if found is None:
        raise unauthorized(NO_KEY)
    with db.lock:
        uid = uid_for_key(db, found.group(1).strip())
    if uid is None:
        raise unauthorized("Invalid apikey")
    return uid


async def read_params(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise HttpError(
            400,
            "werkzeug.exceptions.BadRequest",
            f"could not parse the body as json: {exc.args[0]}",
        ) from exc
    # `jsonrequest | args`: a body that is not an object is ignored (search_read.json #5).
    return dict(body) if isinstance(body, dict) else {}


def compatible(request: Request, has_body: bool) -> bool:
    mimetype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return mimetype == "application/json" or not has_body


def _ids(raw: Any) -> list[int]:
    if isinstance(raw, bool) or raw is None:
        return []
    if isinstance(raw, int):
        return [raw]
    if isinstance(raw, list):
        return [int(i) for i in raw if isinstance(i, int) and not isinstance(i, bool)]
    return []  # Model.browse("1") reads nothing (nonexistent_method.json #6)


def call(
    db: Database,
    series: Series,
    uid: int,
    model: str,
    method: str,
    params: dict[str, Any],
    execute: Callable[..., Any],
) -> Any:
    """Check and run one JSON-2 call; raises HttpError or the ORM's OdooError."""
    if model not in db.models or model in series.view.removed_models:
        raise not_found(f"the model {model!r} does not exist")
    if method.startswith("_"):
        raise AccessError(
            f"Private methods (such as '{model}.{method}') cannot be called remotely."
        )
    behaviour = Env(db, uid)[model].behaviour
    if behaviour.method(method) is None and method not in PUBLIC_METHODS | SERIES_19_METHODS:
        raise not_found(f"The method '{model}.{method}' does not exist")
    kwargs = dict(params)
    ids = _ids(kwargs.pop("ids", None))
    context = kwargs.pop("context", None)
    model_level = method in API_MODEL or behaviour.model_level(method)
    if model_level and ids:
        raise unprocessable(f"cannot call {model}.{method} with ids")
    signature = SIGNATURES.get(method)
    if signature is not None:
        try:
            signature.bind(None, **kwargs)
        except TypeError as exc:
            raise unprocessable(str(exc.args[0])) from exc
        extra = set(kwargs) - set(signature.parameters)
        if extra and method == "search_read":
            raise TypeError(
                f"BaseModel._read_format() got an unexpected keyword argument '{sorted(extra)[0]}'"
            )
    if method == "check_access_rights":
        return None  # still callable in 19, answers null (nonexistent_method.json #7)
    named = {SANDBOX_KWARGS.get((method, k), k): v for k, v in kwargs.items()}
    if not model_level:
        named["ids"] = ids
    if isinstance(context, dict):
        named["context"] = context
    result = execute(uid, model, method, [], named)
    if method == "create" and isinstance(result, int):
        return [result]  # recordsets become id lists: create always answers a list (create_one #2)
    return result


__all__ = [
    "NOT_FOUND_HINT",
    "HttpError",
    "bearer_uid",
    "call",
    "compatible",
    "database_gate",
    "error_response",
    "not_found",
    "ok",
    "read_params",
]
