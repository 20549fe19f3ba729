"""Currency rates and the conversions Odoo 18 makes with them (issue 10, defect 5), as a real
Odoo 18 server answered them (checked on a copy of psa_template on 2026-12-06; the same module
runs against one: HANDOFF_TEST_ODOO_*).

- ``res.currency.rate.rate`` = units of the currency per unit of the company's currency; the rate
  of a day is the company's own newest on or before it (a rate of no company only when the
  company has none), else the currency's *oldest* rate, else 1: Odoo never refuses to convert.
- hr.expense: ``total_amount`` (company currency) = ``total_amount_currency`` x the rate of the
  expense's date, rounded; reading ``currency_rate`` gives total / total in currency back.
  Writing ``currency_id`` converts again; ``total_amount_currency`` alone leaves 0.
- The re-invoiced sale line at cost: the company-currency cost converted into the order's
  currency at the order's date (confirmation: now), rounded to the order's currency.

Each run uses a currency of its own (a fresh 3-letter code), so a live database's earlier rates
never change what it sees.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from collections.abc import Iterator
from typing import Any

import pytest

from contract.odoo.conftest import live_or_sandbox_adapter, live_target
from handoff.connectors.odoo import OdooAdapter
from handoff.connectors.odoo.errors import ValidationError
from handoff.invoicing.deliverables import read_deliverables

ADMIN_EMPLOYEE = 1


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooAdapter]:
    with live_or_sandbox_adapter() as adapter:
        yield adapter


@pytest.fixture(scope="module")
def usd(odoo: OdooAdapter) -> int:
    [row] = odoo.read("res.company", [1], ["currency_id"])
    assert row["currency_id"][1] == "USD"
    return int(row["currency_id"][0])


def _fresh_currency(odoo: OdooAdapter) -> int:
    """A currency of this run only (a 3-letter code no currency of the database has)."""
    taken = {
        r["name"]
        for r in odoo.search_read("res.currency", [["active", "in", [True, False]]], ["name"])
    }
    code = next(
        c
        for c in ("Q" + "".join(random.choices(string.ascii_uppercase, k=2)) for _ in range(1000))
        if c not in taken
    )
    return odoo.create("res.currency", {"name": code, "symbol": code, "rounding": 0.01})


@pytest.fixture(scope="module")
def xcu(odoo: OdooAdapter) -> int:
    """A currency of this run, with rates of the company on 11-01 (0.90) and 11-30 (0.923) and a
    rate of no company on 12-01 (0.95)."""
    currency = _fresh_currency(odoo)
    odoo.create_many(
        "res.currency.rate",
        [
            {"currency_id": currency, "name": "2026-11-01", "rate": 0.90},
            {"currency_id": currency, "name": "2026-11-30", "rate": 0.923},
            {"currency_id": currency, "name": "2026-12-01", "rate": 0.95, "company_id": False},
        ],
    )
    return currency


def _rate(odoo: OdooAdapter, currency: int, to: int, day: str) -> dict[str, Any]:
    [row] = odoo.read(
        "res.currency",
        [currency],
        ["rate", "inverse_rate"],
        context={"date": day, "to_currency": to},
    )
    return row


def test_the_rate_of_a_day_is_the_companys_newest_else_the_oldest(
    odoo: OdooAdapter, usd: int, xcu: int
) -> None:
    # The company's 11-30 rate wins over the newer rate of no company.
    assert _rate(odoo, xcu, usd, "2026-12-02")["rate"] == pytest.approx(0.923)
    assert _rate(odoo, usd, xcu, "2026-12-02")["inverse_rate"] == pytest.approx(0.923)
    assert _rate(odoo, xcu, usd, "2026-11-29")["rate"] == pytest.approx(0.90)
    # Before any rate: the oldest one, not 1 and not an error.
    assert _rate(odoo, xcu, usd, "2026-10-01")["rate"] == pytest.approx(0.90)
    rows = odoo.search_read(
        "res.currency.rate",
        [["currency_id", "=", xcu]],
        ["name", "rate", "company_id", "company_rate"],
        order="name asc",
    )
    assert [(r["name"], r["rate"], r["company_id"] and r["company_id"][0]) for r in rows] == [
        ("2026-11-01", 0.90, 1),
        ("2026-11-30", 0.923, 1),
        ("2026-12-01", 0.95, False),
    ]
    assert [r["company_rate"] for r in rows] == pytest.approx([0.90, 0.923, 0.95])


def test_one_positive_rate_per_day(odoo: OdooAdapter, xcu: int) -> None:
    with pytest.raises(ValidationError, match="Only one currency rate per day allowed!"):
        odoo.create("res.currency.rate", {"currency_id": xcu, "name": "2026-11-30", "rate": 1.0})
    with pytest.raises(ValidationError, match=r"The currency rate must be strictly positive\."):
        odoo.create("res.currency.rate", {"currency_id": xcu, "name": "2026-11-02", "rate": 0})


@pytest.fixture(scope="module")
def travel(odoo: OdooAdapter) -> int:
    template = odoo.create("product.template", {
        "name": "Travel at cost (currency test)", "type": "service", "can_be_expensed": True,
        "expense_policy": "cost", "invoice_policy": "delivery", "standard_price": 0.0,
        "supplier_taxes_id": [[6, 0, []]], "taxes_id": [[6, 0, []]]})  # fmt: skip
    [row] = odoo.read("product.template", [template], ["product_variant_id"])
    return int(row["product_variant_id"][0])


EXPENSE_FIELDS = [
    "total_amount_currency",
    "total_amount",
    "price_unit",
    "currency_rate",
    "label_currency_rate",
    "is_multiple_currency",
    "untaxed_amount_currency",
]


def test_an_expense_is_converted_into_the_company_currency_at_its_dates_rate(
    odoo: OdooAdapter, xcu: int, travel: int
) -> None:
    expense = odoo.create(
        "hr.expense",
        {
            "name": "Taxi",
            "product_id": travel,
            "employee_id": ADMIN_EMPLOYEE,
            "total_amount_currency": 100.0,
            "currency_id": xcu,
            "date": "2026-11-30",
        },
    )
    [row] = odoo.read("hr.expense", [expense], EXPENSE_FIELDS)
    code = odoo.read("res.currency", [xcu], ["name"])[0]["name"]
    # 100 / 0.923 = 108.3423... -> 108.34; the rate reads back as 108.34 / 100.
    assert (row["total_amount"], row["price_unit"], row["currency_rate"]) == (
        108.34,
        108.34,
        1.0834,
    )
    assert row["label_currency_rate"] == f"1 {code} = 1.083400 USD"
    assert row["is_multiple_currency"] is True
    assert row["untaxed_amount_currency"] == 100.0

    odoo.write("hr.expense", [expense], {"total_amount_currency": 100.0})
    assert odoo.read("hr.expense", [expense], ["total_amount"])[0]["total_amount"] == 0.0
    odoo.write("hr.expense", [expense], {"currency_id": xcu, "date": "2026-11-15"})
    assert odoo.read("hr.expense", [expense], ["total_amount"])[0]["total_amount"] == 111.11
    odoo.write("hr.expense", [expense], {"date": "2026-11-30"})
    assert odoo.read("hr.expense", [expense], ["total_amount"])[0]["total_amount"] == 111.11
    odoo.call("hr.expense", "unlink", [[expense]])


def _post_report(odoo: OdooAdapter, expense: int) -> None:
    """A real Odoo re-invoices when the expense report is posted; the sandbox at once."""
    if live_target() is None:
        return
    action = odoo.call("hr.expense", "action_submit_expenses", [[expense]])
    sheet = action["res_id"]
    for method in (
        "action_submit_sheet",
        "action_approve_expense_sheets",
        "action_sheet_move_post",
    ):
        odoo.call("hr.expense.sheet", method, [[sheet]])


def _confirmed_order(odoo: OdooAdapter, currency: int) -> int:
    pricelist = odoo.create("product.pricelist", {"name": "Currency test", "currency_id": currency})
    partner = odoo.create("res.partner", {"name": "Currency test client", "is_company": True})
    order = odoo.create("sale.order", {"partner_id": partner, "pricelist_id": pricelist})
    odoo.call("sale.order", "action_confirm", [[order]])
    return order


@pytest.fixture(scope="module")
def reinvoiced(odoo: OdooAdapter, usd: int, xcu: int, travel: int) -> int:
    """A confirmed order in the run's currency (its pricelist's) with two expenses re-invoiced
    on it: 10 USD of 12-02 and 50 of the run's currency of 11-30."""
    order = _confirmed_order(odoo, xcu)
    in_usd = odoo.create("hr.expense", {
        "name": "Taxi in Boston", "product_id": travel, "employee_id": ADMIN_EMPLOYEE,
        "total_amount_currency": 10.0, "currency_id": usd, "date": "2026-12-02",
        "sale_order_id": order})  # fmt: skip
    in_xcu = odoo.create("hr.expense", {
        "name": "Hotel", "product_id": travel, "employee_id": ADMIN_EMPLOYEE,
        "total_amount_currency": 50.0, "currency_id": xcu, "date": "2026-11-30",
        "sale_order_id": order})  # fmt: skip
    assert odoo.read("hr.expense", [in_xcu], ["total_amount"])[0]["total_amount"] == 54.17
    for expense in (in_usd, in_xcu):
        _post_report(odoo, expense)
    return order


def test_the_reinvoiced_line_converts_the_cost_into_the_orders_currency_at_the_orders_date(
    odoo: OdooAdapter, xcu: int, reinvoiced: int
) -> None:
    [placed] = odoo.read("sale.order", [reinvoiced], ["currency_id", "date_order"])
    assert placed["currency_id"][0] == xcu
    # Confirming dates the order now: that is the day of its rate (0.923 from 11-30 on).
    assert placed["date_order"][:10] == dt.datetime.now(dt.UTC).date().isoformat()
    lines = odoo.search_read(
        "sale.order.line",
        [["order_id", "=", reinvoiced], ["is_expense", "=", True]],
        ["name", "price_unit", "product_uom_qty", "qty_to_invoice", "currency_id"],
        order="id asc",
    )
    assert [(r["name"], r["price_unit"], r["qty_to_invoice"]) for r in lines] == [
        # 10 USD x 0.923 (the order's date)
        ("Administrator: Taxi in Boston", 9.23, 1.0),
        # 50 -> 54.17 USD at the expense's date -> x 0.923 = 49.998... -> 50.00 at the order's
        ("Administrator: Hotel", 50.0, 1.0),
    ]


def test_the_hub_reads_each_conversion_with_odoos_figures_and_rates(
    odoo: OdooAdapter, xcu: int, reinvoiced: int
) -> None:
    """What the invoice proposal shows (handoff.invoicing.deliverables), read from this Odoo."""
    code = odoo.read("res.currency", [xcu], ["name"])[0]["name"]
    today = dt.datetime.now(dt.UTC).date().isoformat()
    found = read_deliverables(odoo, reinvoiced)
    assert [(e.name, [c.text() for c in e.conversions]) for e in found.expenses] == [
        ("Taxi in Boston", [f"10.00 USD → 9.23 {code} at 0.923 (Odoo rate of {today})"]),
        (
            "Hotel",
            [
                f"50.00 {code} → 54.17 USD at 1.083424 (Odoo rate of 2026-11-30)",
                f"54.17 USD → 50.00 {code} at 0.923 (Odoo rate of {today})",
            ],
        ),
    ]
    assert all(c.rate_found and c.at_odoo_rate for e in found.expenses for c in e.conversions)


def test_an_order_currency_without_any_rate_is_converted_at_1_and_the_hub_sees_it(
    odoo: OdooAdapter, usd: int, travel: int
) -> None:
    bare = _fresh_currency(odoo)
    code = odoo.read("res.currency", [bare], ["name"])[0]["name"]
    order = _confirmed_order(odoo, bare)
    expense = odoo.create("hr.expense", {
        "name": "Parking", "product_id": travel, "employee_id": ADMIN_EMPLOYEE,
        "total_amount_currency": 12.5, "currency_id": usd, "date": "2026-12-02",
        "sale_order_id": order})  # fmt: skip
    _post_report(odoo, expense)
    [line] = odoo.search_read(
        "sale.order.line", [["order_id", "=", order], ["is_expense", "=", True]], ["price_unit"]
    )
    assert line["price_unit"] == 12.5  # Odoo's silent 1
    [cost] = read_deliverables(odoo, order).expenses
    [conversion] = cost.conversions
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert (conversion.rate_found, conversion.missing_currency) == (False, code)
    assert conversion.text() == (
        f"12.50 USD → 12.50 {code} at 1: Odoo has no {code} rate on or before {today}"
    )
