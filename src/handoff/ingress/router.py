"""The one router factory every webhook endpoint is built by, from its row of the sources table
(``handoff.ingress.table``), and what a row says.

Every request goes the same way: the source is configured (else its ``no_secret`` answer, before
the body is read), may start the flow its route starts (else 403, before the body is read), its
body arrives within the size and time limits (``bodies``), its signature verifies under the
source's scheme (``schemes``), and only then does the source's handler parse, store and answer.
Each refusal is ``{"error", "detail"}`` with its status, counted under the source and a fixed
reason (``handoff_webhook_rejected_total``); nothing refused reaches the inbox.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Container
from dataclasses import dataclass
from typing import Protocol

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from handoff.ingress.bodies import MAX_BODY_BYTES, BodyRefused, off_loop, read_body
from handoff.observability.webhook_metrics import WEBHOOK_REJECTED, source_label


class Refused(Exception):
    """A refused request: ``status``, the ``reason`` it is counted under and ``detail`` for
    people; ``error`` is the answer's error code when it is not the reason itself."""

    def __init__(self, status: int, reason: str, detail: str, *, error: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.error = error or reason

    def answer(self, source: str) -> JSONResponse:
        """The counted 4xx/5xx ``{error, detail}`` for ``source`` (a metric label)."""
        WEBHOOK_REJECTED.labels(source, self.reason).inc()
        return JSONResponse({"error": self.error, "detail": self.detail}, status_code=self.status)


class SignatureError(Exception):
    """Why a request's signature was refused; ``reason`` is the metric label."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Signed:
    """What a signature scheme may cover: the request line, its headers (lower-case) and body."""

    method: str
    url: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class SignatureScheme(Protocol):
    """How a source signs: ``verify`` raises SignatureError unless ``request`` is signed with
    ``secret`` (and, for a timestamped scheme, recently enough at ``now``)."""

    def verify(self, secret: str, request: Signed, now: float) -> None: ...


@dataclass(frozen=True)
class Received:
    """A request whose source is known and whose body is signed: what a handler works on."""

    request: Request
    source: str
    body: bytes


Handler = Callable[[Received], Awaitable[Response]]
# The secret that signs a request's body (the path may name the source), or None: not configured.
SecretFor = Callable[[Request], str | None]


@dataclass(frozen=True)
class WebhookSource:
    """One row of the sources table: where a source posts, how it signs, what it may start and
    how each refusal reads (the contract each sender was given; see ``handoff.ingress.table``)."""

    name: str  # the inbox source and metric label ("{source}" for the path's own)
    path: str
    scheme: SignatureScheme
    secret_setting: str  # where handoff.yaml holds the secret, for people
    # The answer when no secret is configured, given the source the request names.
    no_secret: Callable[[str], Refused]
    starts: str  # the flows its events may start, for people
    max_body_bytes: int = MAX_BODY_BYTES
    signature_status: int = 401  # the status of a refused signature (Stripe expects 400)
    # One fixed answer for every refused signature, for senders told only "signature" (None: the
    # scheme's own reason, e.g. stale_timestamp, with ``signature_status``).
    signature_refusal: Refused | None = None
    too_large_error: str = "too_large"  # the error code of a 413

    def label(self, request: Request, configured: Container[str]) -> str:
        """The metric label of a request: the row's name, or the configured system named by the
        path (anything a caller chose is ``unknown``: no request adds a time series)."""
        if "{source}" not in self.path:
            return self.name
        return source_label(str(request.path_params.get("source", "")), configured)


def signed(request: Request, body: bytes) -> Signed:
    return Signed(
        method=request.method,
        url=str(request.url),
        path=request.url.path,
        query=request.url.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def webhook_router(
    source: WebhookSource,
    secret_for: SecretFor,
    handle: Handler,
    *,
    configured: Container[str] = frozenset(),
    closed: Refused | None = None,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """``POST source.path``: configured, allowed, bounded, signed, then ``handle``d. ``closed``:
    the 403 every request gets when the configuration does not allow what the route starts;
    ``configured``: the system names a path's ``{source}`` may be counted under."""
    if source.max_body_bytes > MAX_BODY_BYTES:
        raise ValueError(f"max_body_bytes may not exceed the hub's {MAX_BODY_BYTES}")
    router = APIRouter()

    async def receive(request: Request) -> Response:
        label = source.label(request, configured)
        try:
            if closed is not None:
                raise closed
            secret = secret_for(request)
            if not secret:
                raise source.no_secret(str(request.path_params.get("source", source.name)))
            try:
                body = await read_body(request, source.max_body_bytes)
            except BodyRefused as refused:
                error = source.too_large_error if refused.status == 413 else None
                raise Refused(refused.status, refused.reason, refused.detail, error=error) from None
            try:
                await off_loop(
                    len(body), source.scheme.verify, secret, signed(request, body), clock()
                )
            except SignatureError as error:
                if source.signature_refusal is not None:
                    raise source.signature_refusal from None
                raise Refused(source.signature_status, error.reason, error.detail) from None
            return await handle(Received(request, label, body))
        except Refused as refused:
            return refused.answer(label)

    router.add_api_route(source.path, receive, methods=["POST"], name=f"webhook:{source.name}")
    return router
