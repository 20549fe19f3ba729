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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import httpx
from pydantic import BaseModel

from handoff.engine.errors import parse_retry_after

from .errors import (
    OdooError,
    OdooProtocolError,
    OdooUnavailable,
    error_from_payload,
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
            data = error.get("data") or {"name": "builtins.Exception", "message": error.get("message")}
            raise error_from_payload(data, model=model, method=method)
        if "result" not in payload:
            raise OdooProtocolError(f"JSON-RPC answer has neither result nor error: {payload!r:.200}")
        return payload["result"]


# JSON-2 takes named parameters only. These are the positional parameter names of the ORM methods
# the hub calls (Odoo's BaseModel signatures), so positional calls translate faithfully.
JSON2_POSITIONAL_PARAMS: dict[str, tuple[str, ...]] = {
    "create": ("vals_list",),
    "write": ("vals",),
    "read": ("fields", "load"),
    "search": ("domain", "offset", "limit", "order"),
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search_count": ("domain", "limit"),
    "fields_get": ("allfields", "attributes"),
    "read_group": ("domain", "fields", "groupby", "offset", "limit", "orderby", "lazy"),
    "name_search": ("name", "domain", "operator", "limit"),
    "default_get": ("fields_list",),
    "load": ("fields", "data"),
    "unlink": (),
    "copy": ("default",),
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
        "name_search",
        "default_get",
        "load",
        "context_get",
    }
)
# Old keyword names that JSON-2 (Odoo 19 signatures) spells differently.
JSON2_RENAMED_KWARGS: dict[tuple[str, str], str] = {("name_search", "args"): "domain"}


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
        if isinstance(payload, dict):
            data = payload.get("error", {}).get("data") if "error" in payload else payload
            if isinstance(data, dict) and data.get("name"):
                raise error_from_payload(
                    data, model=model, method=method, retry_after=retry_after
                )
        raise _status_error(response, model=model, method=method)
