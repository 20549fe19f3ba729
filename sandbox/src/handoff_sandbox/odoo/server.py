"""The sandbox's HTTP surface: /jsonrpc, /xmlrpc/2/*, /json/2/<model>/<method> (19), control endpoint.

JSON-RPC and XML-RPC errors follow the recorded shapes (HTTP 200; `error.data.name`; fault codes
1-4); a method returning None has no `result` key (18 result_omitted_when_none.json). The series
(`series.py`, 18 by default) decides the version strings and whether JSON-2 exists: an 18 sandbox
answers `/json/...` as a real 18 does (its `/json/<path>` route wants a web session: 303 to
/web/login), a 19 sandbox serves JSON-2 as recorded in shared/odoo19 (`json2.py`).
"""

from __future__ import annotations

import json
import re
import xmlrpc.client
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import json2 as j2
from .auth import authenticate, check_password
from .errors import (
    AccessDenied,
    DatabaseMissing,
    OdooError,
    SerializationFailure,
    UnknownDispatch,
    UnknownService,
    UserError,
    ValidationError,
)
from .faults import FaultInjector, FaultSettings
from .orm import Database, Env
from .series import SERIES_18, Series, languages

VERSION_INFO = SERIES_18.common_version()
HTML = "text/html; charset=utf-8"
# What a call matched by `fail_matching: {text: refuse}` is answered (Odoo's constraint error).
REFUSED_MESSAGE = "The operation cannot be completed: a record was refused (sandbox fail_matching)"
NOT_FOUND_PAGE = (
    "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    "<p>The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.</p>\n"
)
# `db` service methods that need the master password (odoo/service/db.py dispatch).
DB_MASTER_METHODS = frozenset(
    {
        "create_database",
        "duplicate_database",
        "drop",
        "dump",
        "restore",
        "rename",
        "change_admin_password",
        "migrate_databases",
        "list_countries",
    }
)


class PythonError(OdooError):
    """A plain Python exception Odoo lets through (`builtins.<name>`)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.wire_name = f"builtins.{name}"  # type: ignore[misc]


class MethodNotFound(OdooError):
    """`common.dispatch`'s `Exception("Method not found: x")`."""

    wire_name = "builtins.Exception"


class DbMethodNotFound(OdooError):
    """`db.dispatch`'s `KeyError("Method not found: x")`."""

    wire_name = "builtins.KeyError"


class OdooSandbox:
    """Dispatches the `common`, `db` and `object` services onto one sandbox database."""

    def __init__(self, db: Database, faults: FaultInjector, series: Series = SERIES_18) -> None:
        self.db = db
        self.faults = faults
        self.series = series

    def _check_db(self, name: Any) -> None:
        if name != self.db.name:
            raise DatabaseMissing(
                f'connection to server at "127.0.0.1", port 5432 failed: FATAL:  database '
                f'"{name}" does not exist\n'
            )

    def common(self, method: str, args: list[Any]) -> Any:
        if method == "version":
            return self.series.common_version()
        if method in ("authenticate", "login"):
            database, login, password = ([*list(args), None, None, None])[:3]
            self._check_db(database)
            with self.db.lock:
                return authenticate(self.db, str(login), str(password)) or False
        if method == "about":
            info = "See http://openerp.com"
            return [info, self.series.server_version] if args and args[0] else info
        if method == "set_loglevel":
            return True
        raise MethodNotFound(f"Method not found: {method}")

    def db_service(self, method: str, args: list[Any]) -> Any:
        """The public `db` methods (no master password); the rest refuse as Odoo does."""
        if method == "db_exist":
            return bool(args) and args[0] == self.db.name
        if method == "list":
            return [self.db.name]  # list_db is on by default; this server has one database
        if method == "list_lang":
            return languages()
        if method == "server_version":
            return self.series.server_version
        if method in DB_MASTER_METHODS:
            raise AccessDenied()  # check_super: no master password matches
        raise DbMethodNotFound(f"Method not found: {method}")

    def object(self, method: str, args: list[Any], extra_context: dict | None = None) -> Any:
        if method not in ("execute_kw", "execute"):
            raise UnknownDispatch(f"Method not available {method}")
        database, uid, password, model, model_method, *rest = args
        self._check_db(database)
        with self.db.lock:
            if not isinstance(uid, int) or not check_password(self.db, uid, password):
                raise AccessDenied()
        if method == "execute_kw":
            call_args = rest[0] if rest else []
            kwargs = rest[1] if len(rest) > 1 and rest[1] else {}
            if self.series.major >= 19 and model_method == "create" and not call_args:
                # 19's legacy create reads args[0] (quote_to_cash_jsonrpc.json #1)
                raise PythonError("IndexError", "list index out of range")
        else:
            call_args, kwargs = list(rest), {}
        return self.execute(uid, model, model_method, list(call_args), dict(kwargs), extra_context)

    def execute(
        self,
        uid: int,
        model: str,
        method: str,
        args: list[Any],
        kwargs: dict[str, Any],
        extra_context: dict | None = None,
    ) -> Any:
        view = self.series.view
        if model in view.removed_models:
            raise UserError(f"Object {model} doesn't exist")
        if method == "formatted_read_group" and self.series.major >= 19:
            return self.formatted_read_group(uid, model, args, kwargs, extra_context)
        args, kwargs = view.request(model, method, args, kwargs)
        try:
            with self.db.transaction():
                env = Env(self.db, uid, extra_context or {})
                result = env.call(model, method, args, kwargs)
        except Exception as exc:
            raise self.series.reword(method, exc) from None
        if self.series.major >= 19 and method == "load" and isinstance(result, dict):
            # 19 raises on an unknown column instead of reporting it (external_ids.json #6)
            for message in result.get("messages") or []:
                unknown = re.match(
                    r"^Invalid field '([^']+)' on model ", message.get("message", "")
                )
                if unknown and result.get("ids") is False:
                    raise PythonError("ValueError", f"Invalid field name {unknown.group(1)!r}")
        return view.answer(model, method, result)

    def formatted_read_group(
        self,
        uid: int,
        model: str,
        args: list[Any],
        kwargs: dict[str, Any],
        extra_context: dict | None,
    ) -> Any:
        """19's `formatted_read_group(domain, groupby, aggregates, ...)` over read_group: groups
        carry `__extra_domain`, `__count` and `"field:agg"` keys; a date groupby is the pair
        [start, label] (read_group.json #2, #3)."""
        names = ("domain", "groupby", "aggregates", "having", "offset", "limit", "order")
        params = {**dict(zip(names, args, strict=False)), **kwargs}
        groupby = list(params.get("groupby") or [])
        aggregates = list(params.get("aggregates") or [])
        fields = [a for a in aggregates if a != "__count"]
        groups = self.execute(
            uid,
            model,
            "read_group",
            [],
            {
                "domain": params.get("domain") or [],
                "fields": fields,
                "groupby": groupby,
                "offset": params.get("offset") or 0,
                "limit": params.get("limit"),
                "orderby": params.get("order"),
                "lazy": False,
                **({"context": params["context"]} if "context" in params else {}),
            },
            extra_context,
        )
        answer = []
        for group in groups:
            row: dict[str, Any] = {}
            for spec in groupby:
                value = group.get(spec)
                window = (group.get("__range") or {}).get(spec)
                row[spec] = [window["from"], value] if window and value else value
            row["__extra_domain"] = group.get("__domain", [])
            for aggregate in aggregates:
                row[aggregate] = (
                    group.get("__count")
                    if aggregate == "__count"
                    else group.get(aggregate.split(":")[0])
                )
            answer.append(row)
        return answer

    def dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common":
            return self.common(method, args)
        if service == "object":
            return self.object(method, args)
        if service == "db":
            return self.db_service(method, args)
        raise UnknownService(service)


def _error_data(exc: OdooError) -> dict[str, Any]:
    return {
        "name": exc.wire_name,
        "debug": exc.traceback_text("server.py"),
        "message": exc.message,
        "arguments": [exc.message],
        "context": {},
    }


def _jsonrpc_error(request_id: Any, exc: OdooError, series: Series = SERIES_18) -> Response:
    # 19's JsonRPCDispatcher says code 0 ("we don't care of this code"); 18 said 200.
    code = 0 if series.major >= 19 else 200
    return _json(
        {
            "jsonrpc": "2.0",
            "id": request_id,
            "error": {"code": code, "message": "Odoo Server Error", "data": _error_data(exc)},
        },
        nosniff=False,
    )


def _json(body: Any, *, nosniff: bool = True) -> Response:
    """Odoo's make_json_response: json.dumps, `application/json; charset=utf-8`, and on a
    successful answer `X-Content-Type-Options: nosniff` (recorded 19 headers)."""
    headers = {"X-Content-Type-Options": "nosniff"} if nosniff else {}
    return Response(json.dumps(body), media_type=j2.JSON_TYPE, headers=headers)


def _as_odoo_error(exc: Exception) -> OdooError:
    if isinstance(exc, OdooError):
        return exc
    error = OdooError(str(exc))
    error.wire_name = f"builtins.{type(exc).__name__}"  # type: ignore[misc]
    return error


def _jsonrpc_result(request_id: Any, result: Any) -> Response:
    """Odoo's JsonRPCDispatcher._response: no `result` key when the method returned None."""
    answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id}
    if result is not None:
        answer["result"] = result
    return _json(answer)


def build_app(db: Database, faults: FaultInjector, series: Series = SERIES_18) -> Starlette:
    sandbox = OdooSandbox(db, faults, series)

    async def injected(request: Request) -> tuple[Response | OdooError | bool | None, bool]:
        """Apply latency, then a pending fault: (a Response to send, True for a lock error, an
        Odoo error to answer (a refusal), or None; whether to hold the answer once the effect is
        applied)."""
        named = await _call_name(request) if faults.names_calls() else None
        delay, kind, status, hold = faults.take(named)
        await faults.delay(delay)
        if hold is not None:
            await request.body()  # read (and kept) while the client is still there
        if hold == "before":  # held, then dropped: the call never reaches the database
            await faults.hold()
            return Response("Service Unavailable (held call dropped)", status_code=503), False
        if hold is None and faults.matches_bodies():
            matched = faults.match(await request.body())
            if matched == "refuse":
                return ValidationError(REFUSED_MESSAGE), False
            if matched is not None:
                kind, status = matched, faults.state().fail_status
        return await _fault_response(kind, status), hold == "after"

    async def _call_name(request: Request) -> str | None:
        """ "<model>.<method>" of an `execute_kw` call ("<service>.<method>" of another), for a
        hold that counts only some methods; None when the body says nothing readable."""
        path = request.url.path
        if path.startswith("/json/2/"):
            return ".".join(path.removeprefix("/json/2/").strip("/").split("/")[:2])
        raw = await request.body()
        try:
            if path.startswith("/xmlrpc"):
                args, method = xmlrpc.client.loads(raw, use_builtin_types=True)
                service = request.path_params.get("service", "")
            else:
                params = json.loads(raw).get("params") or {}
                service, method, args = (
                    params.get("service"),
                    params.get("method"),
                    params.get("args") or [],
                )
        except Exception:  # a body the handler itself refuses: it has no name to count
            return None
        if method == "execute_kw" and len(args) >= 5:
            return f"{args[3]}.{args[4]}"
        return f"{service}.{method}"

    async def _fault_response(kind: str | None, status: int) -> Response | bool | None:
        if kind == "http":
            return Response("Service Unavailable (injected)", status_code=status)
        if kind == "timeout":
            await faults.delay(30.0)
            return Response("Gateway Timeout (injected)", status_code=504)
        if kind == "disconnect":
            raise ConnectionResetError("injected disconnect")
        if kind == "lock":
            return True
        return None

    async def jsonrpc(request: Request) -> Response:
        fault, hold_after = await injected(request)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "Parse error"}},
                status_code=400,
            )
        request_id = body.get("id")
        if isinstance(fault, Response):
            return fault
        params = body.get("params") or {}
        try:
            if fault is True:
                raise SerializationFailure()
            if isinstance(fault, OdooError):
                raise fault
            result = sandbox.dispatch(
                params.get("service", ""), params.get("method", ""), list(params.get("args") or [])
            )
        except Exception as exc:  # every failure becomes Odoo's error object, as Odoo does
            return _jsonrpc_error(request_id, _as_odoo_error(exc), series)
        if hold_after:
            await faults.hold()
        return _jsonrpc_result(request_id, result)

    async def xmlrpc_endpoint(request: Request) -> Response:
        fault, hold_after = await injected(request)
        if isinstance(fault, Response):
            return fault
        service = request.path_params["service"]
        legacy = not request.url.path.startswith("/xmlrpc/2/")
        raw = await request.body()
        try:
            args, method = xmlrpc.client.loads(raw, use_builtin_types=True)
            if fault is True:
                raise SerializationFailure()
            if isinstance(fault, OdooError):
                raise fault
            result = sandbox.dispatch(service, method or "", list(args))
            payload = xmlrpc.client.dumps(
                (_xml_safe(result),), methodresponse=True, allow_none=False
            )
        except Exception as exc:
            error = _as_odoo_error(exc)
            payload = xmlrpc.client.dumps(_xml_fault(error, legacy), methodresponse=True)
        if hold_after:
            await faults.hold()
        return Response(payload, media_type="text/xml; charset=utf-8")

    async def json2(request: Request) -> Response:
        """Odoo 19's `/json/2` routes (`rpc` module); see json2.py for the order of checks."""
        gate = j2.database_gate(request, db)
        if gate is not None:
            return gate
        parts = request.url.path.removeprefix("/json/2").strip("/").split("/")
        if request.method != "POST" or len(parts) != 2 or not all(parts):
            return j2.error_response(j2.not_found(j2.NOT_FOUND_HINT))
        raw = await request.body()
        if not j2.compatible(request, bool(raw)):
            return Response(
                j2.UNSUPPORTED_MEDIA_PAGE,
                status_code=415,
                media_type=HTML,
                headers={"Accept": "application/json"},
            )
        fault, hold_after = await injected(request)
        if isinstance(fault, Response):
            return fault
        model, method = parts
        try:
            uid = j2.bearer_uid(request, db)
            params = await j2.read_params(request)
            if fault is True:
                raise SerializationFailure()
            if isinstance(fault, OdooError):
                raise fault
            result = j2.call(db, series, uid, model, method, params, sandbox.execute)
        except Exception as exc:
            if isinstance(exc, UserError) and exc.message.startswith("Object "):
                exc = j2.not_found(f"the model {model!r} does not exist")
            return j2.error_response(exc)
        if hold_after:
            await faults.hold()
        return j2.ok(result)

    async def json_needs_session(request: Request) -> Response:
        """Odoo 18's `/json/<path>` (web) is auth='user': without a session, 303 to the login."""
        full_path = f"{request.url.path}?{request.url.query}"
        target = f"/web/login?redirect={quote(full_path, safe='')}"
        body = (
            "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n"
            "<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the "
            f'target URL: <a href="{target}">{target}</a>. If not, click the link.\n'
        )
        return Response(body, status_code=303, media_type=HTML, headers={"Location": target})

    async def web_version(request: Request) -> Response:
        if request.method != "GET":  # type='http' POST without a CSRF token (19 version.json #2)
            return Response(
                "<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n"
                "<h1>Bad Request</h1>\n<p>Session expired (invalid CSRF token)</p>\n",
                status_code=400,
                media_type=HTML,
            )
        return j2.ok(series.web_version())

    async def version_info(request: Request) -> Response:
        body = await _json_or_empty(request)
        return JSONResponse(
            {"jsonrpc": "2.0", "id": body.get("id"), "result": series.common_version()}
        )

    async def session_authenticate(request: Request) -> Response:
        body = await _json_or_empty(request)
        params = body.get("params") or body
        try:
            sandbox._check_db(params.get("db"))
            with db.lock:
                uid = authenticate(db, str(params.get("login")), str(params.get("password")))
            if not uid:
                raise AccessDenied()
        except OdooError as exc:
            return _jsonrpc_error(body.get("id"), exc, series)
        response = JSONResponse(
            {
                "jsonrpc": "2.0",
                "id": body.get("id"),
                "result": {
                    "uid": uid,
                    "is_system": uid == 2,
                    "is_admin": uid == 2,
                    "is_public": False,
                    "is_internal_user": True,
                    "user_context": {"lang": "en_US", "tz": False, "uid": uid},
                    "db": db.name,
                    **series.common_version(),
                },
            }
        )
        response.set_cookie("session_id", f"sandbox-{uid}")
        return response

    async def call_kw(request: Request) -> Response:
        body = await _json_or_empty(request)
        params = body.get("params") or body
        cookie = request.cookies.get("session_id", "")
        try:
            if not cookie.startswith("sandbox-"):
                raise AccessDenied("Session expired")
            uid = int(cookie.removeprefix("sandbox-"))
            kwargs = dict(params.get("kwargs") or {})
            result = sandbox.execute(
                uid,
                params["model"],
                params["method"],
                list(params.get("args") or []),
                kwargs,
                {"__http_session__": True},
            )
        except Exception as exc:
            return _jsonrpc_error(body.get("id"), _as_odoo_error(exc), series)
        return _jsonrpc_result(body.get("id"), result)

    async def doc_bearer(request: Request) -> Response:
        """Method signatures for odoo-client-lib's json2 proxy (positional args -> kwargs)."""
        methods = {
            "search": ["domain", "offset", "limit", "order"],
            "read": ["fields"],
            "search_read": ["domain", "fields", "offset", "limit", "order"],
            "search_count": ["domain", "limit"],
            "create": ["vals_list"],
            "write": ["vals"],
            "unlink": [],
            "name_search": ["name", "domain", "operator", "limit"],
            "fields_get": ["allfields", "attributes"],
            "context_get": [],
            "read_group": ["domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"],
            "action_confirm": [],
            "action_post": [],
        }
        model_level = {
            "search",
            "search_read",
            "search_count",
            "create",
            "name_search",
            "fields_get",
            "context_get",
            "read_group",
        }
        return JSONResponse(
            {
                "model": request.path_params["model"],
                "methods": {
                    name: {
                        "parameters": {p: {} for p in params},
                        "api": ["model"] if name in model_level else [],
                    }
                    for name, params in methods.items()
                },
            }
        )

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                settings = FaultSettings.model_validate(await _json_or_empty(request))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(faults.configure(settings).model_dump())
        return JSONResponse(faults.state().model_dump())

    every_method = ["GET", "POST", "PUT", "DELETE", "PATCH"]
    routes = [
        Route("/jsonrpc", jsonrpc, methods=["POST"]),
        Route("/xmlrpc/2/{service}", xmlrpc_endpoint, methods=["POST"]),
        Route("/xmlrpc/{service}", xmlrpc_endpoint, methods=["POST"]),
        Route("/web/webclient/version_info", version_info, methods=["POST"]),
        Route("/web/session/authenticate", session_authenticate, methods=["POST"]),
        Route("/web/dataset/call_kw/{path:path}", call_kw, methods=["POST"]),
        Route("/web/dataset/call_kw", call_kw, methods=["POST"]),
        Route("/sandbox/control", control, methods=["GET", "POST"]),
    ]
    if series.json2:
        routes += [
            Route("/json/2", json2, methods=every_method),
            Route("/json/2/{path:path}", json2, methods=every_method),
            Route("/json/version", web_version, methods=["GET"]),
            Route("/web/version", web_version, methods=["GET", "POST"]),
            Route("/doc-bearer/{model}.json", doc_bearer, methods=["GET"]),
        ]
    else:
        routes.append(Route("/json/{path:path}", json_needs_session, methods=every_method))

    async def not_found(request: Request, exc: Exception) -> Response:
        return Response(NOT_FOUND_PAGE, status_code=404, media_type=HTML)

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.sandbox = sandbox
    return app


async def _json_or_empty(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _xml_safe(value: Any) -> Any:
    """XML-RPC has no None: Odoo sends False in its place."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {str(k): _xml_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_xml_safe(v) for v in value]
    return value


def _xml_fault(error: OdooError, legacy: bool) -> xmlrpc.client.Fault:
    if legacy:
        kind = (
            "warning -- UserError"
            if error.xmlrpc_fault_code == 2
            else (
                "AccessDenied"
                if error.xmlrpc_fault_code == 3
                else "warning -- AccessError"
                if error.xmlrpc_fault_code == 4
                else error.traceback_text("server.py")
            )
        )
        return xmlrpc.client.Fault(
            f"{kind}{error.message}" if error.xmlrpc_fault_code in (2, 4) else kind, ""
        )
    text = error.message if error.xmlrpc_fault_code != 1 else error.traceback_text("server.py")
    return xmlrpc.client.Fault(error.xmlrpc_fault_code, text)


__all__ = ["VERSION_INFO", "OdooSandbox", "build_app"]
