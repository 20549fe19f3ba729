"""Protocol choice from ``common.version``, JSON-2 request shapes and errors, concurrency.

JSON-2 is tested with ``httpx.MockTransport`` here (request shape per the Odoo 19 documentation:
``POST /json/2/<model>/<method>``, ``Authorization: bearer <key>``, ``X-Odoo-Database``, named
parameters, errors as HTTP 4xx/5xx with ``name``/``message``/``arguments``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import httpx
import pytest

from connectors.odoo.odoo_replay import ReplayTransport, jsonrpc_exchanges
from handoff.connectors.odoo import errors as e
from handoff.connectors.odoo.client import AsyncOdooClient, OdooCall, OdooClient
from handoff.connectors.odoo.wire import WireProtocol

VERSION_19 = {
    "server_version": "19.0",
    "server_version_info": [19, 0, 0, "final", 0, ""],
    "server_serie": "19.0",
    "protocol_version": 1,
}


VERSION_18 = {
    "server_version": "18.0-20250421",
    "server_version_info": [18, 0, 0, "final", 0, ""],
    "server_serie": "18.0",
    "protocol_version": 1,
}
ANSWERS: dict[str, Any] = {"version": VERSION_18, "authenticate": 2}


def recorded(stem: str, seq: int) -> dict[str, Any]:
    return next(x for s, x in jsonrpc_exchanges() if s == stem and x["seq"] == seq)


def test_odoo_18_version_selects_jsonrpc_and_replays_recorded_calls() -> None:
    transport = ReplayTransport(
        [
            recorded("version", 1),
            recorded("quote_to_cash", 1),  # authenticate admin/admin -> 2
            recorded("create_list", 1),
        ]
    )
    with OdooClient("http://odoo.test", "psa", "admin", "admin", transport=transport) as client:
        assert client.version().major == 18
        assert client.protocol is WireProtocol.JSONRPC
        ids = client.execute_kw(
            "res.partner",
            "create",
            [
                [
                    {"name": "Batch A", "parent_id": 14, "type": "contact"},
                    {"name": "Batch B", "parent_id": 14},
                    {"name": "Batch C", "email": "c@example.com"},
                ]
            ],
        )
    assert ids == [16, 17, 18]
    assert not transport.expected


class Json2Server:
    """A MockTransport handler that records JSON-2 requests and answers from a routing table."""

    def __init__(self, routes: dict[str, Any]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.path == "/jsonrpc":
            body = json.loads(request.content)
            return httpx.Response(
                200, json={"jsonrpc": "2.0", "id": body["id"], "result": VERSION_19}
            )
        answer = self.routes[request.url.path]
        return answer(request) if callable(answer) else httpx.Response(200, json=answer)


def test_odoo_19_version_selects_json2_with_bearer_key() -> None:
    server = Json2Server(
        {
            "/json/2/res.users/context_get": {"lang": "en_US", "tz": False, "uid": 2},
            "/json/2/res.partner/search_read": [{"id": 1, "name": "My Company"}],
            "/json/2/res.partner/create": [41],
            "/json/2/res.partner/write": True,
            "/json/2/sale.order/action_confirm": True,
        }
    )
    with OdooClient(
        "http://odoo.test", "psa", "admin", "KEY", transport=httpx.MockTransport(server)
    ) as client:
        assert client.protocol is WireProtocol.JSON2
        assert client.uid == 2
        rows = client.execute_kw(
            "res.partner",
            "search_read",
            [[["id", "=", 1]]],
            {"fields": ["name"], "context": {"lang": "en_US"}},
        )
        new_id = client.execute_kw("res.partner", "create", [{"name": "X"}])
        client.execute_kw("res.partner", "write", [[41], {"name": "Y"}])
        client.execute_kw("sale.order", "action_confirm", [[3]])
    assert rows == [{"id": 1, "name": "My Company"}]
    assert new_id == 41  # a single dict creates one id, as over JSON-RPC
    bodies = {r.url.path: json.loads(r.content) for r in server.requests[1:]}
    assert bodies["/json/2/res.users/context_get"] == {}
    assert bodies["/json/2/res.partner/search_read"] == {
        "domain": [["id", "=", 1]],
        "fields": ["name"],
        "context": {"lang": "en_US"},
    }
    assert bodies["/json/2/res.partner/create"] == {"vals_list": [{"name": "X"}]}
    assert bodies["/json/2/res.partner/write"] == {"ids": [41], "vals": {"name": "Y"}}
    assert bodies["/json/2/sale.order/action_confirm"] == {"ids": [3]}
    for request in server.requests[1:]:
        assert request.headers["Authorization"] == "bearer KEY"
        assert request.headers["X-Odoo-Database"] == "psa"


@pytest.mark.parametrize(
    ("status", "name", "expected"),
    [
        (401, "odoo.exceptions.AccessDenied", e.AccessDenied),
        (403, "odoo.exceptions.AccessError", e.AccessError),
        (404, "odoo.exceptions.MissingError", e.MissingError),
        (422, "odoo.exceptions.ValidationError", e.ValidationError),
        (500, "builtins.ValueError", e.InvalidField),
        (500, "psycopg2.errors.SerializationFailure", e.OdooConcurrencyError),
    ],
)
def test_json2_errors_are_typed(status: int, name: str, expected: type[e.OdooError]) -> None:
    message = "Invalid field 'x' on model 'res.partner'" if "ValueError" in name else "refused"
    error_body = {
        "name": name,
        "message": message,
        "arguments": [message],
        "context": {},
        "debug": "Traceback",
    }
    server = Json2Server(
        {
            "/json/2/res.users/context_get": {"lang": "en_US", "tz": False, "uid": 2},
            "/json/2/res.partner/write": lambda r: httpx.Response(
                status, json=error_body, headers={"Retry-After": "2"}
            ),
        }
    )
    client = OdooClient(
        "http://odoo.test",
        "psa",
        "admin",
        "KEY",
        protocol="json2",
        transport=httpx.MockTransport(server),
    )
    with pytest.raises(expected) as caught:
        client.execute_kw("res.partner", "write", [[1], {"x": 1}])
    assert caught.value.message == message
    assert caught.value.server_name == name
    assert caught.value.retry_after == 2.0
    assert caught.value.model == "res.partner"


def test_json2_refuses_positional_args_it_cannot_name() -> None:
    client = OdooClient(
        "http://odoo.test",
        "psa",
        "admin",
        "KEY",
        protocol="json2",
        transport=httpx.MockTransport(
            Json2Server({"/json/2/res.users/context_get": {"lang": "en_US", "tz": False, "uid": 2}})
        ),
    )
    with pytest.raises(e.OdooProtocolError, match="named parameters"):
        client.execute_kw("res.partner", "some_custom_method", [[1], "positional"])


def _slow_jsonrpc(delay_s: float) -> tuple[httpx.MockTransport, dict[str, int]]:
    state = {"in_flight": 0, "peak": 0}
    lock = threading.Lock()

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["params"]["method"] in ANSWERS:
            return httpx.Response(
                200,
                json={
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "result": ANSWERS[body["params"]["method"]],
                },
            )
        with lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
        time.sleep(delay_s)
        with lock:
            state["in_flight"] -= 1
        model = body["params"]["args"][3]
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": model})

    return httpx.MockTransport(handler), state


def test_call_many_keeps_several_calls_in_flight_and_keeps_order() -> None:
    transport, state = _slow_jsonrpc(0.05)
    calls = [OdooCall(model=f"m{i}", method="search_count", args=[[]]) for i in range(16)]
    with OdooClient(
        "http://odoo.test",
        "psa",
        "admin",
        "k",
        protocol="jsonrpc",
        transport=transport,
        max_in_flight=8,
    ) as client:
        started = time.perf_counter()
        results = client.call_many(calls)
        elapsed = time.perf_counter() - started
    assert results == [f"m{i}" for i in range(16)]
    assert state["peak"] == 8
    assert elapsed < 16 * 0.05 / 2


def test_async_client_gathers_calls() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["params"]["method"] in ANSWERS:
            return httpx.Response(
                200,
                json={
                    "jsonrpc": "2.0",
                    "id": body["id"],
                    "result": ANSWERS[body["params"]["method"]],
                },
            )
        await asyncio.sleep(0.05)
        return httpx.Response(
            200, json={"jsonrpc": "2.0", "id": body["id"], "result": body["params"]["args"][5][0]}
        )

    async def run() -> tuple[list[Any], float]:
        async with AsyncOdooClient(
            "http://odoo.test",
            "psa",
            "admin",
            "k",
            protocol="jsonrpc",
            transport=httpx.MockTransport(handler),
        ) as client:
            started = time.perf_counter()
            results = await client.call_many(
                [OdooCall(model="res.partner", method="read", args=[[i]]) for i in range(10)]
            )
            return results, time.perf_counter() - started

    results, elapsed = asyncio.run(run())
    assert results == [[i] for i in range(10)]
    assert elapsed < 0.3
