"""Group commit of the webhooks (``handoff.ingress.committer``): the events of concurrent requests
are stored and their runs enqueued in one ``flows.submit``, and yet each request gets its own
answer, only after its transaction committed; a duplicate or a failing request inside a group
answers as it would alone; a process killed between a group's commit and its answers loses
nothing, and the redelivery dedups. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import yaml

from api.ingress_support import ROUTES, SECRETS, encode, ingress_settings, post, serving_ingress
from handoff.config import ApiConfig
from handoff.engine import failpoints, flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.ingress.committer import GROUP_COMMITTED, Committer
from handoff.store.inbox import AcceptResult, IncomingEvent
from handoff.store.models import InboxStatus
from support.servers import free_port
from support.stack_processes import ready
from support.waiting import wait_for


@pytest.fixture
def hub(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    started = start_hub(ingress_settings(store_url))
    flows.load_flow_modules(started.settings)
    try:
        yield started
    finally:
        flows.close_clients()
        started.shutdown()
        set_current_hub(None)


def _event(event_id: str, flow: str | None = None) -> IncomingEvent:
    return IncomingEvent(source_event_id=event_id, entity_key="proj-1", kind="x.y", flow=flow)


def _runs(hub: Hub) -> int:
    table = "dbos.workflow_status" if hub.store.dialect == "postgresql" else "workflow_status"
    with hub.store.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_requests_that_wait_together_commit_as_one_group_and_each_gets_its_own_answer(
    hub: Hub,
) -> None:
    """The first request holds the writer (its commit waits on a gate); five arrive meanwhile
    and are committed together: one duplicate of a neighbour's event and one that cannot be
    stored (an unknown flow fails its transaction) among them."""
    gate = threading.Event()
    transactions: list[list[str]] = []

    def commit(source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        transactions.append([e.source_event_id for e in events])
        gate.wait(30)
        return flows.submit(hub, source, events)

    committer = Committer(commit)

    async def scenario() -> list[list[AcceptResult] | BaseException]:
        first = asyncio.ensure_future(committer.submit("tracker", [_event("a")]))
        await asyncio.sleep(0)  # "a" is in the writer, which waits on the gate
        wait_for(lambda: transactions == [["a"]], timeout=10, what="the first commit under way")
        rest = [
            asyncio.ensure_future(committer.submit("tracker", events))
            for events in (
                [_event("b1"), _event("b2")],
                [_event("c")],
                [_event("c"), _event("d")],  # "c" again: answered as a duplicate of c's
                [_event("e", flow="no_such_flow")],  # its commit fails: only it
                [_event("f")],
            )
        ]
        await asyncio.sleep(0)  # all five wait for the writer
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    try:
        answers = asyncio.run(scenario())
    finally:
        gate.set()
        committer.close()

    # "a" alone, then the five in one transaction, which failed on e's unknown flow; then each
    # of the five on its own, so that only e's answer is an error.
    assert transactions[0] == ["a"]
    assert transactions[1] == ["b1", "b2", "c", "c", "d", "e", "f"]
    assert transactions[2:] == [["b1", "b2"], ["c"], ["c", "d"], ["e"], ["f"]]
    a, b, c, cd, e, f = answers
    assert isinstance(e, ValueError) and "no_such_flow" in str(e)
    for answer in (a, b, c, cd, f):
        assert isinstance(answer, list)
    assert [r.duplicate for r in b] == [False, False]  # type: ignore[union-attr]
    assert [r.duplicate for r in cd] == [True, False]  # type: ignore[union-attr]
    assert cd[0].inbox_id == c[0].inbox_id  # type: ignore[index]
    stored = {e.source_event_id: e.id for e in hub.inbox.list(limit=50)}
    assert set(stored) == {"a", "b1", "b2", "c", "d", "f"}, "e stored nothing, the rest all"
    assert stored["d"] == cd[1].inbox_id and stored["f"] == f[0].inbox_id  # type: ignore[index]


def test_a_group_answers_each_request_with_its_own_events_in_order(hub: Hub) -> None:
    """Without failures: one transaction for the whole group, results split back per request."""
    gate = threading.Event()
    sizes: list[int] = []

    def commit(source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        sizes.append(len(events))
        gate.wait(30)
        return flows.submit(hub, source, events)

    committer = Committer(commit)

    async def scenario() -> list[list[AcceptResult]]:
        first = asyncio.ensure_future(committer.submit("tracker", [_event("0")]))
        await asyncio.sleep(0)
        wait_for(lambda: sizes == [1], timeout=10, what="the first commit under way")
        batches = [[_event(f"{n}-{i}") for i in range(n % 3 + 1)] for n in range(1, 21)]
        rest = [asyncio.ensure_future(committer.submit("tracker", b)) for b in batches]
        await asyncio.sleep(0)
        gate.set()
        return await asyncio.gather(first, *rest)

    try:
        answers = asyncio.run(scenario())
    finally:
        gate.set()
        committer.close()
    assert sizes == [1, sum(n % 3 + 1 for n in range(1, 21))], "two transactions in all"
    assert committer.groups == 2 and committer.requests == 21
    stored = {e.source_event_id: e.id for e in hub.inbox.list(limit=100)}
    for n, results in enumerate(answers[1:], start=1):
        assert [r.inbox_id for r in results] == [stored[f"{n}-{i}"] for i in range(n % 3 + 1)]
        assert not any(r.duplicate for r in results)


@pytest.fixture
def hub_api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    # One test client is one address: let its 24 connections in.
    api = ApiConfig(max_connections_per_client=64)
    with serving_ingress(ingress_settings(store_url, api)) as running:
        yield running


def test_concurrent_requests_over_http_each_get_their_own_answer(
    hub_api: tuple[str, Hub],
) -> None:
    base, hub = hub_api
    route = ROUTES["generic"]

    def send(n: int) -> httpx.Response:
        # Requests 0 and 1 carry the same event: whichever commits first owns it.
        event_id = "same" if n < 2 else f"ev-{n}"
        body = {"events": [{"id": event_id, "entity": f"proj-{n % 5}", "kind": "time.logged"}]}
        return post(base, route, encode(body))

    with ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(send, range(48)))
    assert [a.status_code for a in answers] == [202] * 48, [a.text for a in answers]
    accepted = [a.json()["accepted"] for a in answers]
    assert all(len(items) == 1 for items in accepted)
    for n, [item] in enumerate(accepted):
        assert item["id"] == ("same" if n < 2 else f"ev-{n}"), "each request its own events"
    same = [accepted[0][0], accepted[1][0]]
    assert sorted(s["duplicate"] for s in same) == [False, True]
    assert same[0]["inbox_id"] == same[1]["inbox_id"]
    stored = {e.source_event_id: e.id for e in hub.inbox.list(limit=100)}
    assert len(stored) == 47
    assert all(stored[item["id"]] == item["inbox_id"] for [item] in accepted)


# -- a crash between a group's commit and its answers ---------------------------------------------


def _api(folder: Path, store_url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    config = folder / "handoff.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "systems": {
                    "hubspot": {
                        "kind": "hubspot",
                        "url": "https://api.hubapi.com",
                        "webhook_secret": "${TEST_HS_SECRET}",
                    }
                },
            }
        )
    )
    return subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "api", "--port", str(port)],
        env={
            **{k: v for k, v in os.environ.items() if k != failpoints.ENV_VAR},
            **SECRETS,
            "HANDOFF_CONFIG": str(config),
            "HANDOFF_DATABASE_URL": store_url,
            **env,
        },
        stdout=(folder / "api.log").open("ab"),
        stderr=subprocess.STDOUT,
        cwd=folder,
    )


def _deal_event(n: int) -> bytes:
    return encode(
        [
            {
                "eventId": f"won-{n}",
                "subscriptionType": "deal.propertyChange",
                "propertyName": "dealstage",
                "propertyValue": "closedwon",
                "objectId": 500 + n,
                "occurredAt": int(time.time() * 1000),
            }
        ]
    )


def test_a_kill_between_a_groups_commit_and_its_answers_loses_nothing(
    store_url: str, tmp_path: Path
) -> None:
    """The API dies right after a group committed (inbox rows and their runs), before any
    answer: every sender sees a broken connection and redelivers; each deal event is then
    stored once with one run, and the redelivered copies of the committed ones are duplicates."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    route = ROUTES["hubspot"]
    dying = _api(tmp_path, store_url, port, {failpoints.ENV_VAR: f"{GROUP_COMMITTED}=exit"})
    try:
        wait_for(lambda: ready(base), timeout=60, what="the API that will die")

        def send(n: int) -> int | str:
            try:
                return post(base, route, _deal_event(n), timeout=30).status_code
            except httpx.TransportError as error:
                return type(error).__name__

        with ThreadPoolExecutor(8) as pool:
            first_try = list(pool.map(send, range(8)))
        dying.wait(30)
    finally:
        if dying.poll() is None:
            dying.kill()
    assert dying.returncode == failpoints.CRASH_EXIT_CODE
    assert all(isinstance(outcome, str) for outcome in first_try), f"answered: {first_try}"

    api = _api(tmp_path, store_url, port, {})
    reader = start_hub(ingress_settings(store_url))
    try:
        wait_for(lambda: ready(base), timeout=60, what="the API again")
        committed = len(reader.inbox.list(limit=50))
        assert committed >= 1, "the group before the kill committed"
        assert _runs(reader) == committed, "each committed event with its run"
        answers = [post(base, route, _deal_event(n)) for n in range(8)]  # the redelivery
        assert [a.status_code for a in answers] == [200] * 8
        duplicates = sum(a.json()["duplicates"] for a in answers)
        assert duplicates == committed, "what committed before the kill is a duplicate now"
        stored = reader.inbox.list(limit=50)
        assert sorted(e.source_event_id for e in stored) == sorted(f"won-{n}" for n in range(8))
        assert {e.status for e in stored} == {InboxStatus.QUEUED}
        assert _runs(reader) == 8, "one run per event, none twice"
    finally:
        api.terminate()
        api.wait(20)
        flows.close_clients()
        reader.shutdown()
        set_current_hub(None)
