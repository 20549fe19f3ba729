"""sale_timesheet's invoicing period in the Odoo sandbox, over JSON-RPC: with
``date_start_invoice_timesheet`` / ``date_end_invoice_timesheet`` on ``sale.advance.payment.inv``
only the uninvoiced timesheets dated in the range are invoiced, and they (only they) get the
invoice in ``timesheet_invoice_id``; the next invoice takes the rest."""

from __future__ import annotations

from typing import Any

from handoff_sandbox.odoo.testing import RunningSandbox
from sandbox.odoo.test_odoo_sandbox import _timesheet_order, call, result


def _confirmed_with_time(
    odoo: RunningSandbox, hours_by_date: list[tuple[str, float]]
) -> tuple[int, list[int]]:
    _, _, order = _timesheet_order(odoo)
    result(odoo, "sale.order", "action_confirm", [[order]])
    project = result(odoo, "project.project", "search", [[["sale_order_id", "=", order]]])[0]
    sheets = result(
        odoo,
        "account.analytic.line",
        "create",
        [
            [
                {
                    "project_id": project,
                    "employee_id": 1,
                    "name": f"work {day}",
                    "unit_amount": hours,
                    "date": day,
                }
                for day, hours in hours_by_date
            ]
        ],
    )
    return order, sheets


def _invoice(odoo: RunningSandbox, order: int, **dates: str) -> dict[str, Any]:
    context = {"context": {"active_model": "sale.order", "active_ids": [order], "active_id": order}}
    wizard = result(
        odoo,
        "sale.advance.payment.inv",
        "create",
        [{"advance_payment_method": "delivered", **dates}],
        context,
    )
    return call(odoo, "sale.advance.payment.inv", "create_invoices", [[wizard]], context)


def _invoiced_by(odoo: RunningSandbox, sheets: list[int]) -> dict[int, int | None]:
    rows = result(odoo, "account.analytic.line", "read", [sheets, ["timesheet_invoice_id"]])
    return {
        r["id"]: r["timesheet_invoice_id"][0] if r["timesheet_invoice_id"] else None for r in rows
    }


def test_an_end_date_invoices_only_the_time_up_to_it_and_the_next_invoice_the_rest(
    odoo: RunningSandbox,
) -> None:
    order, (october, november, december) = _confirmed_with_time(
        odoo, [("2026-10-30", 1.0), ("2026-11-20", 2.5), ("2026-12-02", 4.0)]
    )
    first = _invoice(odoo, order, date_end_invoice_timesheet="2026-11-30")["result"]["res_id"]
    [line] = result(
        odoo,
        "account.move.line",
        "search_read",
        [[["move_id", "=", first], ["display_type", "=", "product"]]],
        {"fields": ["quantity"]},
    )
    assert line["quantity"] == 3.5  # earlier uninvoiced time included, December's waits
    assert _invoiced_by(odoo, [october, november, december]) == {
        october: first,
        november: first,
        december: None,
    }
    [so_line] = result(odoo, "sale.order", "read", [[order], ["order_line"]])[0]["order_line"]
    after = result(
        odoo, "sale.order.line", "read", [[so_line], ["qty_invoiced", "qty_to_invoice"]]
    )[0]
    assert (after["qty_invoiced"], after["qty_to_invoice"]) == (3.5, 4.0)

    second = _invoice(odoo, order)["result"]["res_id"]
    [rest] = result(
        odoo,
        "account.move.line",
        "search_read",
        [[["move_id", "=", second], ["display_type", "=", "product"]]],
        {"fields": ["quantity"]},
    )
    assert rest["quantity"] == 4.0
    assert _invoiced_by(odoo, [october, november, december])[december] == second
    timesheets = result(odoo, "account.move", "read", [[first], ["timesheet_ids"]])[0]
    assert sorted(timesheets["timesheet_ids"]) == sorted([october, november])


def test_a_range_with_no_uninvoiced_time_has_nothing_to_invoice(odoo: RunningSandbox) -> None:
    order, _ = _confirmed_with_time(odoo, [("2026-12-02", 4.0)])
    answer = _invoice(
        odoo,
        order,
        date_start_invoice_timesheet="2026-11-01",
        date_end_invoice_timesheet="2026-11-30",
    )
    assert answer["error"]["data"]["name"] == "odoo.exceptions.UserError"
    assert answer["error"]["data"]["message"].startswith("Cannot create an invoice.")


def test_time_of_a_cancelled_invoice_is_invoiced_again(odoo: RunningSandbox) -> None:
    order, [sheet] = _confirmed_with_time(odoo, [("2026-11-20", 2.0)])
    first = _invoice(odoo, order, date_end_invoice_timesheet="2026-11-30")["result"]["res_id"]
    result(odoo, "account.move", "button_cancel", [[first]])
    again = _invoice(odoo, order, date_end_invoice_timesheet="2026-11-30")["result"]["res_id"]
    assert _invoiced_by(odoo, [sheet]) == {sheet: again}
