"""A hub serving every webhook route (generic, time, HubSpot, Salesforce CDC, Stripe, DocuSign)
over real HTTP, signers for each, and what the ingress tests measure: the refusal counters from
/metrics and the rows stored."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select

from handoff.api.app import create_app
from handoff.cli.processes import server_options
from handoff.config import ApiConfig, SecretRef, Settings, StoreConfig, SystemConfig
from handoff.engine.runtime import Hub
from handoff.ingress.docusign import SIGNATURE_HEADER as DOCUSIGN_HEADER
from handoff.ingress.docusign import sign as docusign_sign
from handoff.ingress.events import SIGNATURE_HEADER, sign
from handoff.ingress.hubspot import sign_v3
from handoff.ingress.salesforce import SIGNATURE_HEADER as RELAY_HEADER
from handoff.ingress.salesforce import sign_relay_body
from handoff.ingress.stripe import signature_header
from handoff.store.models import Gate, InboxEvent
from support.servers import serving

SECRETS = {
    "TEST_TIME_SECRET": "time-secret",
    "TEST_HS_SECRET": "hs-secret",
    "TEST_SF_SECRET": "sf-secret",
    "TEST_STRIPE_SECRET": "whsec_test",
    "TEST_DOCUSIGN_KEY": "docusign-key",
}


def ingress_settings(store_url: str, api: ApiConfig | None = None) -> Settings:
    return Settings(
        store=StoreConfig(url=store_url),
        api=api or ApiConfig(),
        systems={
            "timetracker": SystemConfig(
                kind="http",
                url="https://timetracker.example",
                webhook_secret=SecretRef("${TEST_TIME_SECRET}"),
                allowed_flows=["time_entry"],  # what /webhooks/time starts
            ),
            "hubspot": SystemConfig(
                kind="hubspot",
                url="https://api.hubapi.com",
                webhook_secret=SecretRef("${TEST_HS_SECRET}"),
            ),
            "salesforce": SystemConfig(
                kind="salesforce",
                url="https://example.my.salesforce.com",
                webhook_secret=SecretRef("${TEST_SF_SECRET}"),
            ),
            "stripe": SystemConfig(
                kind="stripe",
                url="https://api.stripe.com",
                webhook_secret=SecretRef("${TEST_STRIPE_SECRET}"),
            ),
            "docusign": SystemConfig(
                kind="docusign",
                url="https://demo.docusign.net",
                webhook_secret=SecretRef("${TEST_DOCUSIGN_KEY}"),
            ),
        },
    )


@contextmanager
def serving_ingress(settings: Settings) -> Iterator[tuple[str, Hub]]:
    """The hub's app under uvicorn with the settings `handoff api` uses (server_options)."""
    from handoff.engine import flows
    from handoff.engine.runtime import set_current_hub, start_hub

    hub = start_hub(settings)
    try:
        with serving(create_app(hub), **server_options(hub)) as url:
            yield url, hub
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)


# -- signed requests, one per route ---------------------------------------------------------------

Signer = Callable[[str, bytes], dict[str, str]]


def _generic(url: str, body: bytes) -> dict[str, str]:
    return {SIGNATURE_HEADER: sign(SECRETS["TEST_TIME_SECRET"], body)}


def _hubspot(url: str, body: bytes) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {
        "X-HubSpot-Signature-v3": sign_v3(SECRETS["TEST_HS_SECRET"], "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }


def _salesforce(url: str, body: bytes) -> dict[str, str]:
    return {RELAY_HEADER: sign_relay_body(SECRETS["TEST_SF_SECRET"], body)}


def _stripe(url: str, body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": signature_header(SECRETS["TEST_STRIPE_SECRET"], body)}


def _docusign(url: str, body: bytes) -> dict[str, str]:
    return {DOCUSIGN_HEADER: docusign_sign(SECRETS["TEST_DOCUSIGN_KEY"], body)}


@dataclass(frozen=True)
class Route:
    path: str
    source: str  # the label its refusals are counted under
    signer: Signer
    signature_headers: tuple[str, ...]


ROUTES = {
    "generic": Route("/webhooks/events/timetracker", "timetracker", _generic, (SIGNATURE_HEADER,)),
    "time": Route("/webhooks/time", "timetracker", _generic, (SIGNATURE_HEADER,)),
    "hubspot": Route(
        "/webhooks/hubspot",
        "hubspot",
        _hubspot,
        ("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"),
    ),
    "salesforce": Route("/webhooks/salesforce/cdc", "salesforce", _salesforce, (RELAY_HEADER,)),
    "stripe": Route("/webhooks/stripe", "stripe", _stripe, ("Stripe-Signature",)),
    "docusign": Route("/webhooks/docusign", "docusign", _docusign, (DOCUSIGN_HEADER,)),
}


def post(
    base: str, route: Route, body: bytes, *, signed: bool = True, timeout: float = 30
) -> httpx.Response:
    url = base + route.path
    headers = {"Content-Type": "application/json"}
    if signed:
        headers.update(route.signer(url, body))
    return httpx.post(url, content=body, headers=headers, timeout=timeout)


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


# -- what is measured -----------------------------------------------------------------------------

_SAMPLE = re.compile(r"^handoff_webhook_rejected_total\{([^}]*)\} ([0-9.e+]+)$", re.M)
_LABEL = re.compile(r'(\w+)="([^"]*)"')


def rejected(base: str, client: httpx.Client | None = None) -> dict[tuple[str, str], float]:
    """handoff_webhook_rejected_total by (source, reason), read from /metrics over HTTP (by
    ``client`` when given: one from another address than a capped one)."""
    response = (client or httpx).get(f"{base}/metrics", timeout=10)
    response.raise_for_status()
    text = response.text
    counts: dict[tuple[str, str], float] = {}
    for labels, value in _SAMPLE.findall(text):
        named = dict(_LABEL.findall(labels))
        counts[(named.get("source", ""), named.get("reason", ""))] = float(value)
    return counts


def rejected_total(base: str, source: str) -> float:
    return sum(v for (s, _), v in rejected(base).items() if s == source)


def stored_rows(hub: Hub) -> int:
    """Inbox events plus satisfied gates: everything an accepted webhook can leave behind."""
    with hub.store.session() as session:
        events = session.execute(select(func.count()).select_from(InboxEvent)).scalar_one()
        gates = session.execute(
            select(func.count()).select_from(Gate).where(Gate.status == "satisfied")
        ).scalar_one()
    return int(events) + int(gates)


# -- slow clients over raw sockets ----------------------------------------------------------------


def slow_client(
    base: str,
    path: str = "/webhooks/time",
    length: int = 100,
    *,
    source: str | None = None,
    headers: str = "",
) -> socket.socket:
    """A connection (from loopback address ``source``, e.g. 127.0.0.2, when given) that has sent
    its headers and announces ``length`` body bytes to come."""
    url = urlsplit(base)
    assert url.hostname is not None and url.port is not None
    sock = socket.create_connection(
        (url.hostname, url.port), timeout=5, source_address=(source, 0) if source else None
    )
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"X-Handoff-Signature: sha256={'0' * 64}\r\n{headers}"
        f"Content-Length: {length}\r\n\r\n".encode()
    )
    return sock


def answer_of(sock: socket.socket, wait: float) -> bytes:
    """What the server sent within ``wait`` seconds (b"" when nothing)."""
    sock.settimeout(wait)
    try:
        return sock.recv(4096)
    except TimeoutError:
        return b""
