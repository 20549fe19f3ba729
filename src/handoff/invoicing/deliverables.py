"""What Odoo says is deliverable for one bound order: its lines with Odoo's delivered / invoiced /
to-invoice quantities, the timesheets logged on them, the project's milestones. Read-only."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from handoff.billing.units import ODOO19_HOURS, ODOO_HOURS, TimeConversion, Uom
from handoff.connectors.odoo.adapter import OdooAdapter

LINE_FIELDS = [
    "name",
    "product_id",
    "product_uom_qty",
    "price_unit",
    "discount",
    "qty_delivered",
    "qty_invoiced",
    "qty_to_invoice",
    "qty_delivered_method",
    "is_downpayment",
    "display_type",
    "product_uom",
    "is_expense",
]
TIMESHEET_FIELDS = [
    "date",
    "unit_amount",
    "employee_id",
    "name",
    "so_line",
    "project_id",
    "timesheet_invoice_id",
    "product_uom_id",
]
# How a unit is read, per Odoo series (see handoff.billing.units). 18: its category, its factor
# (units per reference unit) and its own rounding. 19 (no categories): what 19's
# uom.uom._compute_quantity and _has_common_reference read: the stored factor (size in the root
# unit, _compute_factor over relative_factor / relative_uom_id), the computed rounding (precision
# 'Product Unit') and parent_path (its first id is the root).
UOM_FIELDS = ["name", "category_id", "factor", "rounding"]
UOM_FIELDS_19 = ["name", "factor", "rounding", "parent_path"]
MILESTONE_FIELDS = ["name", "is_reached", "reached_date", "sale_line_id", "quantity_percentage"]
# An expense re-invoiced on the order: its amount in the currency it was paid in, and in the
# company's currency as Odoo converted it (hr.expense: total_amount_currency -> total_amount).
EXPENSE_FIELDS = [
    "name",
    "date",
    "employee_id",
    "product_id",
    "quantity",
    "company_id",
    "currency_id",
    "total_amount_currency",
    "untaxed_amount_currency",
    "total_amount",
    "tax_amount",
]


def decimal(value: Any) -> Decimal:
    # Odoo answers floats; their shortest repr is the stored value.
    return Decimal(repr(float(value or 0)))


def m2o(value: Any) -> tuple[int | None, str | None]:
    if isinstance(value, list | tuple) and value:
        return int(value[0]), str(value[1]) if len(value) > 1 else None
    return None, None


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrderLine(_Model):
    id: int
    name: str
    product_id: int | None
    quantity: Decimal
    price_unit: Decimal
    discount: Decimal
    delivered: Decimal
    invoiced: Decimal
    to_invoice: Decimal
    method: str  # qty_delivered_method: timesheet / milestones / manual / analytic
    is_expense: bool = False  # a re-invoiced expense (sale_expense)
    unit: Uom | None = Field(
        default=None,
        description="The unit the line is sold in (product_uom): its quantities "
        "and price are per this unit.",
    )

    @property
    def net_price(self) -> Decimal:
        return self.price_unit * (100 - self.discount) / 100


class Timesheet(_Model):
    id: int
    date: date
    hours: Decimal
    consultant: str
    description: str
    line_id: int | None
    unit: Uom = Field(
        default=ODOO_HOURS,
        description="The unit unit_amount is in (product_uom_id: the company's project time "
        "unit, Hours unless changed).",
    )
    invoice_id: int | None = Field(
        default=None,
        description="The invoice holding it in Odoo (timesheet_invoice_id), unless that invoice "
        "was cancelled or reversed: Odoo's wizard invoices it again then.",
    )

    @property
    def key(self) -> str:
        return f"time:odoo:{self.id}"

    def conversion(self, line: OrderLine) -> TimeConversion | None:
        """How Odoo turns this timesheet into the line's quantity; None: as logged (same unit,
        or a line without a unit)."""
        if line.unit is None or line.unit.id == self.unit.id:
            return None
        return TimeConversion(source=self.unit, target=line.unit)


class ProjectMilestone(_Model):
    id: int
    name: str
    reached: bool
    reached_on: date | None
    line_id: int | None
    share: Decimal


class CurrencyConversion(_Model):
    """One conversion Odoo made on the way to the order's currency, with Odoo's own figures:
    ``amount`` is what Odoo computed (never recomputed here), ``rate`` Odoo's rate of
    ``rate_date`` (units of ``currency`` per unit of ``source_currency``, res.currency's
    ``inverse_rate`` read for that day)."""

    source_amount: Decimal
    source_currency: str
    amount: Decimal
    currency: str
    rate: Decimal
    rate_date: date
    rate_found: bool = Field(
        default=True,
        description="Odoo has a rate of the foreign currency on or before rate_date; without "
        "one it converted at its oldest rate or at 1, and says nothing.",
    )
    missing_currency: str | None = Field(
        default=None, description="The currency whose rate Odoo lacks, when rate_found is False."
    )
    slack: Decimal = Field(
        default=Decimal("0.01"),
        description="How far Odoo's rounding may take amount from source x rate (a unit price "
        "rounded, then multiplied by the quantity).",
    )

    @property
    def applied_rate(self) -> Decimal:
        """What the amounts say Odoo applied (a person may set an expense's total by hand)."""
        return self.amount / self.source_amount if self.source_amount else Decimal(0)

    @property
    def at_odoo_rate(self) -> bool:
        """``amount`` is the source at Odoo's rate, within the rounding of one step."""
        expected = self.source_amount * self.rate
        return abs(expected - self.amount) <= self.slack * max(Decimal(1), abs(self.rate))

    def text(self) -> str:
        """ "10.00 USD → 9.23 EUR at 0.923 (Odoo rate of 2026-11-30)"."""
        rate = _rate_text(self.rate)
        head = (
            f"{self.source_amount:.2f} {self.source_currency} → {self.amount:.2f} {self.currency}"
        )
        if not self.rate_found:
            return (
                f"{head} at {rate}: Odoo has no {self.missing_currency} rate on or before "
                f"{self.rate_date}"
            )
        if not self.at_odoo_rate:
            return (
                f"{head} at {_rate_text(self.applied_rate)} (set in Odoo; its rate of "
                f"{self.rate_date} is {rate})"
            )
        return f"{head} at {rate} (Odoo rate of {self.rate_date})"


def _rate_text(rate: Decimal) -> str:
    """A rate as Odoo labels it (six decimals), without trailing zeros."""
    return f"{rate.quantize(Decimal('0.000001')).normalize():f}"


class ExpenseCost(_Model):
    """An expense Odoo re-invoices on one of the order's lines, and how its amount reached the
    order's currency (no conversions: paid in the order's currency)."""

    expense_id: int
    name: str
    date: date | None
    line_id: int
    amount: Decimal = Field(description="Untaxed, in the currency it was paid in.")
    currency: str
    conversions: list[CurrencyConversion] = Field(default_factory=list)

    @property
    def key(self) -> str:
        return f"expense:odoo:{self.expense_id}"


class OrderDeliverables(_Model):
    order_id: int
    order_name: str
    state: str
    partner_id: int | None
    currency: str
    invoice_ids: list[int]
    project_ids: list[int]
    lines: list[OrderLine]
    timesheets: list[Timesheet] = Field(default_factory=list)
    milestones: list[ProjectMilestone] = Field(default_factory=list)
    expenses: list[ExpenseCost] = Field(default_factory=list)

    def line(self, line_id: int) -> OrderLine | None:
        return next((line for line in self.lines if line.id == line_id), None)


def _date(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _holding_invoices(odoo: OdooAdapter, invoice_ids: set[int | None]) -> set[int]:
    """The invoices that still hold their timesheets (sale_timesheet's
    ``_timesheet_domain_get_invoiced_lines``: not cancelled, not reversed)."""
    wanted = sorted(i for i in invoice_ids if i is not None)
    if not wanted:
        return set()
    rows = odoo.read("account.move", wanted, ["state", "payment_state"])
    return {
        row["id"] for row in rows if row["state"] != "cancel" and row["payment_state"] != "reversed"
    }


def uom_fields(series: int) -> list[str]:
    """The ``uom.uom`` fields a unit is read with on a server of major version ``series``."""
    return UOM_FIELDS_19 if series >= 19 else UOM_FIELDS


def uom_from_row(row: dict[str, Any], series: int) -> Uom:
    """A ``uom.uom`` row read with :func:`uom_fields` as the billing engine's unit."""
    if series < 19:
        return Uom(
            id=row["id"],
            name=str(row["name"]),
            category_id=m2o(row["category_id"])[0] or 0,
            factor=float(row["factor"]),
            rounding=float(row["rounding"] or 0.01),
        )
    path = str(row.get("parent_path") or "")
    root = path.split("/")[0]
    if not root.isdigit():
        raise ValueError(f"uom.uom {row['id']} ({row['name']}) has no parent_path: {path!r}")
    return Uom(
        id=row["id"],
        name=str(row["name"]),
        category_id=int(root),
        factor=float(row["factor"]),
        rounding=float(row["rounding"]),
        series=19,
    )


def hours_unit(series: int) -> Uom:
    """The unit a timesheet without ``product_uom_id`` is taken to be in."""
    return ODOO19_HOURS if series >= 19 else ODOO_HOURS


def _series(odoo: OdooAdapter) -> int:
    return odoo.client.version().major


def _units(odoo: OdooAdapter, ids: set[int | None], series: int) -> dict[int, Uom]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    return {
        row["id"]: uom_from_row(row, series)
        for row in odoo.read("uom.uom", wanted, uom_fields(series))
    }


def read_deliverables(odoo: OdooAdapter, order_id: int) -> OrderDeliverables:
    [order] = odoo.read(
        "sale.order",
        [order_id],
        [
            "name",
            "state",
            "partner_id",
            "currency_id",
            "invoice_ids",
            "order_line",
            "company_id",
            "date_order",
        ],
    )
    rows = odoo.read("sale.order.line", list(order["order_line"]), LINE_FIELDS)
    projects = odoo.search_read(
        "project.project", [["sale_order_id", "=", order_id]], ["id"], order="id asc"
    )
    project_ids = [row["id"] for row in projects]
    sheet_rows: list[dict[str, Any]] = []
    if project_ids:
        sheet_rows = odoo.search_read(
            "account.analytic.line",
            [["project_id", "in", project_ids]],
            TIMESHEET_FIELDS,
            order="date asc, id asc",
        )
    series = _series(odoo)
    units = _units(
        odoo,
        {m2o(row.get("product_uom"))[0] for row in rows}
        | {m2o(row.get("product_uom_id"))[0] for row in sheet_rows},
        series,
    )
    lines = [
        OrderLine(
            id=row["id"],
            name=row["name"] or "",
            product_id=m2o(row["product_id"])[0],
            quantity=decimal(row["product_uom_qty"]),
            price_unit=decimal(row["price_unit"]),
            discount=decimal(row.get("discount")),
            delivered=decimal(row["qty_delivered"]),
            invoiced=decimal(row["qty_invoiced"]),
            to_invoice=decimal(row["qty_to_invoice"]),
            method=row.get("qty_delivered_method") or "manual",
            unit=units.get(m2o(row.get("product_uom"))[0] or 0),
            is_expense=bool(row.get("is_expense")),
        )
        for row in rows
        if not row.get("is_downpayment") and not row.get("display_type")
    ]
    timesheets: list[Timesheet] = []
    milestones: list[ProjectMilestone] = []
    if project_ids:
        holding = _holding_invoices(
            odoo, {m2o(r.get("timesheet_invoice_id"))[0] for r in sheet_rows}
        )
        for row in sheet_rows:
            invoice_id = m2o(row.get("timesheet_invoice_id"))[0]
            timesheets.append(
                Timesheet(
                    id=row["id"],
                    date=_date(row["date"]) or date.min,
                    hours=decimal(row["unit_amount"]),
                    consultant=m2o(row["employee_id"])[1] or "unknown",
                    description=row.get("name") or "",
                    line_id=m2o(row["so_line"])[0],
                    unit=units.get(m2o(row.get("product_uom_id"))[0] or 0, hours_unit(series)),
                    invoice_id=invoice_id if invoice_id in holding else None,
                )
            )
        for row in odoo.search_read(
            "project.milestone",
            [["project_id", "in", project_ids]],
            MILESTONE_FIELDS,
            order="id asc",
        ):
            milestones.append(
                ProjectMilestone(
                    id=row["id"],
                    name=row["name"],
                    reached=bool(row["is_reached"]),
                    reached_on=_date(row.get("reached_date")),
                    line_id=m2o(row["sale_line_id"])[0],
                    share=decimal(row.get("quantity_percentage")),
                )
            )
    expense_lines = [line for line in lines if line.is_expense]
    expenses = read_expense_costs(odoo, order, expense_lines) if expense_lines else []
    return OrderDeliverables(
        order_id=order_id,
        order_name=order["name"],
        state=order["state"],
        partner_id=m2o(order["partner_id"])[0],
        currency=(m2o(order["currency_id"])[1] or "USD").upper(),
        invoice_ids=list(order["invoice_ids"]),
        project_ids=project_ids,
        lines=lines,
        timesheets=timesheets,
        milestones=milestones,
        expenses=expenses,
    )


# --- re-invoiced expenses and their currencies ---------------------------------------------------


def read_expense_costs(
    odoo: OdooAdapter, order: dict[str, Any], lines: list[OrderLine]
) -> list[ExpenseCost]:
    """The order's re-invoiced expenses, each matched to its line, with every conversion Odoo
    made (sale_expense, verified on a real 18): the expense into its company's currency at the
    rate of the expense's date (hr.expense total_amount), then, when the order is in another
    currency, the cost per unit into it at the rate of the order's date (the line's price_unit).
    Amounts are Odoo's; rates are read from Odoo for those days."""
    rows = odoo.search_read(
        "hr.expense", [["sale_order_id", "=", order["id"]]], EXPENSE_FIELDS, order="id asc"
    )
    order_company = m2o(order.get("company_id"))[0] or 1
    companies = sorted({m2o(r["company_id"])[0] or order_company for r in rows} | {order_company})
    company_rows = {
        r["id"]: r for r in odoo.read("res.company", companies, ["currency_id", "root_id"])
    }
    order_currency = m2o(order["currency_id"])
    order_day = _date(order.get("date_order")) or date.today()
    rates = _RateBook(odoo, company_rows)
    free = list(lines)
    costs: list[ExpenseCost] = []
    for row in rows:
        line = _matching_line(row, free)
        if line is None:
            continue  # not re-invoiced yet (a real Odoo does it when the report is posted)
        free.remove(line)
        company = m2o(row["company_id"])[0] or order_company
        paid_in = m2o(row["currency_id"])
        own = m2o(company_rows[company]["currency_id"])
        untaxed = decimal(row.get("untaxed_amount_currency") or row["total_amount_currency"])
        in_company = decimal(row["total_amount"]) - decimal(row.get("tax_amount"))
        day = _date(row.get("date"))
        conversions: list[CurrencyConversion] = []
        if paid_in[0] != own[0]:
            conversions.append(
                rates.conversion(untaxed, paid_in, in_company, own, company, day or order_day)
            )
        if own[0] != order_currency[0]:
            conversions.append(
                rates.conversion(
                    in_company,
                    own,
                    line.price_unit * line.quantity,
                    order_currency,
                    order_company,
                    order_day,
                    slack=Decimal("0.01") * max(Decimal(1), line.quantity),
                )
            )
        costs.append(
            ExpenseCost(
                expense_id=row["id"],
                name=str(row["name"] or ""),
                date=day,
                line_id=line.id,
                amount=untaxed,
                currency=(paid_in[1] or "").upper(),
                conversions=conversions,
            )
        )
    return costs


def _matching_line(row: dict[str, Any], lines: list[OrderLine]) -> OrderLine | None:
    """The line Odoo made for the expense: its product, and its name ("<employee>: <first line of
    the expense's name, 64 characters>", hr.expense ``_get_move_line_name``)."""
    name = str(row["name"] or "")
    employee = m2o(row.get("employee_id"))[1] or ""
    names = {name, f"{employee}: {name.splitlines()[0][:64] if name else ''}"}
    product = m2o(row.get("product_id"))[0]
    return next(
        (line for line in lines if line.name in names and line.product_id in (product, None)),
        None,
    )


class _RateBook:
    """Odoo's rates for the days the order's conversions happened on, read once per day and
    currency pair; and whether Odoo holds a rate at all on or before that day."""

    def __init__(self, odoo: OdooAdapter, companies: dict[int, dict[str, Any]]) -> None:
        self.odoo = odoo
        self.companies = companies
        self._rates: dict[tuple[int, int, int, date], Decimal] = {}
        self._days: dict[tuple[int, int], list[date]] = {}

    def conversion(
        self,
        source_amount: Decimal,
        source: tuple[int | None, str | None],
        amount: Decimal,
        target: tuple[int | None, str | None],
        company: int,
        day: date,
        slack: Decimal = Decimal("0.01"),
    ) -> CurrencyConversion:
        rate = self._rate(source[0] or 0, target[0] or 0, company, day)
        own = m2o(self.companies[company]["currency_id"])[0]
        foreign = [c for c in (source, target) if c[0] != own]
        missing = next((c for c in foreign if not self._has_rate(c[0] or 0, company, day)), None)
        return CurrencyConversion(
            source_amount=source_amount,
            source_currency=(source[1] or "").upper(),
            amount=amount,
            currency=(target[1] or "").upper(),
            rate=rate,
            rate_date=day,
            rate_found=missing is None,
            missing_currency=None if missing is None else (missing[1] or "").upper(),
            slack=slack,
        )

    def _rate(self, source: int, target: int, company: int, day: date) -> Decimal:
        key = (source, target, company, day)
        if key not in self._rates:
            # res.currency inverse_rate with to_currency and date: _get_conversion_rate.
            [row] = self.odoo.read(
                "res.currency",
                [source],
                ["inverse_rate"],
                context={
                    "date": day.isoformat(),
                    "to_currency": target,
                    "allowed_company_ids": [company],
                },
            )
            self._rates[key] = decimal(row["inverse_rate"])
        return self._rates[key]

    def _has_rate(self, currency: int, company: int, day: date) -> bool:
        root = m2o(self.companies[company].get("root_id"))[0] or company
        key = (currency, root)
        if key not in self._days:
            rows = self.odoo.search_read(
                "res.currency.rate",
                [["currency_id", "=", currency], ["company_id", "in", [False, root]]],
                ["name", "rate"],
            )
            self._days[key] = [d for r in rows if r["rate"] and (d := _date(r["name"]))]
        return any(found <= day for found in self._days[key])
