"""Expenses in a multi-company firm: an expense of a deal delivered from a company other than the
API user's current one is created in the order's company (real Odoo refuses an hr.expense whose
employee or order belongs to another company: expense_company_mismatch.json). Over real HTTP:
signed webhook -> hub API -> durable flow -> Odoo sandbox."""

from __future__ import annotations

from typing import Any

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.connectors.odoo.quote_to_cash import OrderLineIn, SaleOrderIn
from support.waiting import wait_for
from timesheets.desk import Desk

NORTHWIND_DEAL = "hubspot:deal:5150"


def _northwind_deal(desk: Desk) -> dict[str, Any]:
    """A second company with its own consultant, and a deal delivered from it."""
    # (Real Odoo creates the company's partner itself; the sandbox wants it given.)
    company_partner = desk.odoo.create(
        "res.partner", {"name": "Northwind Advisory Ltd", "is_company": True}
    )
    company = desk.odoo.create(
        "res.company", {"name": "Northwind Advisory Ltd", "partner_id": company_partner}
    )
    product = desk.odoo.create(
        "product.product",
        {
            "name": "Advisory hour",
            "default_code": "SVC-NW",
            "list_price": 200.0,
            **required_product_setup(BillingModel.TIME_AND_MATERIALS),
        },
    )
    desk.odoo.create(
        "product.product",
        {
            "name": "Meals",
            "default_code": "MEALS",
            "type": "service",
            "can_be_expensed": True,
            "expense_policy": "cost",
            "list_price": 0.0,
        },
    )
    partner = desk.odoo.create("res.partner", {"name": "Fabrikam GmbH", "is_company": True})
    order = desk.q2c.create_sale_order(
        SaleOrderIn(
            reference="hubspot:5150",
            partner_id=partner,
            company_id=company,
            lines=[OrderLineIn(product_id=product, quantity=10, price_unit=200)],
        )
    )
    [project_id] = order.project_ids
    employee = desk.odoo.create(
        "hr.employee",
        {"name": "Ben Schmidt", "work_email": "ben@northwind.example", "company_id": company},
    )
    desk.hub.bindings.bind(
        "odoo",
        "sale.order",
        str(order.order_id),
        canonical_type="deal",
        canonical_id=NORTHWIND_DEAL,
    )
    desk.hub.bindings.bind(
        "odoo",
        "project.project",
        str(project_id),
        canonical_type="deal",
        canonical_id=NORTHWIND_DEAL,
    )
    return {"company": company, "order": order.order_id, "employee": employee}


def test_an_expense_of_a_deal_of_another_company_is_created_in_that_company(desk: Desk) -> None:
    northwind = _northwind_deal(desk)
    [user_company] = desk.odoo.read("res.users", [2], ["company_id"])  # admin, the API user
    assert user_company["company_id"][0] != northwind["company"]  # not the user's current one
    expense = {
        "kind": "expense",
        "source_id": "NW-E-1",
        "consultant": "ben@northwind.example",
        "deal_ref": NORTHWIND_DEAL,
        "date": "2026-12-02",
        "amount": "42.00",
        "currency": "USD",
        "category": "MEALS",
        "approval": "approved",
        "billable": True,
        "description": "Client dinner",
    }
    assert desk.post([expense]).status_code == 202
    wait_for(desk.settled(1), timeout=60, what="the expense flow")
    assert [(x.rule, x.message) for x in desk.hub.exceptions.list()] == []
    [row] = desk.odoo.search_read(
        "hr.expense",
        [["name", "=", "Client dinner"]],
        ["company_id", "employee_id", "sale_order_id", "total_amount_currency"],
    )
    assert row["company_id"][0] == northwind["company"]
    assert row["employee_id"][0] == northwind["employee"]
    assert row["sale_order_id"][0] == northwind["order"]
    assert row["total_amount_currency"] == 42.0


def test_a_consultant_of_another_company_is_a_readable_exception_then_their_own_employee(
    desk: Desk,
) -> None:
    """Ada is an employee of My Company only: her expense on the Northwind deal is refused with
    what to do; once Northwind has an employee for her, the retry uses that one."""
    from handoff import services

    northwind = _northwind_deal(desk)
    expense = {
        "kind": "expense",
        "source_id": "NW-E-2",
        "consultant": "ada@firm.example",
        "deal_ref": NORTHWIND_DEAL,
        "date": "2026-12-03",
        "amount": "18.50",
        "currency": "USD",
        "category": "MEALS",
        "approval": "approved",
        "billable": True,
        "description": "Taxi",
    }
    assert desk.post([expense]).status_code == 202
    wait_for(desk.settled(1), timeout=60, what="the expense flow")
    [record] = desk.hub.exceptions.list()
    assert record.rule == "employee_company_mismatch"
    assert "ada@firm.example" in record.message and "employee" in (record.suggested_fix or "")
    assert desk.odoo.search_read("hr.expense", [["name", "=", "Taxi"]], ["id"]) == []

    ada_northwind = desk.odoo.create(
        "hr.employee",
        {
            "name": "Ada Lovelace",
            "work_email": "ada@firm.example",
            "company_id": northwind["company"],
        },
    )
    services.retry_exception(desk.hub, record.id)
    wait_for(
        lambda: desk.hub.exceptions.get(record.id).status == "resolved",  # type: ignore[union-attr]
        timeout=60,
        what="the retried expense",
    )
    [row] = desk.odoo.search_read(
        "hr.expense", [["name", "=", "Taxi"]], ["company_id", "employee_id"]
    )
    assert (row["company_id"][0], row["employee_id"][0]) == (northwind["company"], ada_northwind)
