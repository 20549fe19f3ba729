"""Replay of the recorded Odoo 18 exchanges through ``httpx.MockTransport`` (protocol-level tests).

The transport checks that the client sent exactly the recorded ``params`` (service, method, args)
and answers with the recorded response body, byte for byte. Integration behaviour is tested over
real HTTP against the sandbox (see test_odoo_adapter_sandbox.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[3]
TRANSCRIPTS = REPO / "tests" / "contract" / "odoo" / "transcripts"
FIELDS = REPO / "sandbox" / "src" / "handoff_sandbox" / "odoo" / "data" / "fields"


VERSION_18_ANSWER = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {
            "server_version": "18.0-20250421",
            "server_version_info": [18, 0, 0, "final", 0, ""],
            "server_serie": "18.0",
            "protocol_version": 1,
        },
    }
)


def load_transcript(name: str) -> dict[str, Any]:
    return json.loads((TRANSCRIPTS / f"{name}.json").read_text())


def jsonrpc_exchanges() -> list[tuple[str, dict[str, Any]]]:
    """Every recorded ``/jsonrpc`` exchange as (file stem, exchange)."""
    found = []
    for path in sorted(TRANSCRIPTS.glob("*.json")):
        for exchange in json.loads(path.read_text())["exchanges"]:
            if exchange.get("http_request", {}).get("path") == "/jsonrpc":
                found.append((path.stem, exchange))
    return found


def recorded_fields(model: str) -> dict[str, Any]:
    return json.loads((FIELDS / f"{model}.json").read_text())["fields"]


class ReplayTransport(httpx.MockTransport):
    """Answers each expected request (in order) with its recorded body; counts requests."""

    def __init__(self, exchanges: list[dict[str, Any]]) -> None:
        self.expected = list(exchanges)
        self.seen: list[dict[str, Any]] = []
        super().__init__(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.seen.append(body)
        version_call = body.get("params", {}).get("method") == "version"
        if version_call and not (
            self.expected and self.expected[0]["request"]["params"].get("method") == "version"
        ):
            # The client asks common.version once before logging in (the series decides field
            # names, even with the protocol forced): answer it as the recorded 18 server did.
            return httpx.Response(
                200,
                content=VERSION_18_ANSWER.encode(),
                headers={"Content-Type": "application/json; charset=utf-8"},
            )
        if not self.expected:
            raise AssertionError(f"unexpected request {body}")
        exchange = self.expected.pop(0)
        assert request.url.path == exchange["http_request"]["path"]
        assert body["params"] == exchange["request"]["params"], (
            f"sent {body['params']} but recorded {exchange['request']['params']}"
        )
        return httpx.Response(
            exchange["http_response"]["status"],
            content=exchange["response_body"].encode(),
            headers={
                "Content-Type": exchange["http_response"].get("content_type", "application/json")
            },
        )


def authenticate_exchange(db: str, login: str, secret: str, uid: int) -> dict[str, Any]:
    """A synthetic ``common.authenticate`` answer in the recorded shape (authenticate.json #1)."""
    return {
        "http_request": {"path": "/jsonrpc"},
        "http_response": {"status": 200},
        "request": {
            "params": {
                "service": "common",
                "method": "authenticate",
                "args": [db, login, secret, {}],
            }
        },
        "response_body": json.dumps({"jsonrpc": "2.0", "id": 1, "result": uid}),
    }
