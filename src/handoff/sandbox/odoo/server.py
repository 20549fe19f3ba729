"""The sandbox's HTTP surface: /jsonrpc, /xmlrpc/2/*, /json/2/<model>/<method>, control endpoint.

JSON-RPC and XML-RPC errors follow the recorded shapes (HTTP 200; `error.data.name`; fault codes
1-4). JSON-2 (Odoo 19 style) answers errors with an HTTP status (401 AccessDenied, 403 AccessError,
404 MissingError / unknown model or method, 422 UserError / ValidationError / ValueError,
500 otherwise, 503 for an injected lock) and the body `{name, message, arguments, context, debug}`.
"""

from __future__ import annotations

import json
import xmlrpc.client
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .auth import authenticate, check_password, uid_for_key
from .errors import (
    AccessDenied,
    DatabaseMissing,
    OdooError,
    SerializationFailure,
    UnknownDispatch,
    UnknownService,
    UserError,
)
from .faults import FaultInjector, FaultSettings
from .orm import Database, Env

VERSION_INFO = {
    "server_version": "18.0-20250421",
    "server_version_info": [18, 0, 0, "final", 0, ""],
    "server_serie": "18.0",
    "protocol_version": 1,
}


class OdooSandbox:
    """Dispatches the `common` and `object` services onto one sandbox database."""

    def __init__(self, db: Database, faults: FaultInjector) -> None:
        self.db = db
        self.faults = faults

    def _check_db(self, name: Any) -> None:
        if name != self.db.name:
            raise DatabaseMissing(
                f'connection to server at "127.0.0.1", port 5432 failed: FATAL:  database '
                f'"{name}" does not exist\n')

    def common(self, method: str, args: list[Any]) -> Any:
        if method == "version":
            return VERSION_INFO
        if method in ("authenticate", "login"):
            database, login, password = ([*list(args), None, None, None])[:3]
            self._check_db(database)
            with self.db.lock:
                return authenticate(self.db, str(login), str(password)) or False
        if method == "about":
            return "See http://openerp.com"
        raise UnknownDispatch(f"Method not available {method}")

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
        else:
            call_args, kwargs = list(rest), {}
        return self.execute(uid, model, model_method, list(call_args), dict(kwargs), extra_context)

    def execute(self, uid: int, model: str, method: str, args: list[Any], kwargs: dict[str, Any],
                extra_context: dict | None = None) -> Any:
        with self.db.transaction():
            env = Env(self.db, uid, extra_context or {})
            return env.call(model, method, args, kwargs)

    def dispatch(self, service: str, method: str, args: list[Any]) -> Any:
        if service == "common":
            return self.common(method, args)
        if service == "object":
            return self.object(method, args)
        if service == "db":
            if method == "list":
                return [self.db.name]
            if method == "server_version":
                return VERSION_INFO["server_version"]
            raise UnknownDispatch(f"Method not available {method}")
        raise UnknownService(service)


def _error_data(exc: OdooError) -> dict[str, Any]:
    return {"name": exc.wire_name, "debug": exc.traceback_text("server.py"),
            "message": exc.message, "arguments": [exc.message], "context": {}}


def _jsonrpc_error(request_id: Any, exc: OdooError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id,
            "error": {"code": 200, "message": "Odoo Server Error", "data": _error_data(exc)}}


def _as_odoo_error(exc: Exception) -> OdooError:
    if isinstance(exc, OdooError):
        return exc
    error = OdooError(str(exc))
    error.wire_name = f"builtins.{type(exc).__name__}"  # type: ignore[misc]
    return error


def build_app(db: Database, faults: FaultInjector) -> Starlette:
    sandbox = OdooSandbox(db, faults)

    async def injected(request: Request) -> Response | bool | None:
        """Apply latency, then a pending fault: a Response to send, True for a lock error."""
        delay, kind, status = faults.take()
        await faults.delay(delay)
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
        fault = await injected(request)
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"jsonrpc": "2.0", "id": None, "error": {
                "code": -32700, "message": "Parse error"}}, status_code=400)
        request_id = body.get("id")
        if isinstance(fault, Response):
            return fault
        params = body.get("params") or {}
        try:
            if fault is True:
                raise SerializationFailure()
            result = sandbox.dispatch(params.get("service", ""), params.get("method", ""),
                                      list(params.get("args") or []))
        except Exception as exc:  # every failure becomes Odoo's error object, as Odoo does
            return JSONResponse(_jsonrpc_error(request_id, _as_odoo_error(exc)))
        return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})

    async def xmlrpc_endpoint(request: Request) -> Response:
        fault = await injected(request)
        if isinstance(fault, Response):
            return fault
        service = request.path_params["service"]
        legacy = not request.url.path.startswith("/xmlrpc/2/")
        raw = await request.body()
        try:
            args, method = xmlrpc.client.loads(raw, use_builtin_types=True)
            if fault is True:
                raise SerializationFailure()
            result = sandbox.dispatch(service, method or "", list(args))
            payload = xmlrpc.client.dumps((_xml_safe(result),), methodresponse=True,
                                          allow_none=False)
        except Exception as exc:
            error = _as_odoo_error(exc)
            payload = xmlrpc.client.dumps(_xml_fault(error, legacy), methodresponse=True)
        return Response(payload, media_type="text/xml; charset=utf-8")

    async def json2(request: Request) -> Response:
        fault = await injected(request)
        if isinstance(fault, Response):
            return fault
        model, method = request.path_params["model"], request.path_params["method"]
        try:
            uid = _bearer_uid(request, db)
            body = await request.json() if await request.body() else {}
            if not isinstance(body, dict):
                raise UserError("The request body must be a JSON object of keyword arguments.")
            if fault is True:
                raise SerializationFailure()
            kwargs = dict(body)
            ids = kwargs.pop("ids", None)
            args: list[Any] = []
            if ids is not None:
                args = [ids]
            result = sandbox.execute(uid, model, method, args, kwargs)
        except Exception as exc:
            error = _as_odoo_error(exc)
            status = error.json2_status
            if isinstance(error, UserError) and error.message.startswith("Object "):
                status = 404
            return JSONResponse(_error_data(error), status_code=status)
        return JSONResponse(result)

    async def version_info(request: Request) -> Response:
        body = await _json_or_empty(request)
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": VERSION_INFO})

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
            return JSONResponse(_jsonrpc_error(body.get("id"), exc))
        response = JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": {
            "uid": uid, "is_system": uid == 2, "is_admin": uid == 2, "is_public": False,
            "is_internal_user": True, "user_context": {"lang": "en_US", "tz": False, "uid": uid},
            "db": db.name, **VERSION_INFO}})
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
            result = sandbox.execute(uid, params["model"], params["method"],
                                     list(params.get("args") or []), kwargs,
                                     {"__http_session__": True})
        except Exception as exc:
            return JSONResponse(_jsonrpc_error(body.get("id"), _as_odoo_error(exc)))
        return JSONResponse({"jsonrpc": "2.0", "id": body.get("id"), "result": result})

    async def doc_bearer(request: Request) -> Response:
        """Method signatures for odoo-client-lib's json2 proxy (positional args -> kwargs)."""
        methods = {
            "search": ["domain", "offset", "limit", "order"], "read": ["fields"],
            "search_read": ["domain", "fields", "offset", "limit", "order"],
            "search_count": ["domain", "limit"], "create": ["vals_list"], "write": ["vals"],
            "unlink": [], "name_search": ["name", "domain", "operator", "limit"],
            "fields_get": ["allfields", "attributes"], "context_get": [],
            "read_group": ["domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"],
            "action_confirm": [], "action_post": [],
        }
        model_level = {"search", "search_read", "search_count", "create", "name_search",
                       "fields_get", "context_get", "read_group"}
        return JSONResponse({"model": request.path_params["model"], "methods": {
            name: {"parameters": {p: {} for p in params},
                   "api": ["model"] if name in model_level else []}
            for name, params in methods.items()}})

    async def control(request: Request) -> Response:
        if request.method == "POST":
            try:
                settings = FaultSettings.model_validate(await _json_or_empty(request))
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse(faults.configure(settings).model_dump())
        return JSONResponse(faults.state().model_dump())

    routes = [
        Route("/jsonrpc", jsonrpc, methods=["POST"]),
        Route("/xmlrpc/2/{service}", xmlrpc_endpoint, methods=["POST"]),
        Route("/xmlrpc/{service}", xmlrpc_endpoint, methods=["POST"]),
        Route("/json/2/{model}/{method}", json2, methods=["POST"]),
        Route("/web/webclient/version_info", version_info, methods=["POST"]),
        Route("/web/session/authenticate", session_authenticate, methods=["POST"]),
        Route("/web/dataset/call_kw/{path:path}", call_kw, methods=["POST"]),
        Route("/web/dataset/call_kw", call_kw, methods=["POST"]),
        Route("/doc-bearer/{model}.json", doc_bearer, methods=["GET"]),
        Route("/sandbox/control", control, methods=["GET", "POST"]),
    ]
    app = Starlette(routes=routes)
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


def _bearer_uid(request: Request, db: Database) -> int:
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise AccessDenied()
    wanted_db = request.headers.get("x-odoo-database")
    if wanted_db and wanted_db != db.name:
        raise AccessDenied()
    with db.lock:
        uid = uid_for_key(db, key.strip())
    if uid is None:
        raise AccessDenied()
    return uid


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
        kind = "warning -- UserError" if error.xmlrpc_fault_code == 2 else (
            "AccessDenied" if error.xmlrpc_fault_code == 3 else "warning -- AccessError"
            if error.xmlrpc_fault_code == 4 else error.traceback_text("server.py"))
        return xmlrpc.client.Fault(f"{kind}{error.message}" if error.xmlrpc_fault_code in (2, 4)
                                   else kind, "")
    text = error.message if error.xmlrpc_fault_code != 1 else error.traceback_text("server.py")
    return xmlrpc.client.Fault(error.xmlrpc_fault_code, text)


__all__ = ["VERSION_INFO", "OdooSandbox", "build_app"]
