"""An expense is booked in Odoo in the currency it was paid in (issue 10, defect 5), and only
when Odoo has a rate to convert it at (it converts at the rate of the expense's date, and
without one silently at its oldest rate or at 1).

The hub never sent ``currency_id``: Odoo booked every expense in the company's currency, so a
10.00 USD expense on a EUR deal became 10.00 EUR. Now the expense carries its res.currency, and a
currency Odoo does not have active is a readable exception (nothing booked). Over real HTTP:
signed webhook -> hub API -> durable flow -> Odoo sandbox.
"""

from __future__ import annotations

from typing import Any

from support.waiting import wait_for
from timesheets.desk import DEAL, Desk, desk

__all__ = ["desk"]


def _expense(
    source_id: str, currency: str, amount: str, description: str, day: str = "2026-12-02"
) -> dict[str, Any]:
    return {
        "kind": "expense",
        "source_id": source_id,
        "consultant": "ada@firm.example",
        "deal_ref": DEAL,
        "date": day,
        "amount": amount,
        "currency": currency,
        "category": "TRAVEL",
        "approval": "approved",
        "description": description,
    }


def test_an_expense_is_booked_in_its_own_currency_and_an_inactive_one_is_refused(
    desk: Desk,
) -> None:
    desk.odoo.create(
        "product.product",
        {
            "name": "Travel",
            "default_code": "TRAVEL",
            "type": "service",
            "can_be_expensed": True,
            "expense_policy": "cost",
            "list_price": 0.0,
        },
    )
    currencies = {
        r["name"]: r["id"]
        for r in desk.odoo.search_read("res.currency", [["active", "in", [True, False]]], ["name"])
    }

    # EUR is not active in this Odoo: the expense waits as an exception saying what to do.
    assert desk.post([_expense("X-1", "EUR", "10.00", "Taxi in Berlin")]).status_code == 202
    wait_for(desk.settled(1), timeout=60, what="the EUR expense flow")
    [problem] = desk.hub.exceptions.list()
    assert problem.rule == "currency_inactive"
    assert "EUR is not active in Odoo" in problem.message
    assert "Activate EUR" in (problem.suggested_fix or "")
    assert desk.odoo.search_read("hr.expense", [], ["name"]) == []

    desk.odoo.write("res.currency", [currencies["EUR"]], {"active": True})
    # 1 USD = 0.923 EUR from 12-01: Odoo books the EUR expense of 12-02 at 25.50 / 0.923 USD.
    desk.odoo.create(
        "res.currency.rate", {"currency_id": currencies["EUR"], "name": "2026-12-01", "rate": 0.923}
    )
    items = [
        _expense("X-2", "USD", "10.00", "Taxi in Boston"),
        _expense("X-3", "EUR", "25.50", "Train in Berlin"),
    ]
    assert desk.post(items).status_code == 202
    wait_for(desk.settled(3), timeout=60, what="the two expense flows")
    rows = desk.odoo.search_read(
        "hr.expense",
        [],
        ["name", "currency_id", "total_amount_currency", "total_amount"],
        order="id asc",
    )
    assert [
        (r["name"], r["currency_id"][0], r["total_amount_currency"], r["total_amount"])
        for r in rows
    ] == [
        ("Taxi in Boston", currencies["USD"], 10.0, 10.0),
        ("Train in Berlin", currencies["EUR"], 25.5, 27.63),
    ]

    # Dated before any EUR rate, Odoo would silently take its oldest rate (or 1): the expense
    # waits as an exception naming the rate to add, nothing booked.
    assert (
        desk.post([_expense("X-4", "EUR", "12.00", "Museum", day="2026-11-20")]).status_code == 202
    )
    wait_for(desk.settled(4), timeout=60, what="the early EUR expense flow")
    [problem] = [e for e in desk.hub.exceptions.list() if e.rule != "currency_inactive"]
    assert problem.rule == "missing_exchange_rate"
    assert "Odoo has no EUR rate on or before 2026-11-20" in problem.message
    assert "Add the EUR rate of 2026-11-20 in Odoo" in (problem.suggested_fix or "")
    assert len(desk.odoo.search_read("hr.expense", [], ["id"])) == 2
