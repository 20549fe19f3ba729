"""What every webhook endpoint does with a request body before it knows anything else about it.

- Bounded in size: refused past the limit (413), never buffered beyond it.
- Bounded in time: a body that does not arrive in full within the read timeout is refused (408),
  so a client sending a byte a second cannot hold a connection (and a worker slot) for ever.
- Parsed as strict, bounded JSON (``parse_json``): UTF-8 only, nesting at most ``MAX_DEPTH``
  deep, integers of at most ``MAX_INT_DIGITS`` digits, finite numbers only (no NaN/Infinity,
  no 1e400), no NUL character (PostgreSQL stores none) and no lone surrogate (not encodable).
  Anything else is a ``BodyRefused`` (400) with a fixed ``reason`` (a metric label).
- CPU-heavy work on a big body (a signature's HMAC, the JSON parse) runs in a worker thread
  (``off_loop``), never on the event loop that answers /healthz.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from handoff.observability.webhook_metrics import WEBHOOK_REJECTED

MAX_BODY_BYTES = 10 * 1024 * 1024
BODY_READ_TIMEOUT_SECONDS = 30.0
MAX_DEPTH = 32
MAX_INT_DIGITS = 64
# Below this, hashing or parsing a body costs less than handing it to a thread.
SMALL_BODY_BYTES = 64 * 1024

T = TypeVar("T")


class EventError(ValueError):
    """Why a webhook's parsed body is not a usable event: ``reason`` (metric label), ``detail``
    (for people), ``status_code`` (4xx)."""

    def __init__(self, reason: str, detail: str, status_code: int = 400) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.status_code = status_code


class BodyRefused(ValueError):
    """Why a body was refused: ``status`` (4xx), ``reason`` (metric label), ``detail`` (for people)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail


def read_timeout(request: Request) -> float:
    """The body read timeout of the app serving ``request`` (``api.body_read_timeout``)."""
    configured = getattr(request.app.state, "body_read_timeout", None)
    return float(configured) if configured else BODY_READ_TIMEOUT_SECONDS


async def read_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole body, or BodyRefused: 413 past ``limit`` bytes (checked before reading it all),
    408 when it has not arrived within the app's read timeout."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyRefused(413, "too_large", f"the body exceeds {limit} bytes")
    timeout = read_timeout(request)
    chunks: list[bytes] = []
    size = 0
    try:
        # One deadline for the whole body (one cancel scope a request, not one a chunk).
        with anyio.fail_after(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyRefused(413, "too_large", f"the body exceeds {limit} bytes")
                chunks.append(chunk)
    except ClientDisconnect:
        # Nobody is left to read an answer; counted, and no traceback for a client leaving.
        raise BodyRefused(
            400, "client_disconnected", "the client closed the connection mid-body"
        ) from None
    except TimeoutError:
        raise BodyRefused(
            408, "read_timeout", f"the body did not arrive within {timeout:g} s"
        ) from None
    return b"".join(chunks)


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is larger than ``limit``; BodyRefused (408) when too slow."""
    try:
        return await read_body(request, limit)
    except BodyRefused as refused:
        if refused.status == 413:
            return None
        raise


async def off_loop(size: int, fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, in a worker thread when it works on ``size`` bytes or more (HMAC, JSON)."""
    if size < SMALL_BODY_BYTES:
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def signatures_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a signature header with the expected value. Compares bytes:
    ``hmac.compare_digest`` raises TypeError on a str holding a non-ASCII character, which a
    header can (Starlette decodes header bytes as Latin-1)."""
    return hmac.compare_digest(
        given.encode("latin-1", "replace"), expected.encode("latin-1", "replace")
    )


# -- bounded JSON ------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise BodyRefused(400, "malformed_json", f"{name} is not a JSON number")


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise BodyRefused(
            400, "number_too_long", f"an integer of {digits} digits (at most {MAX_INT_DIGITS})"
        )
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_INT_DIGITS * 2:
        raise BodyRefused(
            400,
            "number_too_long",
            f"a number of {len(text)} characters (at most {MAX_INT_DIGITS * 2})",
        )
    value = float(text)
    if not math.isfinite(value):
        raise BodyRefused(400, "number_out_of_range", f"{text[:40]} is beyond a double's range")
    return value


# json.loads pairs the escapes of a valid surrogate pair into one character: any left is alone.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise BodyRefused(400, "nul_character", f"{where} holds a NUL character (\\u0000)")
    if found := _SURROGATE.search(text):
        raise BodyRefused(
            400, "lone_surrogate", f"{where} holds a lone UTF-16 surrogate ({found[0]!a})"
        )


def _check_tree(value: Any, *, strings: bool) -> None:
    """Nesting depth and, when the body had \\u escapes (the only way to write a NUL or a lone
    surrogate in strict UTF-8 JSON), every string. Iterative: no recursion on hostile input."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > MAX_DEPTH:
                raise BodyRefused(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
            for key, item in node.items():
                if strings:
                    _check_text(key, "a key")
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                elif strings and isinstance(item, str):
                    _check_text(item, f"the value of {key[:40]!r}")
        elif isinstance(node, list):
            if depth > MAX_DEPTH:
                raise BodyRefused(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels")
            for item in node:
                if isinstance(item, dict | list):
                    stack.append((item, depth + 1))
                elif strings and isinstance(item, str):
                    _check_text(item, "a list item")
        elif strings and isinstance(node, str):
            _check_text(node, "the body")


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``, or BodyRefused (400) saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BodyRefused(
            400, "malformed_json", f"the body is not UTF-8 (byte {error.start}: {error.reason})"
        ) from None
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as error:
        raise BodyRefused(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    except RecursionError:
        raise BodyRefused(400, "too_deep", f"JSON nested deeper than {MAX_DEPTH} levels") from None
    except BodyRefused:
        raise
    except ValueError as error:  # e.g. Python's own limit on int digits
        raise BodyRefused(400, "malformed_json", f"the body is not valid JSON: {error}") from None
    _check_tree(value, strings="\\u" in text)
    return value


async def parse_json_off_loop(body: bytes) -> Any:
    """``parse_json`` in a worker thread when the body is big."""
    return await off_loop(len(body), parse_json, body)


# -- the app-wide answer to a refused body -----------------------------------------------------


def refusal_source(request: Request) -> str:
    """The metric label of the route ``request`` went to: its fixed source, or the configured
    system named in ``/webhooks/events/{source}`` (a route only reads a body once it knows the
    source is configured), else "unknown"."""
    routes: dict[str, str] = getattr(request.app.state, "route_sources", {})
    fixed = routes.get(request.url.path)
    if fixed:
        return fixed
    source = request.path_params.get("source")
    systems: frozenset[str] = getattr(request.app.state, "system_names", frozenset())
    return source if isinstance(source, str) and source in systems else "unknown"


async def body_refused_handler(request: Request, error: Exception) -> Response:
    """A ``BodyRefused`` no route caught becomes its 4xx ``{error, detail}``, counted."""
    refused = error if isinstance(error, BodyRefused) else BodyRefused(400, "bad_body", str(error))
    WEBHOOK_REJECTED.labels(refusal_source(request), refused.reason).inc()
    return JSONResponse(
        {"error": refused.reason, "detail": refused.detail}, status_code=refused.status
    )


def install(
    app: Any,
    *,
    body_read_timeout: float,
    system_names: frozenset[str],
    route_sources: dict[str, str],
) -> None:
    """Give ``app`` the read timeout its routes' body reads honour, the source each fixed webhook
    path counts its refusals under (``route_sources``, path -> source) and the handler above."""
    app.state.body_read_timeout = body_read_timeout
    app.state.system_names = system_names
    app.state.route_sources = route_sources
    app.add_exception_handler(BodyRefused, body_refused_handler)
