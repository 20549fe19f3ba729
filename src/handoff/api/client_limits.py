"""A cap on what one client holds at once (``api.max_connections_per_client``), so that one
client (a flood of slow senders from one address) cannot take every slot of the server from the
others, nor /healthz from the monitor.

Enforced where the client is known:

- **Per connection** (``capped_protocol``): a subclass of uvicorn's HTTP protocol counts the open
  connections of each socket peer. One past the cap is answered ``429`` with ``Retry-After`` at
  once, before any request is read, and closed. This is the level that sees everything a client
  holds: idle connections and headers trickled a byte at a time never reach the app, yet each
  holds a socket and counts against uvicorn's global ``limit_concurrency`` for every client.
- **Per request in flight** (``PerClientRequests``, ASGI middleware): behind a reverse proxy the
  operator trusts (``api.forwarded_allow_ips``, uvicorn's ``forwarded-allow-ips``), every
  connection comes from the proxy, and the client is the one ``X-Forwarded-For`` names; uvicorn's
  proxy middleware believes that header from those peers only. Connections from a trusted proxy
  are not capped per peer (that would cap everyone behind it); their requests in flight are
  counted per forwarded client instead. HTTP/1.1 without pipelining: one per busy connection.

Both refusals are counted in ``handoff_webhook_rejected_total`` with reason
``too_many_connections`` (source ``unknown`` at the connection level: no request was read).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from handoff.ingress.bodies import refusal_source
from handoff.observability.metrics import WEBHOOK_REJECTED

REASON = "too_many_connections"
RETRY_AFTER_SECONDS = 1
# A refused connection is half-closed at once and closed this long after, so that the client
# reads its 429 before the close (a close while it still sends would reset the connection and
# drop the answer in its receive buffer).
LINGER_SECONDS = 1.0


class ClientSlots:
    """How many slots each client address holds, at most ``cap`` each."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._held: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, client: str) -> bool:
        with self._lock:
            held = self._held.get(client, 0)
            if held >= self.cap:
                return False
            self._held[client] = held + 1
            return True

    def give_back(self, client: str) -> None:
        with self._lock:
            held = self._held.get(client, 0) - 1
            if held > 0:
                self._held[client] = held
            else:
                self._held.pop(client, None)

    def held(self, client: str) -> int:
        with self._lock:
            return self._held.get(client, 0)


def refusal(client: str, cap: int) -> tuple[int, dict[str, str], dict[str, str]]:
    """The 429's status, headers and JSON body."""
    body = {
        "error": REASON,
        "detail": f"client {client[:64]} already holds {cap} connections or requests at once "
        f"(api.max_connections_per_client); retry after {RETRY_AFTER_SECONDS} s",
    }
    return 429, {"Retry-After": str(RETRY_AFTER_SECONDS)}, body


def _refusal_bytes(client: str, cap: int) -> bytes:
    _, headers, body = refusal(client, cap)
    payload = json.dumps(body, separators=(",", ":")).encode()
    head = (
        "HTTP/1.1 429 Too Many Requests\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(payload)}\r\n"
        f"retry-after: {headers['Retry-After']}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + payload


class TrustedProxies:
    """The peers ``forwarded_allow_ips`` names (IP addresses, networks, "*"), as uvicorn's
    proxy-header middleware reads the same list: those whose X-Forwarded-For is believed."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.everyone = "*" in addresses
        self.networks = [ipaddress.ip_network(a, strict=False) for a in addresses if a != "*"]

    def __contains__(self, peer: str) -> bool:
        if self.everyone:
            return True
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:  # not an IP (a unix socket's path): never a trusted proxy
            return False
        return any(address in network for network in self.networks)


def _base_protocol() -> type[asyncio.Protocol]:
    """The HTTP protocol uvicorn's ``http="auto"`` picks: httptools when installed, else h11."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

        return HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency of uvicorn[standard]
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return H11Protocol


def capped_protocol(
    cap: int, trusted_proxies: Sequence[str] = (), *, slots: ClientSlots | None = None
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, holding at most ``cap`` connections per socket peer (peers that
    are trusted proxies excepted). Give it to ``uvicorn.Config(http=...)``; one class per
    server: the count lives in it."""
    base: Any = _base_protocol()
    held = slots or ClientSlots(cap)
    trusted = TrustedProxies(trusted_proxies) if trusted_proxies else None

    class PerClientCappedProtocol(base):  # base: Any, uvicorn's class picked at run time
        _slot: str | None = None
        _refused = False

        def connection_made(self, transport: asyncio.Transport) -> None:
            super().connection_made(transport)
            peer = self.client[0] if self.client else None
            if peer is None or (trusted is not None and peer in trusted):
                return
            if held.take(peer):
                self._slot = peer
                return
            self._refuse(transport, peer)

        def _refuse(self, transport: asyncio.Transport, peer: str) -> None:
            self._refused = True
            # Not one of the server's connections: it must not count against limit_concurrency
            # (the others' slots) while it lingers.
            self.connections.discard(self)
            WEBHOOK_REJECTED.labels("unknown", REASON).inc()
            transport.write(_refusal_bytes(peer, held.cap))
            if transport.can_write_eof():
                transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, transport.close)

        def data_received(self, data: bytes) -> None:
            if not self._refused:  # a refused connection's request is never read
                super().data_received(data)

        def connection_lost(self, exc: Exception | None) -> None:
            if self._slot is not None:
                held.give_back(self._slot)
                self._slot = None
            super().connection_lost(exc)

    PerClientCappedProtocol.slots = held
    return PerClientCappedProtocol


class PerClientRequests:
    """ASGI middleware: at most ``cap`` requests in flight per client (``scope["client"]``: the
    socket peer, or the forwarded client behind a trusted proxy); past it a 429 JSON error with
    Retry-After, counted under the route's source."""

    def __init__(self, app: ASGIApp, cap: int) -> None:
        self.app = app
        self.slots = ClientSlots(cap)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] != "http" or not client:
            await self.app(scope, receive, send)
            return
        address = str(client[0])
        if not self.slots.take(address):
            request = Request(scope)
            WEBHOOK_REJECTED.labels(refusal_source(request), REASON).inc()
            status, headers, body = refusal(address, self.slots.cap)
            response = JSONResponse(body, status_code=status, headers=headers)
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.slots.give_back(address)
