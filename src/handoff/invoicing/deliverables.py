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
    method: str  # qty_delivered_method: timesheet / milestones / manual
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
        ["name", "state", "partner_id", "currency_id", "invoice_ids", "order_line"],
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
    )
