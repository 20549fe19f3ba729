"""The client over real HTTP against the 18 sandbox: injected faults (JSON-2 against 19: test_client_json2_sandbox.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from handoff.connectors.odoo import (
    AccessDenied,
    OdooCall,
    OdooClient,
    OdooConcurrencyError,
    OdooTimeout,
    OdooUnavailable,
    WireProtocol,
)

testing = pytest.importorskip("handoff_sandbox.odoo.testing")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with testing.running_odoo_sandbox() as running:
        yield running


@pytest.fixture(autouse=True)
def no_faults(sandbox: Any) -> Iterator[None]:
    sandbox.set_faults(reset=True)
    yield
    sandbox.set_faults(reset=True)


def test_auto_protocol_on_the_18_sandbox_is_jsonrpc_with_api_key_login(sandbox: Any) -> None:
    with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.api_key) as client:
        assert client.version().server_serie == "18.0"
        assert client.protocol is WireProtocol.JSONRPC
        assert client.login() == sandbox.uid
    with pytest.raises(AccessDenied):
        OdooClient(sandbox.url, sandbox.db, sandbox.login, "0" * 40).login()


@pytest.fixture
def client(sandbox: Any) -> Iterator[OdooClient]:
    with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as odoo:
        odoo.login()
        yield odoo


def test_injected_503_is_retryable(sandbox: Any, client: OdooClient) -> None:
    sandbox.set_faults(fail_next=1, fail_status=503, fail_kind="http")
    with pytest.raises(OdooUnavailable) as caught:
        client.execute_kw("res.partner", "search_count", [[]])
    assert caught.value.retryable and caught.value.status == 503
    assert client.execute_kw("res.partner", "search_count", [[]]) > 0  # next call goes through


def test_injected_lock_error_is_retryable(sandbox: Any, client: OdooClient) -> None:
    sandbox.set_faults(fail_next=1, fail_kind="lock")
    with pytest.raises(OdooConcurrencyError) as caught:
        client.execute_kw("res.partner", "search_count", [[]])
    assert caught.value.retryable
    assert "could not serialize access" in caught.value.message


def test_per_call_timeout(sandbox: Any, client: OdooClient) -> None:
    sandbox.set_faults(latency_ms=500)
    started = time.perf_counter()
    with pytest.raises(OdooTimeout) as caught:
        client.execute_kw("res.partner", "search_count", [[]], timeout_s=0.1)
    assert time.perf_counter() - started < 0.45
    assert caught.value.retryable


def test_many_calls_in_flight_against_latency(sandbox: Any, client: OdooClient) -> None:
    sandbox.set_faults(latency_ms=100)
    calls = [OdooCall(model="res.partner", method="search_count", args=[[]]) for _ in range(8)]
    started = time.perf_counter()
    results = client.call_many(calls)
    elapsed = time.perf_counter() - started
    assert len(results) == 8 and len(set(results)) == 1
    assert elapsed < 8 * 0.1 / 2  # overlapping, not one after the other
