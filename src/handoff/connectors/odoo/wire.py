"""The two Odoo wire protocols as pure request builders and response parsers (no I/O).

- JSON-RPC (Odoo 8-19, deprecated in 19): ``POST /jsonrpc`` with
  ``{"jsonrpc": "2.0", "method": "call", "params": {"service", "method", "args"}, "id"}``;
  errors come back with HTTP 200 and ``error.data`` (recorded Odoo 18 transcripts).
- JSON-2 (Odoo 19+): ``POST /json/2/<model>/<method>`` with ``Authorization: bearer <key>``,
  ``X-Odoo-Database``, and a JSON object of *named* parameters (``ids``, ``context``, method args).
  Errors come back as HTTP 4xx/5xx with ``{"name", "message", "arguments", "debug"}``.

Both clients (sync and async) share these so the two paths cannot drift apart.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel

from handoff.canonical.errors import parse_retry_after

from .errors import (
    AccessDenied,
    AccessError,
    InvalidField,
    InvalidMethod,
    InvalidModel,
    OdooError,
    OdooProtocolError,
    OdooUnavailable,
    UnknownDatabase,
    error_from_payload,
    typed_error,
)

ODOO_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
RETRYABLE_HTTP_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


class WireProtocol(StrEnum):
    JSONRPC = "jsonrpc"
    JSON2 = "json2"


@dataclass(frozen=True)
class WireRequest:
    path: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def _json_default(value: Any) -> Any:
    # Odoo expects naive UTC datetimes as "YYYY-MM-DD HH:MM:SS" and dates as ISO strings.
    if isinstance(value, datetime):
        return value.strftime(ODOO_DATETIME_FORMAT)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"Cannot send {type(value).__name__} to Odoo: {value!r}")


def encode_json(body: Any) -> bytes:
    return json.dumps(body, default=_json_default, separators=(",", ":")).encode()


def _decode_json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as exc:
        raise OdooProtocolError(
            f"Odoo answered HTTP {response.status_code} with a body that is not JSON: "
            f"{response.text[:200]!r}",
            status=response.status_code,
        ) from exc


def _status_error(response: httpx.Response, *, model: str | None, method: str | None) -> OdooError:
    status = response.status_code
    detail = response.text[:300]
    where = f"{response.request.method} {response.request.url.path}"
    if status in RETRYABLE_HTTP_STATUS:
        return OdooUnavailable(
            f"Odoo {where} answered HTTP {status}: {detail}",
            status=status,
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            model=model,
            method=method,
            rule=f"http_{status}",
        )
    return OdooProtocolError(
        f"Odoo {where} answered HTTP {status}: {detail}",
        status=status,
        model=model,
        method=method,
        rule=f"http_{status}",
    )


class JsonRpcWire:
    """``/jsonrpc``: ``common.*`` calls and ``object.execute_kw``."""

    path = "/jsonrpc"

    def __init__(self) -> None:
        self._ids = itertools.count(1)

    def service_request(self, service: str, method: str, args: Sequence[Any]) -> WireRequest:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": list(args)},
            "id": next(self._ids),
        }
        return WireRequest(self.path, encode_json(body), {"Content-Type": "application/json"})

    def execute_kw_request(
        self,
        db: str,
        uid: int,
        secret: str,
        model: str,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any] | None,
    ) -> WireRequest:
        call_args: list[Any] = [db, uid, secret, model, method, list(args)]
        if kwargs:
            call_args.append(dict(kwargs))
        return self.service_request("object", "execute_kw", call_args)

    def parse(
        self, response: httpx.Response, *, model: str | None = None, method: str | None = None
    ) -> Any:
        if response.status_code != 200:
            raise _status_error(response, model=model, method=method)
        payload = _decode_json(response)
        if not isinstance(payload, dict):
            raise OdooProtocolError(f"JSON-RPC answer is not an object: {payload!r:.200}")
        if "error" in payload:
            error = payload["error"] or {}
            data = error.get("data") or {
                "name": "builtins.Exception",
                "message": error.get("message"),
            }
            raise error_from_payload(data, model=model, method=method)
        # Odoo leaves `result` out when the method returned None (18:
        # result_omitted_when_none.json): an answer without error is a success.
        return payload.get("result")


# JSON-2 takes named parameters only. These are the positional parameter names of the ORM methods
# the hub calls, as Odoo 19 declares them (BaseModel signatures; `signature.bind` on the server
# refuses anything else with 422), so positional execute_kw-style calls translate faithfully.
JSON2_POSITIONAL_PARAMS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "write": ("vals",),
    "read": ("fields", "load"),
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "fields_get": ("allfields", "attributes"),
    "read_group": ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    "formatted_read_group": (
        "domain",
        "groupby",
        "aggregates",
        "having",
        "offset",
        "limit",
        "order",
    ),
    "name_search": ("name", "domain", "operator", "limit"),
    "name_create": ("name",),
    "default_get": ("fields",),
    "load": ("fields", "data"),
    "web_read": ("specification",),
    "web_search_read": ("domain", "specification", "offset", "limit", "order", "count_limit"),
    "check_object_reference": ("module", "xml_id", "raise_on_access_error"),
    "has_access": ("operation",),
    "unlink": (),
    "exists": (),
    "copy": ("default",),
    "context_get": (),
}
# @api.model methods: no ``ids``; every other method's first positional argument is the ids.
JSON2_MODEL_METHODS = frozenset(
    {
        "create",
        "search",
        "search_read",
        "search_count",
        "fields_get",
        "read_group",
        "formatted_read_group",
        "name_search",
        "name_create",
        "default_get",
        "load",
        "web_search_read",
        "context_get",
        "check_object_reference",
        "check_access_rights",
    }
)
# 18 keyword names that Odoo 19's signatures spell differently.
JSON2_RENAMED_KWARGS: dict[tuple[str, str], str] = {
    ("name_search", "args"): "domain",
    ("default_get", "fields_list"): "fields",
}

# JSON-2 error bodies that name werkzeug's HTTP exceptions instead of an Odoo one (recorded 19:
# auth_errors.json, nonexistent_model.json, nonexistent_method.json, create_unknown_field.json):
# (name, message pattern) -> the class JSON-RPC gives the same failure.
JSON2_ERROR_RULES: tuple[tuple[str, str, type[OdooError]], ...] = (
    ("werkzeug.exceptions.Unauthorized", "", AccessDenied),
    ("werkzeug.exceptions.NotFound", r"^the model '.*' does not exist", InvalidModel),
    ("werkzeug.exceptions.NotFound", r"^The method '.*' does not exist", InvalidMethod),
    ("werkzeug.exceptions.Forbidden", "", AccessError),
    # write with an unknown field: 18 says ValueError "Invalid field", 19 lets a KeyError out.
    ("builtins.KeyError", r"^'?\w+'?$", InvalidField),
)
# What a JSON-2 server answers for a database it does not serve: werkzeug's 404 page (HTML).
_NO_DATABASE_PAGE = "No database is selected"


def json2_error(
    payload: Mapping[str, Any],
    *,
    status: int,
    model: str | None,
    method: str | None,
    retry_after: float | None,
) -> OdooError:
    """The typed error for a JSON-2 error body ``{name, message, arguments, context, debug}``."""
    name = str(payload.get("name") or "")
    message = str(payload.get("message") or "")
    for rule_name, pattern, cls in JSON2_ERROR_RULES:
        if name == rule_name and re.search(pattern, message):
            extra: dict[str, Any] = {}
            if cls is InvalidField:
                if method != "write":
                    continue
                extra["field"] = message.strip("'")
                message = f"Invalid field {message} on model {model!r}"
            return typed_error(cls, message, name, payload, model=model, method=method,
                               retry_after=retry_after, **extra)  # fmt: skip
    if name.startswith("werkzeug.exceptions."):
        # 400 unparsable body, 415 content type, 422 arguments that do not fit the signature,
        # 404 bad path: the request itself is wrong for this server.
        return OdooProtocolError(
            f"Odoo JSON-2 refused the request (HTTP {status} {name.rsplit('.', 1)[-1]}): {message}",
            status=status,
            server_name=name,
            arguments=list(payload.get("arguments") or []),
            debug=payload.get("debug"),
            model=model,
            method=method,
            rule=f"http_{status}",
        )
    return error_from_payload(dict(payload), model=model, method=method, retry_after=retry_after)


class Json2Wire:
    """``/json/2/<model>/<method>`` with a bearer API key (Odoo 19+)."""

    def __init__(self, db: str, api_key: str) -> None:
        self._headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Authorization": f"bearer {api_key}",
            "X-Odoo-Database": db,
        }

    def request(
        self,
        model: str,
        method: str,
        args: Sequence[Any],
        kwargs: Mapping[str, Any] | None,
    ) -> WireRequest:
        body: dict[str, Any] = {}
        positional = list(args)
        if method not in JSON2_MODEL_METHODS and positional:
            ids = positional.pop(0)
            body["ids"] = [ids] if isinstance(ids, int) else list(ids)
        if positional:
            names = JSON2_POSITIONAL_PARAMS.get(method)
            if names is None or len(positional) > len(names):
                raise OdooProtocolError(
                    f"JSON-2 takes named parameters only: pass the arguments of {model}.{method} "
                    "as keyword arguments",
                    model=model,
                    method=method,
                    rule="json2_positional_args",
                )
            body.update(zip(names, positional, strict=False))
        for key, value in (kwargs or {}).items():
            body[JSON2_RENAMED_KWARGS.get((method, key), key)] = value
        if method == "create" and isinstance(body.get("vals_list"), dict):
            body["vals_list"] = [body["vals_list"]]
        return WireRequest(f"/json/2/{model}/{method}", encode_json(body), dict(self._headers))

    def parse(
        self, response: httpx.Response, *, model: str | None = None, method: str | None = None
    ) -> Any:
        if response.is_success:
            return _decode_json(response)
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if isinstance(payload, dict) and payload.get("name"):
            raise json2_error(
                payload,
                status=response.status_code,
                model=model,
                method=method,
                retry_after=retry_after,
            )
        if response.status_code == 404 and _NO_DATABASE_PAGE in response.text:
            db = response.request.headers.get("X-Odoo-Database", "")
            raise UnknownDatabase(
                f"Odoo at {response.request.url.host} does not serve database {db!r} "
                "(unknown, or outside its db-filter)",
                model=model,
                method=method,
                rule="unknown_database",
                suggested_fix="Check the database name configured for this Odoo backend.",
            )
        raise _status_error(response, model=model, method=method)
