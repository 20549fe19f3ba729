"""Odoo sandbox behaviour over real HTTP: faults, XML-RPC faults, quote-to-cash (JSON-2: test_json2_series.py)."""

from __future__ import annotations

import time
import xmlrpc.client
from typing import Any

import httpx
import pytest

from handoff_sandbox.odoo.testing import RunningSandbox


def call(
    odoo: RunningSandbox,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body = {
        "jsonrpc": "2.0",
        "method": "call",
        "id": 1,
        "params": {
            "service": "object",
            "method": "execute_kw",
            "args": [odoo.db, odoo.uid, odoo.password, model, method, args, kwargs or {}],
        },
    }
    return httpx.post(f"{odoo.url}/jsonrpc", json=body).json()


def result(
    odoo: RunningSandbox,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
) -> Any:
    answer = call(odoo, model, method, args, kwargs)
    assert "error" not in answer, answer.get("error")
    return answer.get("result")  # absent when the method returned None, as in Odoo


def test_control_endpoint_injects_http_faults_then_recovers(odoo: RunningSandbox) -> None:
    state = httpx.post(
        f"{odoo.url}/sandbox/control", json={"fail_next": 2, "fail_status": 503}
    ).json()
    assert state["fail_next"] == 2
    statuses = [
        httpx.post(
            f"{odoo.url}/jsonrpc",
            json={"params": {"service": "common", "method": "version", "args": []}},
        ).status_code
        for _ in range(3)
    ]
    assert statuses == [503, 503, 200]


def test_lock_fault_is_an_odoo_serialization_error(odoo: RunningSandbox) -> None:
    odoo.set_faults(fail_next=1, fail_kind="lock")
    answer = call(odoo, "res.partner", "search_count", [[]])
    assert answer["error"]["data"]["name"] == "psycopg2.errors.SerializationFailure"
    assert isinstance(call(odoo, "res.partner", "search_count", [[]])["result"], int)


def test_latency_is_added_per_call(odoo: RunningSandbox) -> None:
    odoo.set_faults(latency_ms=50)
    started = time.perf_counter()
    result(odoo, "res.partner", "search_count", [[]])
    assert time.perf_counter() - started >= 0.05


def test_bad_control_input_is_refused(odoo: RunningSandbox) -> None:
    answer = httpx.post(f"{odoo.url}/sandbox/control", json={"fail_kind": "meteor"})
    assert answer.status_code == 422


def test_xmlrpc_fault_codes_follow_odoo(odoo: RunningSandbox) -> None:
    models = xmlrpc.client.ServerProxy(f"{odoo.url}/xmlrpc/2/object")
    with pytest.raises(xmlrpc.client.Fault) as missing:
        models.execute_kw(odoo.db, 2, "admin", "sale.order", "create", [{"note": "x"}])
    assert missing.value.faultCode == 2
    with pytest.raises(xmlrpc.client.Fault) as denied:
        models.execute_kw(odoo.db, 2, "wrong", "res.partner", "search", [[]])
    assert denied.value.faultCode == 3
    with pytest.raises(xmlrpc.client.Fault) as other:
        models.execute_kw(odoo.db, 2, "admin", "res.partner", "create", [{"nope": 1}])
    assert other.value.faultCode == 1


def test_validation_of_relations_selection_and_required(odoo: RunningSandbox) -> None:
    fk = call(odoo, "res.partner", "create", [{"name": "x", "country_id": 999999}])
    assert fk["error"]["data"]["name"] == "odoo.exceptions.ValidationError"
    assert "res_partner_country_id_fkey" in fk["error"]["data"]["message"]
    bad = call(odoo, "res.partner", "create", [{"name": "x", "type": "nope"}])
    assert bad["error"]["data"]["message"] == "Wrong value for res.partner.type: 'nope'"
    lead = call(odoo, "crm.lead", "create", [{"name": False}])
    assert "Field: Opportunity (name)" in lead["error"]["data"]["message"]


def test_one_thousand_rows_in_one_create_come_back_in_order(odoo: RunningSandbox) -> None:
    # Its speed is measured in benchmarks/odoo_adapter.py, not here.
    ids = result(
        odoo,
        "account.analytic.line",
        "create",
        [
            [
                {"name": f"t{i}", "unit_amount": 1.0, "employee_id": 1, "project_id": 1}
                for i in range(1000)
            ]
        ],
    )
    assert len(ids) == 1000 and ids == sorted(ids)


def _timesheet_order(odoo: RunningSandbox) -> tuple[int, int, int]:
    product = result(
        odoo,
        "product.template",
        "create",
        [
            {
                "name": "Consulting",
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
    partner = result(odoo, "res.partner", "create", [{"name": "Acme", "is_company": True}])
    order = result(
        odoo,
        "sale.order",
        "create",
        [
            {
                "partner_id": partner,
                "order_line": [[0, 0, {"product_id": product, "product_uom_qty": 10}]],
            }
        ],
    )
    return product, partner, order


def test_quote_to_cash_happy_path(odoo: RunningSandbox) -> None:
    _, _, order = _timesheet_order(odoo)
    quote = result(odoo, "sale.order", "read", [[order], ["amount_total", "amount_tax"]])[0]
    assert (quote["amount_total"], quote["amount_tax"]) == (1725.0, 225.0)
    assert result(odoo, "sale.order", "action_confirm", [[order]]) is True
    again = call(odoo, "sale.order", "action_confirm", [[order]])
    assert again["error"]["data"]["message"] == (
        "Some orders are not in a state requiring confirmation."
    )
    project = result(odoo, "project.project", "search", [[["sale_order_id", "=", order]]])[0]
    task = result(odoo, "project.task", "search", [[["sale_order_id", "=", order]]])[0]
    result(
        odoo,
        "account.analytic.line",
        "create",
        [
            {
                "project_id": project,
                "task_id": task,
                "employee_id": 1,
                "name": "work",
                "unit_amount": 3.5,
                "date": "2026-11-22",
            }
        ],
    )
    line = result(odoo, "sale.order", "read", [[order], ["order_line"]])[0]["order_line"][0]
    assert (
        result(odoo, "sale.order.line", "read", [[line], ["qty_delivered"]])[0]["qty_delivered"]
        == 3.5
    )
    context = {"context": {"active_model": "sale.order", "active_ids": [order]}}
    wizard = result(
        odoo,
        "sale.advance.payment.inv",
        "create",
        [{"advance_payment_method": "delivered"}],
        context,
    )
    action = result(odoo, "sale.advance.payment.inv", "create_invoices", [[wizard]], context)
    invoice = action["res_id"]
    draft = result(odoo, "account.move", "read", [[invoice], ["amount_total", "state"]])[0]
    assert draft == {"id": invoice, "amount_total": 603.75, "state": "draft"}
    assert result(odoo, "account.move", "action_post", [[invoice]]) is False
    posted_twice = call(odoo, "account.move", "action_post", [[invoice]])
    assert "must be in draft" in posted_twice["error"]["data"]["message"]
    pay_context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    payment = result(odoo, "account.payment.register", "create", [{"amount": 100.0}], pay_context)
    result(odoo, "account.payment.register", "action_create_payments", [[payment]], pay_context)
    partial = result(
        odoo, "account.move", "read", [[invoice], ["payment_state", "amount_residual"]]
    )[0]
    assert (partial["payment_state"], partial["amount_residual"]) == ("partial", 503.75)
    rest = result(odoo, "account.payment.register", "create", [{}], pay_context)
    result(odoo, "account.payment.register", "action_create_payments", [[rest]], pay_context)
    paid = result(odoo, "account.move", "read", [[invoice], ["payment_state", "amount_residual"]])[
        0
    ]
    assert (paid["payment_state"], paid["amount_residual"]) == ("paid", 0.0)


def test_invoicing_wizard_without_context_has_nothing_to_invoice(odoo: RunningSandbox) -> None:
    _, _, order = _timesheet_order(odoo)
    result(odoo, "sale.order", "action_confirm", [[order]])
    wizard = result(
        odoo, "sale.advance.payment.inv", "create", [{"advance_payment_method": "delivered"}]
    )
    answer = call(odoo, "sale.advance.payment.inv", "create_invoices", [[wizard]])
    assert answer["error"]["data"]["name"] == "odoo.exceptions.UserError"
    assert answer["error"]["data"]["message"].startswith("Cannot create an invoice.")


def test_credit_note_reverses_a_posted_invoice(odoo: RunningSandbox) -> None:
    partner = result(odoo, "res.partner", "create", [{"name": "Refund Co"}])
    invoice = result(
        odoo,
        "account.move",
        "create",
        [
            {
                "move_type": "out_invoice",
                "partner_id": partner,
                "invoice_line_ids": [[0, 0, {"name": "fee", "quantity": 1, "price_unit": 100}]],
            }
        ],
    )
    result(odoo, "account.move", "action_post", [[invoice]])
    context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    wizard = result(
        odoo, "account.move.reversal", "create", [{"reason": "error", "journal_id": 1}], context
    )
    action = result(odoo, "account.move.reversal", "modify_moves", [[wizard]], context)
    assert action["context"] == {"default_move_type": "out_invoice"}  # the draft copy to correct
    [credit] = result(
        odoo,
        "account.move",
        "search_read",
        [[["reversed_entry_id", "=", invoice]]],
        {"fields": ["move_type", "state", "reversed_entry_id"]},
    )
    assert credit["move_type"] == "out_refund" and credit["reversed_entry_id"][0] == invoice
    original = result(odoo, "account.move", "read", [[invoice], ["payment_state"]])[0]
    assert original["payment_state"] == "reversed"


def test_external_ids_through_load_are_idempotent(odoo: RunningSandbox) -> None:
    first = result(odoo, "res.partner", "load", [["id", "name"], [["crm.acme", "Acme"]]])
    second = result(odoo, "res.partner", "load", [["id", "name"], [["crm.acme", "Acme Ltd"]]])
    assert first["ids"] == second["ids"] and first["messages"] == []
    found = result(
        odoo,
        "ir.model.data",
        "search_read",
        [[["module", "=", "crm"], ["name", "=", "acme"]]],
        {"fields": ["res_id"]},
    )
    assert found[0]["res_id"] == first["ids"][0]
    name = result(odoo, "res.partner", "read", [first["ids"], ["name"]])[0]["name"]
    assert name == "Acme Ltd"
