"""The hub's OdooClient over real HTTP: JSON-2 against the 19-mode sandbox, JSON-RPC against 18.

The client is given 18-style positional calls and 18 field names (as the adapter makes them); on
the wire it must send Odoo 19's named arguments and field names (captured with an httpx event
hook, not patched), and every refusal must come back as the same typed error JSON-RPC gives.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from handoff.connectors.odoo import (
    AccessDenied,
    InvalidField,
    InvalidMethod,
    InvalidModel,
    MissingError,
    OdooAdapter,
    OdooClient,
    OdooProtocolError,
    SchemaViolation,
    UnknownDatabase,
    ValidationError,
    WireProtocol,
)
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox


@pytest.fixture(scope="module")
def odoo19() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox(series=19) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def odoo18() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox


class Wire:
    """Every request the client sent: (path, JSON body)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, Any]] = []

    def __call__(self, request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.url.path, body))

    def bodies(self, path: str) -> list[Any]:
        return [body for sent, body in self.sent if sent == path]


def client_for(sandbox: RunningSandbox, wire: Wire | None = None, **options: Any) -> OdooClient:
    hooks = {"request": [wire]} if wire else {}
    return OdooClient(
        sandbox.url, sandbox.db, sandbox.login, sandbox.api_key, event_hooks=hooks, **options
    )


def test_auto_picks_json2_against_19_and_jsonrpc_against_18(
    odoo19: RunningSandbox, odoo18: RunningSandbox
) -> None:
    wire19, wire18 = Wire(), Wire()
    with client_for(odoo19, wire19) as client:
        assert client.protocol is WireProtocol.JSON2
        assert client.login() == odoo19.uid
        assert client.execute_kw("res.partner", "search_count", [[]]) >= 1
    with client_for(odoo18, wire18) as client:
        assert client.protocol is WireProtocol.JSONRPC
        assert client.execute_kw("res.partner", "search_count", [[]]) >= 1
    assert [p for p, _ in wire19.sent] == [
        "/jsonrpc",
        "/json/2/res.users/context_get",
        "/json/2/res.partner/search_count",
    ]
    assert wire19.bodies("/json/2/res.partner/search_count") == [{"domain": []}]
    assert {p for p, _ in wire18.sent} == {"/jsonrpc"}


def test_json2_crud_with_named_arguments(odoo19: RunningSandbox) -> None:
    name = f"json2-{uuid.uuid4().hex[:8]}"
    wire = Wire()
    with client_for(odoo19, wire) as client:
        adapter = OdooAdapter(client)
        [first, second] = adapter.create_many("res.partner", [{"name": name}, {"name": name}])
        adapter.write("res.partner", [first, second], {"email": "j2@example.com"})
        rows = adapter.search_read("res.partner", [["name", "=", name]], ["email"], order="id asc")
        assert rows == [
            {"id": first, "email": "j2@example.com"},
            {"id": second, "email": "j2@example.com"},
        ]
        single = client.execute_kw("res.partner", "create", [{"name": name}])
        assert isinstance(single, int)  # JSON-2 answers [id]; a dict in, an id out (as JSON-RPC)
        assert client.execute_kw("res.partner", "read", [[single], ["name"]]) == [
            {"id": single, "name": name}
        ]
        assert client.execute_kw("res.partner", "unlink", [[single]]) is True
        assert client.execute_kw("res.partner", "read", [[single], ["name"]]) == []
    assert wire.bodies("/json/2/res.partner/create")[-1] == {"vals_list": [{"name": name}]}
    assert {"ids": [single], "fields": ["name"]} in wire.bodies("/json/2/res.partner/read")
    assert wire.bodies("/json/2/res.partner/unlink") == [{"ids": [single]}]
    assert all(
        "args" not in body for _, body in wire.sent if isinstance(body, dict) and _ != "/jsonrpc"
    )


def test_json2_errors_are_typed_like_jsonrpc(odoo19: RunningSandbox) -> None:
    with client_for(odoo19) as client:
        adapter = OdooAdapter(client)
        [gone] = adapter.create_many("res.partner", [{"name": "to delete"}])
        client.execute_kw("res.partner", "unlink", [[gone]])
        expected: list[tuple[type[Exception], str, str, list[Any], dict[str, Any] | None]] = [
            (MissingError, "res.partner", "write", [[gone], {"name": "x"}], None),
            (MissingError, "res.partner", "unlink", [[gone]], None),
            (InvalidField, "res.partner", "read", [[1], ["no_such_field"]], None),
            (InvalidField, "res.partner", "create", [{"name": "x", "no_such_field": 1}], None),
            (InvalidField, "res.partner", "write", [[1], {"no_such_field": 1}], None),
            (
                InvalidField,
                "res.partner",
                "search_read",
                [[["no_such_field", "=", 1]]],
                {"fields": ["name"]},
            ),
            (ValidationError, "res.partner", "create", [{"email": "noname@example.com"}], None),
            (InvalidModel, "no.such.model", "search_read", [[]], None),
            (InvalidModel, "hr.expense.sheet", "search_read", [[]], None),
            (InvalidMethod, "res.partner", "no_such_method", [[1]], None),
            (OdooProtocolError, "res.partner", "search_count", [], None),  # 422 missing domain
        ]
        for cls, model, method, args, kwargs in expected:
            with pytest.raises(cls) as caught:
                client.execute_kw(model, method, args, kwargs)
            assert caught.value.model == model, (model, method)
        with pytest.raises(SchemaViolation):
            adapter.create("res.partner", {"name": "x", "no_such_field": 1})
    with pytest.raises(AccessDenied):
        OdooClient(odoo19.url, odoo19.db, odoo19.login, "f" * 40).login()
    with pytest.raises(UnknownDatabase):
        OdooClient(odoo19.url, "nosuchdb", odoo19.login, odoo19.api_key).login()


def test_18_field_names_are_translated_for_19(odoo19: RunningSandbox) -> None:
    """The hub names sale.order.line's unit and taxes as 18 does; 19 calls them *_id/_ids."""
    wire = Wire()
    with client_for(odoo19, wire) as client:
        fields = client.execute_kw("sale.order.line", "fields_get", [], {"attributes": ["type"]})
        assert {"product_uom", "tax_id"} <= set(fields)
        assert not {"product_uom_id", "tax_ids"} & set(fields)
        hours = client.execute_kw("uom.uom", "search", [[["name", "=", "Hours"]]])[0]
        product = client.execute_kw(
            "product.product",
            "create",
            [{"name": "Consulting J2", "type": "service", "uom_id": hours, "list_price": 100.0}],
        )
        order = client.execute_kw(
            "sale.order",
            "create",
            [
                {
                    "partner_id": 3,
                    "order_line": [
                        [
                            0,
                            0,
                            {
                                "product_id": product,
                                "product_uom_qty": 2,
                                "product_uom": hours,
                                "tax_id": [[6, 0, []]],
                            },
                        ]
                    ],
                }
            ],
        )
        [line] = client.execute_kw(
            "sale.order.line",
            "search_read",
            [[["order_id", "=", order], ["product_uom", "=", hours]]],
            {"fields": ["product_uom", "tax_id", "product_uom_qty"]},
        )
        assert line["product_uom"][0] == hours and line["tax_id"] == []
        assert line["product_uom_qty"] == 2
        [partner] = client.execute_kw("res.partner", "read", [[3], ["name", "mobile"]])
        assert partner["mobile"] is False  # removed in 19: read back as an empty value
    [created] = wire.bodies("/json/2/sale.order/create")
    assert created["vals_list"][0]["order_line"][0][2] == {
        "product_id": product,
        "product_uom_qty": 2,
        "product_uom_id": hours,
        "tax_ids": [[6, 0, []]],
    }
    [searched] = wire.bodies("/json/2/sale.order.line/search_read")
    assert searched == {
        "domain": [["order_id", "=", order], ["product_uom_id", "=", hours]],
        "fields": ["product_uom_id", "tax_ids", "product_uom_qty"],
    }
    assert wire.bodies("/json/2/res.partner/read") == [{"ids": [3], "fields": ["name"]}]


def test_a_method_returning_none_is_none_over_jsonrpc(odoo18: RunningSandbox) -> None:
    """Defect 8: real Odoo leaves `result` out for None; the client used to raise."""
    with client_for(odoo18) as client:
        assert (
            client.execute_kw("account.chart.template", "try_loading", [[], "generic_coa", False])
            is None
        )
        assert client.execute_kw("res.partner", "search_count", [[["id", "=", -1]]]) == 0
