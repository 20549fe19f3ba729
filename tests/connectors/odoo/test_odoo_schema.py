"""Outgoing values are checked against the recorded Odoo 18 ``fields_get`` before anything is sent."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from connectors.odoo.odoo_replay import load_transcript, recorded_fields
from handoff.connectors.odoo.schema import SchemaCache, SchemaRegistry, SchemaViolation


@pytest.fixture
def registry() -> SchemaRegistry:
    return SchemaRegistry("http://odoo.test|psa", recorded_fields, cache=SchemaCache())


def problems(registry: SchemaRegistry, model: str, rows: list[dict[str, Any]]) -> list[Any]:
    with pytest.raises(SchemaViolation) as caught:
        registry.check_create(model, rows)
    return caught.value.violations


def test_recorded_successful_creates_pass(registry: SchemaRegistry) -> None:
    # Exactly the values the real server accepted in quote_to_cash.json / create_list.json.
    registry.check_create(
        "sale.order",
        [{"partner_id": 25, "order_line": [[0, 0, {"product_id": 8, "product_uom_qty": 10}]]}],
    )
    registry.check_create(
        "account.analytic.line",
        [
            {
                "project_id": 2,
                "task_id": 3,
                "employee_id": 1,
                "name": "Analysis workshop",
                "unit_amount": 3.5,
                "date": "2026-11-22",
            }
        ],
    )
    registry.check_create(
        "res.partner",
        [
            {"name": "Batch A", "parent_id": 14, "type": "contact"},
            {"name": "Batch C", "email": "c@example.com"},
        ],
    )
    registry.check_create(
        "product.template",
        [
            {
                "name": "Consulting (billed on timesheets)",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "uom_id": 4,
                "uom_po_id": 4,
                "list_price": 150.0,
            }
        ],
    )
    registry.check_create("sale.advance.payment.inv", [{"advance_payment_method": "delivered"}])
    registry.check_create("account.payment.register", [{}])
    registry.check_create(
        "account.analytic.line", [{"name": "x", "unit_amount": 1.0, "date": date(2026, 11, 22)}]
    )


def test_unknown_field(registry: SchemaRegistry) -> None:
    [violation] = problems(registry, "res.partner", [{"name": "Bad", "no_such_field": 1}])
    assert (violation.model, violation.field, violation.value) == (
        "res.partner",
        "no_such_field",
        1,
    )
    assert "unknown field" in violation.problem


def test_missing_required_including_enforced_elsewhere(registry: SchemaRegistry) -> None:
    [order] = problems(registry, "sale.order", [{"note": "no partner"}])
    assert (order.field, order.problem) == ("partner_id", "missing: required field")
    # res.partner.name is not `required` in fields_get; a DB constraint enforces it for contacts.
    [partner] = problems(registry, "res.partner", [{"email": "noname@example.com"}])
    assert partner.field == "name"
    assert "Contacts require a name" in partner.problem
    registry.check_create("res.partner", [{"type": "invoice", "parent_id": 3}])  # not a contact
    [lead] = problems(registry, "crm.lead", [{"name": False}])
    assert (lead.field, lead.value) == ("name", False)


def test_wrong_types_and_selection(registry: SchemaRegistry) -> None:
    found = problems(
        registry,
        "account.analytic.line",
        [
            {
                "name": 12,
                "unit_amount": "three",
                "date": "22/11/2026",
                "project_id": "2",
                "task_id": True,
            }
        ],
    )
    assert {v.field for v in found} == {"name", "unit_amount", "date", "project_id", "task_id"}
    [selection] = problems(registry, "res.partner", [{"name": "Bad sel", "type": "no-such-type"}])
    assert selection.value == "no-such-type"
    assert "contact" in selection.problem


def test_every_problem_of_every_row_is_listed(registry: SchemaRegistry) -> None:
    with pytest.raises(SchemaViolation) as caught:
        registry.check_create(
            "res.partner",
            [
                {"name": "ok"},
                {"email": "x@example.com", "color": "red"},
                {"name": "y", "bogus": 1, "is_company": "yes"},
            ],
        )
    error = caught.value
    assert [(v.row, v.field) for v in error.violations] == [
        (1, "color"),
        (1, "name"),
        (2, "bogus"),
        (2, "is_company"),
    ]
    text = str(error)
    assert "res.partner[row 2].bogus = 1" in text
    assert error.retryable is False


def test_one2many_commands(registry: SchemaRegistry) -> None:
    found = problems(
        registry,
        "sale.order",
        [
            {
                "partner_id": 1,
                "order_line": [
                    [
                        0,
                        0,
                        {"product_id": 8},
                    ],  # fine: order_id is filled by the parent, qty defaults
                    [0, {"product_id": 8}],  # bad shape
                    [0, 0, {"product_id": 8, "no_such": 1}],  # bad nested field
                    [9, 1, 2],  # unknown command
                    {"product_id": 8},  # not a command
                ],
            }
        ],
    )
    assert len(found) == 4
    assert all(v.field == "order_line" for v in found)
    assert "sale.order.line.no_such" in found[1].problem
    registry.check_create(
        "sale.order.line", [{"order_id": 1, "product_id": 8, "tax_id": [[6, 0, [1, 2]]]}]
    )
    registry.check_create("sale.order.line", [{"order_id": 1, "product_id": 8, "tax_id": [1, 2]}])


def test_write_may_omit_required_but_not_blank_them(registry: SchemaRegistry) -> None:
    registry.check_write("sale.order", {"note": "<p>x</p>"})
    with pytest.raises(SchemaViolation) as caught:
        registry.check_write("sale.order", {"partner_id": False})
    assert caught.value.violations[0].problem == "empty: required field"


def test_fields_get_is_cached_per_server_and_model() -> None:
    calls: list[str] = []

    def fetch(model: str) -> dict[str, Any]:
        calls.append(model)
        return recorded_fields(model)

    cache = SchemaCache()
    first = SchemaRegistry("a|psa", fetch, cache=cache)
    first.check_create("res.partner", [{"name": "x"}])
    first.check_create("res.partner", [{"name": "y"}])
    SchemaRegistry("a|psa", fetch, cache=cache).check_write("res.partner", {"name": "z"})
    SchemaRegistry("b|psa", fetch, cache=cache).check_write("res.partner", {"name": "z"})
    assert calls == ["res.partner", "res.partner"]


def test_a_required_field_the_server_defaults_is_not_demanded() -> None:
    """A localisation (account_peppol) adds a required field with a server default: the check
    asks the server's ``default_get`` instead of a fixed list (recorded on a real Odoo 18)."""
    recorded = load_transcript("company_required_field_from_localisation")["exchanges"]
    added = recorded[0]["response"]["result"]  # fields_get of the localisation's new field
    company_fields = {**recorded_fields("res.company"), **added}
    asked: list[tuple[str, list[str]]] = []

    def default_get(model: str, names: list[str]) -> dict[str, Any]:
        asked.append((model, names))
        return {k: v for k, v in recorded[1]["response"]["result"].items() if k in names}

    company = {"name": "Northwind Advisory Ltd", "partner_id": 28, "currency_id": 143}
    without = SchemaRegistry("a|psa", lambda _m: company_fields, cache=SchemaCache())
    [violation] = problems(without, "res.company", [company])
    assert violation.field == "account_peppol_proxy_state"

    server = SchemaRegistry(
        "a|psa", lambda _m: company_fields, defaults=default_get, cache=SchemaCache()
    )
    server.check_create("res.company", [company])
    assert asked and "account_peppol_proxy_state" in asked[0][1]
    # Blanking it is still refused: a default fills a missing value, not an empty one.
    [blank] = problems(server, "res.company", [{**company, "account_peppol_proxy_state": False}])
    assert blank.field == "account_peppol_proxy_state"
