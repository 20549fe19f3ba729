"""Every recorded Odoo 18 error answer maps to its typed exception, message and arguments kept."""

from __future__ import annotations

import json
import pickle
from typing import Any

import httpx
import pytest

from connectors.odoo.odoo_replay import (
    VERSION_18_ANSWER,
    ReplayTransport,
    authenticate_exchange,
    jsonrpc_exchanges,
)
from handoff.canonical.errors import BusinessRuleError, ErrorKind, PermanentError, TransientError
from handoff.connectors.odoo import errors as e
from handoff.connectors.odoo.client import OdooClient

# (transcript, seq) -> expected class. Every recorded error must be listed (checked below).
EXPECTED: dict[tuple[str, int], type[e.OdooError]] = {
    ("access_error", 9): e.AccessError,
    ("access_error", 10): e.AccessError,
    ("access_error", 12): e.AccessError,
    ("apikey", 4): e.UserError,
    ("apikey", 5): e.AccessError,
    ("authenticate", 4): e.UnknownDatabase,
    ("authenticate", 6): e.AccessDenied,
    ("create_unknown_field", 1): e.InvalidField,
    ("create_unknown_field", 2): e.InvalidField,
    ("create_unknown_field", 3): e.InvalidField,
    ("create_unknown_field", 4): e.InvalidField,
    ("create_unknown_field", 5): e.InvalidValue,
    ("create_unknown_field", 6): e.ValidationError,
    ("missing_error", 4): e.MissingError,
    ("missing_error", 6): e.MissingError,
    ("nonexistent_method", 1): e.InvalidMethod,
    ("nonexistent_method", 2): e.AccessError,
    ("nonexistent_method", 3): e.InvalidMethod,
    ("nonexistent_method", 4): e.OdooServerError,
    ("nonexistent_model", 1): e.InvalidModel,
    ("quote_to_cash_pitfalls", 5): e.OdooServerError,
    ("quote_to_cash_pitfalls", 8): e.UserError,
    ("quote_to_cash_pitfalls", 10): e.UserError,
    ("quote_to_cash_pitfalls", 12): e.UserError,
    ("quote_to_cash_pitfalls", 14): e.UserError,
    ("quote_to_cash_pitfalls", 18): e.UserError,
    ("quote_to_cash_pitfalls", 19): e.UserError,
    ("quote_to_cash_pitfalls", 23): e.UserError,
    ("read_group", 4): e.InvalidMethod,
    ("required_field_error", 1): e.ValidationError,
    ("required_field_error", 2): e.ValidationError,
    ("required_field_error", 3): e.ValidationError,
    ("unlink", 2): e.MissingError,
    ("concurrency_and_limits", 85): e.InvalidValue,
    ("concurrency_and_limits", 87): e.ValidationError,
    ("concurrency_and_limits", 89): e.MissingError,
    ("credit_note", 11): e.ValidationError,
    ("credit_note", 42): e.UserError,
    ("expense_company_mismatch", 3): e.UserError,
    ("external_ids", 8): e.OdooServerError,
    # Two creates of one external id: the second is a concurrent flow's, retried (it then finds it).
    ("external_ids", 9): e.OdooConcurrencyError,
    ("external_ids", 10): e.ValidationError,
    ("external_ids", 22): e.OdooServerError,
    ("fixed_price_and_down_payment", 18): e.UserError,
    ("hub_calls_refused_by_real_odoo", 1): e.OdooServerError,
    ("hub_calls_refused_by_real_odoo", 2): e.OdooConcurrencyError,
    ("hub_calls_refused_by_real_odoo", 3): e.UserError,
    ("multi_company_currency_tax", 14): e.OdooServerError,
    ("multi_company_currency_tax", 27): e.UserError,
    ("multi_company_currency_tax", 28): e.UserError,
    ("multi_company_currency_tax", 35): e.AccessError,
    ("multi_company_currency_tax", 38): e.AccessError,
    ("tax_group_country_mismatch", 4): e.ValidationError,
    ("timesheet_approval_and_billing_state", 4): e.InvalidField,
    ("timesheet_approval_and_billing_state", 23): e.UserError,
    ("timesheet_approval_and_billing_state", 28): e.UserError,
}

ERROR_EXCHANGES = [
    (stem, exchange) for stem, exchange in jsonrpc_exchanges() if "error" in exchange["response"]
]


def test_every_recorded_error_is_covered() -> None:
    recorded = {(stem, exchange["seq"]) for stem, exchange in ERROR_EXCHANGES}
    assert recorded == set(EXPECTED)


def _replay_call(exchange: dict[str, Any]) -> None:
    params = exchange["request"]["params"]
    if params["service"] == "object" and params["method"] == "execute_kw":
        db, uid, secret, model, method, args, *rest = params["args"]
        transport = ReplayTransport([authenticate_exchange(db, "admin", secret, uid), exchange])
        with OdooClient(
            "http://odoo.test", db, "admin", secret, protocol="jsonrpc", transport=transport
        ) as client:
            client.execute_kw(model, method, args, rest[0] if rest else None)
    else:
        transport = ReplayTransport([exchange])
        with OdooClient(
            "http://odoo.test", "psa", "admin", "admin", protocol="jsonrpc", transport=transport
        ) as client:
            client.call_service(params["service"], params["method"], *params["args"])


@pytest.mark.parametrize(
    ("stem", "exchange"), ERROR_EXCHANGES, ids=[f"{s}#{x['seq']}" for s, x in ERROR_EXCHANGES]
)
def test_recorded_error_maps_to_typed_exception(stem: str, exchange: dict[str, Any]) -> None:
    data = exchange["response"]["error"]["data"]
    with pytest.raises(e.OdooError) as caught:
        _replay_call(exchange)
    error = caught.value
    assert type(error) is EXPECTED[(stem, exchange["seq"])]
    assert error.server_name == data["name"]
    assert error.message == data["message"]
    assert error.arguments == data["arguments"]
    assert error.debug == data["debug"]
    assert error.retryable is (type(error) is e.OdooConcurrencyError)
    params = exchange["request"]["params"]
    if params["method"] == "execute_kw":
        assert error.model == params["args"][3]
        assert error.method == params["args"][4]


def test_invalid_field_names_the_field() -> None:
    _stem, exchange = next(x for x in ERROR_EXCHANGES if x[0] == "create_unknown_field")
    with pytest.raises(e.InvalidField) as caught:
        _replay_call(exchange)
    assert caught.value.field == "no_such_field"
    assert caught.value.model == "res.partner"


def test_kinds_follow_engine_classification() -> None:
    assert issubclass(e.ValidationError, BusinessRuleError)
    assert issubclass(e.MissingError, e.UserError)
    assert issubclass(e.AccessDenied, PermanentError)
    assert issubclass(e.InvalidField, PermanentError)
    assert issubclass(e.OdooConcurrencyError, TransientError)
    assert e.OdooConcurrencyError("x").kind is ErrorKind.TRANSIENT
    assert e.ValidationError("x").kind is ErrorKind.BUSINESS_RULE


@pytest.mark.parametrize(
    ("name", "message", "expected"),
    [
        (
            "psycopg2.errors.SerializationFailure",
            "could not serialize access due to concurrent update\n",
            e.OdooConcurrencyError,
        ),
        (
            "psycopg2.OperationalError",
            'could not obtain lock on row in relation "res_partner"',
            e.OdooConcurrencyError,
        ),
        (
            "psycopg2.errors.LockNotAvailable",
            "canceling statement due to lock timeout",
            e.OdooConcurrencyError,
        ),
        ("psycopg2.OperationalError", 'FATAL:  database "x" does not exist', e.UnknownDatabase),
    ],
)
def test_lock_and_serialization_errors_are_retryable(
    name: str, message: str, expected: type[e.OdooError]
) -> None:
    error = e.error_from_payload({"name": name, "message": message, "arguments": [message]})
    assert type(error) is expected
    assert error.retryable is (expected is e.OdooConcurrencyError)


def _client(handler: Any, **options: Any) -> OdooClient:
    return OdooClient(
        "http://odoo.test",
        "psa",
        "admin",
        "key",
        protocol="jsonrpc",
        transport=httpx.MockTransport(handler),
        **options,
    )


def _logged_in(handler: Any, **options: Any) -> OdooClient:
    def route(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if body["params"]["method"] == "authenticate":
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": 2})
        if body["params"]["method"] == "version":
            return httpx.Response(200, content=VERSION_18_ANSWER.encode())
        return handler(request)

    return _client(route, **options)


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_gateway_statuses_are_retryable_with_retry_after(status: int) -> None:
    client = _logged_in(lambda r: httpx.Response(status, text="busy", headers={"Retry-After": "7"}))
    with pytest.raises(e.OdooUnavailable) as caught:
        client.execute_kw("res.partner", "search_count", [[]])
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7.0
    assert caught.value.status == status
    assert isinstance(caught.value, TransientError)


def test_http_404_is_permanent() -> None:
    client = _logged_in(lambda r: httpx.Response(404, text="Not Found"))
    with pytest.raises(e.OdooProtocolError) as caught:
        client.execute_kw("res.partner", "search_count", [[]])
    assert caught.value.retryable is False


def test_connection_error_and_timeout_are_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(e.OdooConnectionError) as refused:
        _client(refuse).version()
    assert refused.value.retryable
    with pytest.raises(e.OdooTimeout) as timed_out:
        _logged_in(slow).execute_kw("res.partner", "search_count", [[]], timeout_s=0.5)
    assert timed_out.value.retryable


def test_wrong_password_false_becomes_access_denied() -> None:
    stem_exchange = next(x for s, x in jsonrpc_exchanges() if s == "authenticate" and x["seq"] == 2)
    client = OdooClient(
        "http://odoo.test",
        "psa",
        "admin",
        "wrong-password",
        protocol="jsonrpc",
        transport=ReplayTransport([stem_exchange]),
    )
    with pytest.raises(e.AccessDenied):
        client.login()


def test_errors_survive_pickling() -> None:
    error = e.error_from_payload(
        {"name": "odoo.exceptions.ValidationError", "message": "m", "arguments": ["m"]},
        model="sale.order",
        method="create",
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is e.ValidationError
    assert (copy.model, copy.server_name, copy.arguments) == (
        "sale.order",
        error.server_name,
        ["m"],
    )
