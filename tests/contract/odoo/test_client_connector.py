"""The Odoo connector against the contract target: the sandbox, or a live Odoo from HANDOFF_TEST_ODOO_*.

Against a live server it only creates uniquely named partners and removes them again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from handoff.connectors.odoo import (
    InvalidField,
    InvalidModel,
    MissingError,
    OdooAdapter,
    OdooClient,
    SchemaViolation,
    ValidationError,
)


@pytest.fixture
def adapter(odoo_target: Any) -> Iterator[OdooAdapter]:
    with OdooClient(
        odoo_target.url, odoo_target.db, odoo_target.login, odoo_target.password
    ) as client:
        yield OdooAdapter(client)


def test_batch_create_write_read_unlink(adapter: OdooAdapter) -> None:
    tag = f"handoff-contract-{uuid.uuid4().hex[:8]}"
    ids = adapter.create_many("res.partner", [{"name": f"{tag} {i}"} for i in range(3)])
    try:
        assert adapter.write_many("res.partner", {i: {"comment": "<p>c</p>"} for i in ids}) == 1
        rows = adapter.search_read_all(
            "res.partner", [["name", "like", tag]], ["name"], page_size=2
        )
        assert [r["id"] for r in rows] == ids
    finally:
        adapter.call("res.partner", "unlink", [ids])
    assert adapter.read("res.partner", ids, ["name"]) == []  # Odoo 18: no MissingError on read
    with pytest.raises(MissingError):
        adapter.call("res.partner", "write", [ids[:1], {"name": "x"}])


def test_server_errors_are_typed(adapter: OdooAdapter) -> None:
    with pytest.raises(InvalidField) as invalid:
        adapter.call("res.partner", "read", [[1], ["no_such_field"]])
    assert invalid.value.field == "no_such_field"
    with pytest.raises(InvalidModel):
        adapter.call("no.such.model", "search_read", [[]], {"fields": ["name"]})
    with pytest.raises(ValidationError):
        adapter.call("sale.order", "create", [{"note": "no partner"}])


def test_schema_refuses_locally(adapter: OdooAdapter) -> None:
    with pytest.raises(SchemaViolation) as caught:
        adapter.create("res.partner", {"email": "noname@example.com", "type": "no-such-type"})
    assert {v.field for v in caught.value.violations} == {"name", "type"}


def test_upsert_by_external_id_is_idempotent(adapter: OdooAdapter) -> None:
    key = uuid.uuid4().hex
    name = f"handoff-contract-upsert-{key[:8]}"
    first = adapter.upsert("res.partner", "contract", key, {"name": name, "is_company": True})
    try:
        again = adapter.upsert("res.partner", "contract", key, {"name": name, "is_company": True})
        assert (again.id, again.created, first.created) == (first.id, False, True)
        assert len(adapter.search_read("res.partner", [["name", "=", name]], ["id"])) == 1
    finally:
        adapter.call("res.partner", "unlink", [[first.id]])
