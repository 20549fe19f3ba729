"""Defect 8 of issue 10: a body sent a byte a second held its connection 45 s and more, and 300
such clients were all held. Now a body has `api.body_read_timeout` seconds to arrive (else 408,
counted) and `api.limit_concurrency` caps what is served at once (past it: 503 at once). Raw
sockets on loopback, bounded loops, a few seconds each."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from api.ingress_support import (
    SECRETS,
    answer_of,
    ingress_settings,
    rejected,
    serving_ingress,
    slow_client,
    stored_rows,
)
from handoff.config import ApiConfig
from handoff.engine.runtime import Hub

READ_TIMEOUT = 2.0
LIMIT = 6


@pytest.fixture
def hub_api(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    settings = ingress_settings(
        f"sqlite:///{tmp_path}/handoff.db",
        ApiConfig(limit_concurrency=LIMIT, body_read_timeout=READ_TIMEOUT),
    )
    with serving_ingress(settings) as running:
        yield running


def test_a_body_sent_a_byte_a_second_is_cut_off_with_408(hub_api: tuple[str, Hub]) -> None:
    base, hub = hub_api
    before = rejected(base).get(("timetracker", "read_timeout"), 0.0)
    sock = slow_client(base)
    answer = b""
    started = time.monotonic()
    try:
        for _ in range(8):  # at most 8 s: one byte, then a second's wait for an answer
            try:
                sock.sendall(b"[")
            except OSError:  # the server closed the connection: read what it said
                answer = answer_of(sock, 1)
                break
            answer = answer_of(sock, 1)
            if answer:
                break
        held = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert held < READ_TIMEOUT + 3
        # The rest of the answer, then the server lets go of the connection (b"").
        for _ in range(5):
            more = answer_of(sock, 1)
            if not more:
                break
            answer += more
        assert b'"error":"read_timeout"' in answer
        assert answer_of(sock, 1) == b""
    finally:
        sock.close()
    assert rejected(base).get(("timetracker", "read_timeout"), 0.0) == before + 1
    assert stored_rows(hub) == 0


def test_past_the_concurrency_limit_slow_clients_get_503_at_once_and_health_recovers(
    hub_api: tuple[str, Hub],
) -> None:
    base, _ = hub_api
    clients = [slow_client(base) for _ in range(LIMIT + 4)]
    try:
        time.sleep(0.5)
        answers = [answer_of(sock, 0.2) for sock in clients]
        turned_away = [a for a in answers if a.startswith(b"HTTP/1.1 503")]
        # Not all held: past the cap (connections, the extra one included) new ones get 503.
        assert len(turned_away) >= 4, [a[:40] for a in answers]
        assert all(a == b"" or a.startswith(b"HTTP/1.1 503") for a in answers)
        # The held ones are cut off by the body read timeout, freeing the server.
        deadline = time.monotonic() + READ_TIMEOUT + 5
        cut_off = 0
        for sock, early in zip(clients, answers, strict=True):
            if early:
                continue
            late = answer_of(sock, max(0.1, deadline - time.monotonic()))
            cut_off += late.startswith(b"HTTP/1.1 408")
        assert cut_off == len(clients) - len(turned_away)
    finally:
        for sock in clients:
            sock.close()
    # Freed: health answers again, well within a second.
    deadline = time.monotonic() + 5
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "/healthz never answered 200 after the slow clients"
        time.sleep(0.2)
