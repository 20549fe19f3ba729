"""Rules the real Odoo 18 enforces (see tests/contract/odoo/transcripts), reproduced by the sandbox.

Each test names the transcript whose recorded answer it checks, over real HTTP.
"""

from __future__ import annotations

from typing import Any

import httpx

from handoff.connectors.odoo import OdooClient
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox
from sandbox.odoo.test_odoo_sandbox import call, result

# One JSON-RPC caller for the sandbox's tests: test_odoo_sandbox's.
ok = result


def error(
    odoo: RunningSandbox,
    model: str,
    method: str,
    args: list[Any],
    kwargs: dict[str, Any] | None = None,
) -> tuple[str, str]:
    answer = call(odoo, model, method, args, kwargs)
    assert "error" in answer, answer
    return answer["error"]["data"]["name"], answer["error"]["data"]["message"]


def second_company(odoo: RunningSandbox) -> int:
    partner = ok(
        odoo, "res.partner", "create", [{"name": "Northwind Advisory Ltd", "is_company": True}]
    )
    return int(
        ok(
            odoo,
            "res.company",
            "create",
            [{"name": "Northwind Advisory Ltd", "partner_id": partner}],
        )
    )


def test_expense_without_company_of_an_employee_of_another_company_is_refused(
    odoo: RunningSandbox,
) -> None:
    """expense_company_mismatch.json #3/#4."""
    company = second_company(odoo)
    employee = ok(odoo, "hr.employee", "create", [{"name": "Ben Schmidt", "company_id": company}])
    product = ok(odoo, "product.product", "create", [{"name": "Meals", "type": "service"}])
    vals = {
        "name": "meals probe",
        "employee_id": employee,
        "product_id": product,
        "total_amount_currency": 42.0,
        "date": "2026-12-02",
    }
    name, message = error(odoo, "hr.expense", "create", [vals])
    assert name == "odoo.exceptions.UserError"
    assert message == (
        "Incompatible companies on records:\n- \u201cmeals probe\u201d belongs to "
        "company \u201cMy Company\u201d and \u201cEmployee\u201d (employee_id: "
        "'Ben Schmidt') belongs to another company."
    )
    expense = ok(odoo, "hr.expense", "create", [{**vals, "company_id": company}])
    assert (
        ok(odoo, "hr.expense", "read", [[expense], ["company_id"]])[0]["company_id"][0] == company
    )


def test_tax_on_a_tax_group_of_another_country_is_refused(odoo: RunningSandbox) -> None:
    """tax_group_country_mismatch.json #4: group 1 is the US company's."""
    group = ok(odoo, "account.tax.group", "read", [[1], ["country_id"]])[0]
    assert group["country_id"][0] == 233
    britain = ok(odoo, "res.country", "create", [{"name": "United Kingdom", "code": "GB"}])
    name, message = error(
        odoo,
        "account.tax",
        "create",
        [
            {
                "name": "Probe VAT",
                "amount": 20.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "country_id": britain,
                "tax_group_id": 1,
            }
        ],
    )
    assert (name, message) == (
        "odoo.exceptions.ValidationError",
        "The tax group must have the same country_id as the tax using it.",
    )
    assert ok(
        odoo,
        "account.tax",
        "create",
        [
            {
                "name": "Probe US",
                "amount": 20.0,
                "amount_type": "percent",
                "type_tax_use": "sale",
                "country_id": 233,
                "tax_group_id": 1,
            }
        ],
    )


def test_concurrent_load_conflict_is_reported_inside_the_load_result(odoo: RunningSandbox) -> None:
    """load_concurrent_same_external_id.json #2: the serialization failure is in `messages`."""
    state = httpx.post(f"{odoo.url}/sandbox/control", json={"load_conflicts": 1}).json()
    assert state["load_conflicts"] == 1
    row = [["handoff_probe.race_0", "Race 0", "1"]]
    answer = ok(odoo, "res.partner", "load", [["id", "name", "is_company"], row])
    assert answer == {
        "ids": False,
        "nextrow": 0,
        "messages": [
            {
                "rows": {"from": 0, "to": 0},
                "record": 0,
                "type": "error",
                "message": "could not serialize access due to concurrent update\n",
            }
        ],
    }
    again = ok(odoo, "res.partner", "load", [["id", "name", "is_company"], row])
    assert again["messages"] == [] and len(again["ids"]) == 1


def test_load_reports_bad_cells_with_their_field(odoo: RunningSandbox) -> None:
    """external_ids.json #21/#22/#24."""
    answer = ok(
        odoo,
        "res.partner",
        "load",
        [["id", "name", "is_company"], [["x.bad_bool", "Bad Bool Inc", "maybe"]]],
    )
    assert answer["ids"] is False
    assert answer["messages"] == [
        {
            "rows": {"from": 0, "to": 0},
            "type": "error",
            "record": 0,
            "field": "is_company",
            "message": "Unknown value 'maybe' for boolean field 'Is a Company'",
            "moreinfo": "Use '1' for yes and '0' for no",
            "field_name": "Is a Company",
        }
    ]
    name, message = error(
        odoo,
        "res.partner",
        "load",
        [["id", "name", "is_company"], [["x.json_bool", "Json Bool", True]]],
    )
    assert (name, message) == ("builtins.AttributeError", "'bool' object has no attribute 'lower'")
    rows = [
        ["x.good", "Good", "company"],
        ["x.bad", "Bad", "bogus"],
        ["x.good2", "Good2", "company"],
    ]
    answer = ok(odoo, "res.partner", "load", [["id", "name", "company_type"], rows])
    assert answer["ids"] is False and [m["record"] for m in answer["messages"]] == [1]
    assert ok(odoo, "res.partner", "search_count", [[["name", "in", ["Good", "Good2"]]]]) == 0


def test_invoiced_timesheets_cannot_change_hours_or_be_deleted(odoo: RunningSandbox) -> None:
    """timesheet_approval_and_billing_state.json #23/#24/#28."""
    product = ok(
        odoo,
        "product.product",
        "create",
        [
            {
                "name": "Consulting",
                "type": "service",
                "invoice_policy": "delivery",
                "service_type": "timesheet",
                "service_tracking": "task_in_project",
                "list_price": 100.0,
                "uom_id": 4,
                "uom_po_id": 4,
            }
        ],
    )
    partner = ok(odoo, "res.partner", "create", [{"name": "Tailspin"}])
    order = ok(
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
    ok(odoo, "sale.order", "action_confirm", [[order]])
    task = ok(odoo, "project.task", "search", [[["sale_order_id", "=", order]]])[0]
    sheet = ok(
        odoo,
        "account.analytic.line",
        "create",
        [{"task_id": task, "employee_id": 1, "name": "Workshop", "unit_amount": 2.0}],
    )
    context = {"active_model": "sale.order", "active_ids": [order], "active_id": order}
    wizard = ok(
        odoo,
        "sale.advance.payment.inv",
        "create",
        [{"advance_payment_method": "delivered"}],
        {"context": context},
    )
    ok(odoo, "sale.advance.payment.inv", "create_invoices", [[wizard]], {"context": context})
    line = ok(
        odoo,
        "account.analytic.line",
        "read",
        [[sheet], ["timesheet_invoice_id", "readonly_timesheet"]],
    )[0]
    assert line["readonly_timesheet"] is True
    assert line["timesheet_invoice_id"][1] == "Draft Invoice"
    assert error(odoo, "account.analytic.line", "write", [[sheet], {"unit_amount": 3.0}]) == (
        "odoo.exceptions.UserError",
        "You cannot modify timesheets that are already invoiced.",
    )
    assert ok(odoo, "account.analytic.line", "write", [[sheet], {"name": "Workshop - notes"}])
    ok(odoo, "account.move", "action_post", [[line["timesheet_invoice_id"][0]]])
    assert error(odoo, "account.analytic.line", "unlink", [[sheet]]) == (
        "odoo.exceptions.UserError",
        "You cannot remove a timesheet that has already been invoiced.",
    )
    counts = ok(
        odoo,
        "account.move",
        "read",
        [[line["timesheet_invoice_id"][0]], ["timesheet_count", "timesheet_total_duration"]],
    )
    assert (counts[0]["timesheet_count"], counts[0]["timesheet_total_duration"]) == (1, 2)


def test_public_reads_modules_copy_data_and_seeded_partners(odoo: RunningSandbox) -> None:
    """company_required_field_from_localisation.json #1-#3, hub review: copy_data, autopost_bills."""
    modules = ok(
        odoo,
        "ir.module.module",
        "search_read",
        [[["name", "in", ["account_peppol", "l10n_uk", "timesheet_grid"]]]],
        {"fields": ["name", "state"]},
    )
    assert [(m["name"], m["state"]) for m in modules] == [
        ("timesheet_grid", "uninstallable"),
        ("account_peppol", "installed"),
        ("l10n_uk", "installed"),
    ]
    assert ok(odoo, "res.company", "default_get", [["account_peppol_proxy_state"]]) == {
        "account_peppol_proxy_state": "not_registered"
    }
    field = ok(
        odoo,
        "res.company",
        "fields_get",
        [["account_peppol_proxy_state"]],
        {"attributes": ["required", "type"]},
    )
    assert field == {"account_peppol_proxy_state": {"required": True, "type": "selection"}}
    partners = ok(
        odoo,
        "res.partner",
        "search_read",
        [[["id", "in", [1, 3]]]],
        {"fields": ["autopost_bills"], "context": {"active_test": False}},
    )
    assert {p["autopost_bills"] for p in partners} == {"ask"}
    copied = ok(odoo, "res.partner", "copy_data", [[3]])
    assert copied[0]["name"] == "Administrator" and "id" not in copied[0]
    assert ok(odoo, "res.users", "has_group", [[2], "base.group_user"]) is True
    assert ok(odoo, "res.users", "has_group", [[2], "project.group_project_milestone"]) is False


def test_ir_model_fields_describes_the_schema_as_odoo_does() -> None:
    """Third-party connectors discover fields through ir.model.fields (real Odoo 18 answers
    ``[{name: 'email', ttype: 'char', model_id: [87, 'Contact']}, ...]``)."""
    with (
        running_odoo_sandbox() as sandbox,
        OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client,
    ):
        rows = client.execute_kw(
            "ir.model.fields", "search_read",
            [[["model", "=", "res.partner"], ["name", "in", ["name", "email", "parent_id"]]]],
            {"fields": ["name", "ttype", "relation", "model_id"], "order": "name"},
        )  # fmt: skip
    assert [(r["name"], r["ttype"], r["relation"]) for r in rows] == [
        ("email", "char", False),
        ("name", "char", False),
        ("parent_id", "many2one", "res.partner"),
    ]
    assert {r["model_id"][1] for r in rows} == {"Contact"}
