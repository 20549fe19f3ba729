"""Defect 8 of issue 10, the per-client half: 300 slow clients from one address were all held.
Now one address holds at most `api.max_connections_per_client` connections; past it each new one
is answered 429 with Retry-After at once (counted), while another address is still served and
/healthz answers. Behind a proxy the operator trusts (`api.forwarded_allow_ips`) the cap follows
the forwarded client; without that setting X-Forwarded-For changes nothing. Real uvicorn on
loopback (127.0.0.2 and 127.0.0.3 are other client addresses), raw sockets, bounded waits."""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta

import httpx
import pytest

from api.ingress_support import (
    ROUTES,
    SECRETS,
    answer_of,
    encode,
    ingress_settings,
    rejected,
    serving_ingress,
    slow_client,
)
from handoff.config import ApiConfig
from handoff.engine.runtime import Hub
from support.waiting import wait_for

CAP = 16
SLOW_CLIENTS = 300
OTHER = "127.0.0.2"
MONITOR = "127.0.0.3"


@pytest.fixture(autouse=True)
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)


@contextmanager
def hub_api(store_url: str, **api: object) -> Iterator[tuple[str, Hub]]:
    # A body read timeout longer than the test: the held connections stay held throughout.
    settings = ingress_settings(
        store_url, ApiConfig(max_connections_per_client=CAP, body_read_timeout=60, **api)
    )
    with serving_ingress(settings) as running:
        yield running


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=5)


def signed_time_entry(source_id: str) -> tuple[bytes, dict[str, str]]:
    body = encode(
        [
            {
                "kind": "time",
                "source_id": source_id,
                "consultant": "ada@firm.example",
                "deal_ref": "hubspot:1234",
                "date": (date.today() - timedelta(days=2)).isoformat(),
                "hours": 2,
                "approval": "approved",
            }
        ]
    )
    return body, ROUTES["time"].signer("", body)


def answered(clients: list[socket.socket], expected: int, within: float) -> dict[int, bytes]:
    """The first bytes (or b"" for a closed or reset connection) of every client the server
    answered, waiting until ``expected`` of them did or ``within`` seconds passed."""
    answers: dict[int, bytes] = {}
    with selectors.DefaultSelector() as selector:
        for index, sock in enumerate(clients):
            selector.register(sock, selectors.EVENT_READ, index)
        deadline = time.monotonic() + within
        while len(answers) < expected and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    answers[key.data] = sock.recv(4096)
                except ConnectionResetError:
                    answers[key.data] = b""
                selector.unregister(sock)
    return answers


def test_one_address_holds_at_most_the_cap_and_others_are_still_served(store_url: str) -> None:
    with hub_api(store_url) as (base, hub):
        with client_from(MONITOR) as monitor:
            before = rejected(base, monitor).get(("unknown", "too_many_connections"), 0.0)
        clients = [slow_client(base) for _ in range(SLOW_CLIENTS)]
        try:
            refused = answered(clients, SLOW_CLIENTS - CAP, within=20)
            assert len(refused) == SLOW_CLIENTS - CAP, f"{len(refused)} answered"
            told = [a for a in refused.values() if a]
            # Each refused one is told why (a reset before it could read it counts as refused).
            assert len(told) >= (SLOW_CLIENTS - CAP) * 0.9, f"{len(told)} read their 429"
            for answer in told:
                head, _, body = answer.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 429"), answer[:200]
                assert b"retry-after: 1" in head.lower()
                assert json.loads(body)["error"] == "too_many_connections"
            # The first CAP are the ones held: nothing was said to them.
            held = [i for i in range(SLOW_CLIENTS) if i not in refused]
            assert held == list(range(CAP))
            assert all(answer_of(clients[i], 0.01) == b"" for i in held)

            # Another address is served in full, and the monitor's /healthz answers at once.
            body, headers = signed_time_entry("T-per-client")
            with client_from(OTHER) as other, client_from(MONITOR) as monitor:
                accepted = other.post(
                    base + ROUTES["time"].path,
                    content=body,
                    headers={"Content-Type": "application/json", **headers},
                )
                assert accepted.status_code == 202, accepted.text
                started = time.monotonic()
                assert monitor.get(f"{base}/healthz", timeout=1).status_code == 200
                assert time.monotonic() - started < 1
                counted = rejected(base, monitor).get(("unknown", "too_many_connections"), 0.0)
                assert counted == before + SLOW_CLIENTS - CAP
        finally:
            for sock in clients:
                sock.close()
        # The held slots are given back when their connections close: the address is served.
        wait_for(
            lambda: httpx.get(f"{base}/healthz", timeout=1).status_code == 200,
            timeout=10,
            what="the capped address to be served again",
        )
        assert len(hub.inbox.list()) == 1  # only the other address's entry was stored


def test_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(store_url: str) -> None:
    """A client cannot escape its cap by naming other addresses in X-Forwarded-For."""
    with hub_api(store_url) as (base, _):
        clients = [
            slow_client(base, headers=f"X-Forwarded-For: 198.51.100.{i}\r\n")
            for i in range(CAP + 4)
        ]
        try:
            refused = answered(clients, 4, within=10)
            assert sorted(refused) == list(range(CAP, CAP + 4))
        finally:
            for sock in clients:
                sock.close()


def test_behind_a_trusted_proxy_the_cap_follows_the_forwarded_client(store_url: str) -> None:
    with hub_api(store_url, forwarded_allow_ips=["127.0.0.1"]) as (base, _):
        before = rejected(base).get(("timetracker", "too_many_connections"), 0.0)
        # The proxy (127.0.0.1) carries CAP + 4 slow requests of one client: the proxy's own
        # connections are not capped, the client's requests in flight are.
        clients = [
            slow_client(base, headers="X-Forwarded-For: 203.0.113.7\r\n") for _ in range(CAP + 4)
        ]
        try:
            refused = answered(clients, 4, within=10)
            assert len(refused) == 4, refused
            for answer in refused.values():
                assert answer.startswith(b"HTTP/1.1 429"), answer[:200]
                assert b"too_many_connections" in answer
            # Another client behind the same proxy is served.
            body, headers = signed_time_entry("T-behind-proxy")
            accepted = httpx.post(
                base + ROUTES["time"].path,
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Forwarded-For": "203.0.113.8",
                    **headers,
                },
            )
            assert accepted.status_code == 202, accepted.text
        finally:
            for sock in clients:
                sock.close()
        assert rejected(base).get(("timetracker", "too_many_connections"), 0.0) == before + 4
