"""Quote-to-cash operations on Odoo 18, each one method, calling exactly what the recorded run did.

The calls, their arguments and their context keys follow ``transcripts/quote_to_cash.json`` (and
the pitfalls it documents): wizards get ``active_model``/``active_ids``/``active_id`` in the
context, the invoice is found through ``sale.order.invoice_ids``, the payment through the invoice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from .adapter import OdooAdapter, UpsertResult
from .errors import UserError

INVOICE_READ_FIELDS = [
    "name",
    "move_type",
    "state",
    "partner_id",
    "amount_total",
    "amount_residual",
    "payment_state",
    "invoice_origin",
]


def active_context(model: str, ids: Sequence[int]) -> dict[str, Any]:
    """The context a wizard needs to know its records (quote_to_cash.json #18, #26)."""
    return {"active_model": model, "active_ids": list(ids), "active_id": ids[0] if ids else False}


# --- inputs -------------------------------------------------------------------------------------


class ContactIn(BaseModel):
    external_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    function: str | None = None


class CustomerIn(BaseModel):
    """A customer company and its contacts, keyed by the source system's ids."""

    external_id: str
    name: str
    email: str | None = None
    phone: str | None = None
    street: str | None = None
    city: str | None = None
    zip: str | None = None
    country_id: int | None = None
    vat: str | None = None
    contacts: list[ContactIn] = Field(default_factory=list)


class OrderLineIn(BaseModel):
    """Money and quantities stay ``Decimal`` up to the wire (``wire.encode_json`` sends them as
    JSON numbers, as Odoo expects)."""

    product_id: int
    quantity: Decimal = Field(gt=0)
    price_unit: Decimal | None = None
    discount: Decimal | None = Field(default=None, ge=0, le=100)
    tax_ids: list[int] | None = None
    description: str | None = None


class SaleOrderIn(BaseModel):
    """``reference`` (the CRM deal id) is stored in ``client_order_ref`` and searched before create."""

    reference: str
    partner_id: int
    lines: list[OrderLineIn] = Field(min_length=1)
    payment_term_id: int | None = None
    pricelist_id: int | None = None
    company_id: int | None = None
    note: str | None = None


class MilestoneIn(BaseModel):
    name: str
    project_id: int
    deadline: dt.date | None = None
    sale_line_id: int | None = None
    # The share of the line it bills, 0..1. Not ``product_uom_qty``: real Odoo 18 ignores that
    # over RPC and bills 100 % (milestone_billing.json #15-16).
    quantity_percentage: Decimal | None = None


class TimesheetIn(BaseModel):
    project_id: int
    task_id: int | None = None
    employee_id: int | None = None
    name: str
    hours: float
    date: dt.date | None = None


class InvoiceRequest(BaseModel):
    """``delivered`` = regular invoice; ``percentage``/``fixed`` = down payment.

    ``timesheets_from``/``timesheets_until`` (inclusive) set sale_timesheet's
    ``date_start_invoice_timesheet``/``date_end_invoice_timesheet``: only the timesheets not
    invoiced yet and dated in that range are invoiced and linked to the invoice; left open, every
    uninvoiced timesheet is."""

    method: Literal["delivered", "percentage", "fixed"] = "delivered"
    percentage: float | None = Field(default=None, gt=0, le=100)
    fixed_amount: float | None = Field(default=None, gt=0)
    post: bool = True
    timesheets_from: dt.date | None = None
    timesheets_until: dt.date | None = None

    @model_validator(mode="after")
    def _range_in_order(self) -> InvoiceRequest:
        start, end = self.timesheets_from, self.timesheets_until
        if start is not None and end is not None and end < start:
            raise ValueError(f"timesheets_until {end} is before timesheets_from {start}")
        return self


class ExpenseIn(BaseModel):
    name: str
    employee_id: int
    product_id: int
    total_amount: float = Field(gt=0)
    # The currency the expense was paid in (res.currency id, see ``active_currency_ids``);
    # without it Odoo books the amount in the company's currency, whatever it was paid in.
    currency_id: int | None = None
    sale_order_id: int | None = None
    date: dt.date | None = None
    payment_mode: Literal["own_account", "company_account"] = "own_account"
    # The employee's / order's company; without it Odoo uses the API user's current company and
    # refuses an employee of another one (expense_company_mismatch.json).
    company_id: int | None = None


def active_currency_ids(odoo: OdooAdapter, codes: Sequence[str]) -> dict[str, int]:
    """The ``res.currency`` ids of the ISO codes Odoo has active (an inactive or unknown code is
    absent: Odoo would refuse or misbook a record in it)."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    rows = odoo.search_read(
        "res.currency", [["name", "in", wanted], ["active", "=", True]], ["name"]
    )
    return {str(row["name"]): int(row["id"]) for row in rows}


# --- outputs ------------------------------------------------------------------------------------


class CustomerIds(BaseModel):
    company: UpsertResult
    contacts: dict[str, UpsertResult]


class ProductRef(BaseModel):
    id: int
    name: str
    default_code: str | None
    type: str
    service_tracking: str | None = None
    service_policy: str | None = None


class OrderDelivery(BaseModel):
    """What confirming an order created (quote_to_cash.json #10-#13)."""

    order_id: int
    name: str
    state: str
    project_ids: list[int]
    task_ids: list[int]
    milestone_ids: list[int]
    line_ids: list[int]


class InvoiceState(BaseModel):
    id: int
    name: str | None
    move_type: str
    state: str
    payment_state: str
    amount_total: float
    amount_residual: float


def _m2o_id(value: Any) -> int | None:
    return value[0] if isinstance(value, list) and value else None


class QuoteToCashAdapter:
    """Quote-to-cash steps on top of :class:`OdooAdapter` (batch, schema-checked)."""

    def __init__(self, adapter: OdooAdapter, *, system: str = "crm") -> None:
        self.odoo = adapter
        self.system = system

    # -- customers and products ---------------------------------------------------------------

    def upsert_customer(self, customer: CustomerIn) -> CustomerIds:
        """Company, then its contacts with ``parent_id``; each bound by external id."""
        company_values = customer.model_dump(exclude={"external_id", "contacts"}, exclude_none=True)
        company = self.odoo.upsert(
            "res.partner", self.system, customer.external_id, {**company_values, "is_company": True}
        )
        contacts: dict[str, UpsertResult] = {}
        if customer.contacts:
            rows = [
                (
                    contact.external_id,
                    {
                        **contact.model_dump(exclude={"external_id"}, exclude_none=True),
                        "parent_id": company.id,
                        "is_company": False,
                    },
                )
                for contact in customer.contacts
            ]
            for result in self.odoo.upsert_many("res.partner", self.system, rows):
                contacts[result.external_id] = result
        return CustomerIds(company=company, contacts=contacts)

    def find_service_products(
        self, *, codes: Sequence[str] = (), names: Sequence[str] = ()
    ) -> dict[str, ProductRef]:
        """Sellable services by ``default_code`` or exact name; key = the code or name asked for."""
        if not codes and not names:
            return {}
        # type/sale_ok/name live on the template (related, not stored, on the variant): search
        # through product_tmpl_id, which every Odoo version resolves in SQL.
        domain: list[Any] = [
            ["product_tmpl_id.type", "=", "service"],
            ["product_tmpl_id.sale_ok", "=", True],
        ]
        by_code = ["default_code", "in", list(codes)]
        by_name = ["product_tmpl_id.name", "in", list(names)]
        if codes and names:
            domain += ["|", by_code, by_name]
        else:
            domain.append(by_code if codes else by_name)
        variants = self.odoo.search_read(
            "product.product", domain, ["default_code", "product_tmpl_id"], order="id asc"
        )
        templates = {
            row["id"]: row
            for row in self.odoo.read(
                "product.template",
                sorted({_m2o_id(v["product_tmpl_id"]) or 0 for v in variants}),
                ["name", "type", "service_tracking", "service_policy"],
            )
        }
        found: dict[str, ProductRef] = {}
        for variant in variants:
            template = templates[_m2o_id(variant["product_tmpl_id"]) or 0]
            ref = ProductRef(
                id=variant["id"],
                name=template["name"],
                default_code=variant.get("default_code") or None,
                type=template["type"],
                service_tracking=template.get("service_tracking") or None,
                service_policy=template.get("service_policy") or None,
            )
            for key in (ref.default_code, ref.name):
                if key and (key in codes or key in names):
                    found.setdefault(key, ref)
        return found

    # -- orders -------------------------------------------------------------------------------

    def create_sale_order(self, order: SaleOrderIn, *, confirm: bool = True) -> OrderDelivery:
        """Create the quotation (once per ``reference``), then ``action_confirm`` it.

        Re-running after a crash finds the order by ``client_order_ref`` instead of duplicating it,
        and does not confirm twice (Odoo refuses that: pitfalls #12).
        """
        existing = self.odoo.search_read(
            "sale.order", [["client_order_ref", "=", order.reference]], ["state"], limit=1
        )
        if existing:
            order_id = existing[0]["id"]
        else:
            values: dict[str, Any] = {
                "partner_id": order.partner_id,
                "client_order_ref": order.reference,
                "order_line": [[0, 0, self._line_values(line)] for line in order.lines],
            }
            for name in ("payment_term_id", "pricelist_id", "company_id", "note"):
                if getattr(order, name) is not None:
                    values[name] = getattr(order, name)
            order_id = self.odoo.create("sale.order", values)
        if confirm:
            self.confirm_orders([order_id])
        return self.order_delivery(order_id)

    @staticmethod
    def _line_values(line: OrderLineIn) -> dict[str, Any]:
        values: dict[str, Any] = {"product_id": line.product_id, "product_uom_qty": line.quantity}
        if line.price_unit is not None:
            values["price_unit"] = line.price_unit
        if line.discount is not None:
            values["discount"] = line.discount
        if line.tax_ids is not None:
            values["tax_id"] = [[6, 0, line.tax_ids]]  # Odoo 18 names it tax_id (many2many)
        if line.description:
            values["name"] = line.description
        return values

    def confirm_orders(self, order_ids: Sequence[int]) -> list[int]:
        """``action_confirm`` on the orders still in draft/sent; returns those confirmed now."""
        rows = self.odoo.read("sale.order", list(order_ids), ["state"])
        to_confirm = [row["id"] for row in rows if row["state"] in ("draft", "sent")]
        if to_confirm:
            self.odoo.call("sale.order", "action_confirm", [to_confirm])
        return to_confirm

    def order_delivery(self, order_id: int) -> OrderDelivery:
        """The project(s), task(s) and milestones that confirmation created for the order."""
        order = self.odoo.read("sale.order", [order_id], ["name", "state", "order_line"])
        if not order:
            raise UserError(
                f"sale.order {order_id} does not exist",
                model="sale.order",
                method="read",
                rule="order_missing",
                value=order_id,
            )
        projects = self.odoo.search_read(
            "project.project", [["sale_order_id", "=", order_id]], ["id"], order="id asc"
        )
        tasks = self.odoo.search_read(
            "project.task", [["sale_order_id", "=", order_id]], ["id"], order="id asc"
        )
        project_ids = [row["id"] for row in projects]
        milestones = (
            self.odoo.search_read(
                "project.milestone", [["project_id", "in", project_ids]], ["id"], order="id asc"
            )
            if project_ids
            else []
        )
        return OrderDelivery(
            order_id=order_id,
            name=order[0]["name"],
            state=order[0]["state"],
            project_ids=project_ids,
            task_ids=[row["id"] for row in tasks],
            milestone_ids=[row["id"] for row in milestones],
            line_ids=list(order[0]["order_line"]),
        )

    # -- delivery -----------------------------------------------------------------------------

    def create_milestones(self, milestones: Sequence[MilestoneIn]) -> list[int]:
        return self.odoo.create_many(
            "project.milestone", [m.model_dump(exclude_none=True) for m in milestones]
        )

    def place_milestones(self, project_id: int, milestones: Sequence[MilestoneIn]) -> list[int]:
        """The milestones on the project, in the given order; safe to run again.

        Confirming an order creates one milestone billing 100 % of each milestone-invoiced line,
        named after the line (sale_project ``_handle_milestones``, milestone_billing.json #12):
        the first planned milestone of that line takes it over (its name, share and deadline), so
        the line is never billed twice; the others are created. One already there by name is
        kept.
        """
        existing = self.odoo.search_read(
            "project.milestone", [["project_id", "=", project_id]], ["name", "sale_line_id"],
            order="id",
        )  # fmt: skip
        by_name = {row["name"]: row["id"] for row in existing}
        planned = {m.name for m in milestones}
        defaults: dict[int, list[int]] = {}
        for row in existing:
            if row["name"] not in planned and row["sale_line_id"]:
                defaults.setdefault(row["sale_line_id"][0], []).append(row["id"])
        ids: list[int | None] = []
        to_create: list[MilestoneIn] = []
        for milestone in milestones:
            if milestone.name in by_name:
                ids.append(by_name[milestone.name])
            elif milestone.sale_line_id and defaults.get(milestone.sale_line_id):
                taken = defaults[milestone.sale_line_id].pop(0)
                self.odoo.write(
                    "project.milestone",
                    [taken],
                    milestone.model_dump(exclude_none=True, exclude={"project_id", "sale_line_id"}),
                )
                ids.append(taken)
            else:
                ids.append(None)
                to_create.append(milestone)
        created = iter(self.create_milestones(to_create) if to_create else [])
        return [found if found is not None else next(created) for found in ids]

    def mark_milestones_reached(self, milestone_ids: Sequence[int]) -> None:
        self.odoo.write("project.milestone", list(milestone_ids), {"is_reached": True})

    def log_timesheets(self, entries: Sequence[TimesheetIn]) -> list[int]:
        """``account.analytic.line`` rows, one ``create`` per batch (quote_to_cash.json #15)."""
        rows = []
        for entry in entries:
            values = entry.model_dump(exclude={"hours"}, exclude_none=True)
            values["unit_amount"] = entry.hours
            rows.append(values)
        return self.odoo.create_many("account.analytic.line", rows)

    # -- invoicing ----------------------------------------------------------------------------

    def invoice_orders(self, order_ids: Sequence[int], request: InvoiceRequest) -> list[int]:
        """Run ``sale.advance.payment.inv`` for the orders; returns the new invoice ids.

        The wizard gets the orders through the context (quote_to_cash.json #18); without it it has
        no orders and refuses (pitfalls #6-#8).
        """
        ids = list(order_ids)
        before = self._order_invoice_ids(ids)
        values: dict[str, Any] = {"advance_payment_method": request.method}
        if request.method == "percentage":
            values["amount"] = request.percentage
        elif request.method == "fixed":
            values["fixed_amount"] = request.fixed_amount
        if request.method == "delivered":
            if request.timesheets_from is not None:
                values["date_start_invoice_timesheet"] = request.timesheets_from.isoformat()
            if request.timesheets_until is not None:
                values["date_end_invoice_timesheet"] = request.timesheets_until.isoformat()
        context = active_context("sale.order", ids)
        wizard_id = self.odoo.create("sale.advance.payment.inv", values, context=context)
        self.odoo.call(
            "sale.advance.payment.inv", "create_invoices", [[wizard_id]], {"context": context}
        )
        new_ids = sorted(self._order_invoice_ids(ids) - before)
        if request.post and new_ids:
            self.post_invoices(new_ids)
        return new_ids

    def _order_invoice_ids(self, order_ids: list[int]) -> set[int]:
        rows = self.odoo.read("sale.order", order_ids, ["invoice_ids"])
        return {invoice for row in rows for invoice in row["invoice_ids"]}

    def post_invoices(self, move_ids: Sequence[int]) -> list[int]:
        """``action_post`` on those still in draft (posting twice is refused: pitfalls #23)."""
        rows = self.odoo.read("account.move", list(move_ids), ["state"])
        drafts = [row["id"] for row in rows if row["state"] == "draft"]
        if drafts:
            self.odoo.call("account.move", "action_post", [drafts])
        return drafts

    def create_credit_notes(
        self,
        invoice_ids: Sequence[int],
        *,
        reason: str,
        journal_id: int | None = None,
        reversal_date: dt.date | None = None,
        post: bool = True,
    ) -> list[int]:
        """``account.move.reversal`` → ``refund_moves``; returns the credit note ids."""
        ids = list(invoice_ids)
        values: dict[str, Any] = {"reason": reason}
        if journal_id is None:  # required on create: Odoo computes it only after the INSERT
            rows = self.odoo.read(
                "account.move", ids[:1], ["journal_id"]
            )  # credit_note.json #11-14
            journal_id = rows[0]["journal_id"][0] if rows and rows[0]["journal_id"] else None
        if journal_id is not None:
            values["journal_id"] = journal_id
        if reversal_date is not None:
            values["date"] = reversal_date
        context = active_context("account.move", ids)
        wizard_id = self.odoo.create("account.move.reversal", values, context=context)
        self.odoo.call("account.move.reversal", "refund_moves", [[wizard_id]], {"context": context})
        notes = self.odoo.search_read(
            "account.move", [["reversed_entry_id", "in", ids]], ["state"], order="id asc"
        )
        note_ids = [row["id"] for row in notes]
        if post:
            self.post_invoices(note_ids)
        return note_ids

    def register_payment(
        self,
        invoice_ids: Sequence[int],
        *,
        amount: Decimal | None = None,
        journal_id: int | None = None,
        payment_date: dt.date | None = None,
        memo: str | None = None,
    ) -> int:
        """``account.payment.register`` (full amount by default, or a partial ``amount``).

        Returns the ``account.payment`` id from the wizard's act_window (quote_to_cash.json #28).
        """
        ids = list(invoice_ids)
        values: dict[str, Any] = {}
        if amount is not None:
            values["amount"] = amount
        if journal_id is not None:
            values["journal_id"] = journal_id
        if payment_date is not None:
            values["payment_date"] = payment_date
        if memo is not None:
            values["communication"] = memo
        context = active_context("account.move", ids)
        wizard_id = self.odoo.create("account.payment.register", values, context=context)
        action = self.odoo.call(
            "account.payment.register",
            "action_create_payments",
            [[wizard_id]],
            {"context": context},
        )
        if isinstance(action, dict) and action.get("res_id"):
            return int(action["res_id"])
        payments = self.odoo.search_read(
            "account.payment",
            [["reconciled_invoice_ids", "in", ids]],
            ["id"],
            order="id desc",
            limit=1,
        )
        if not payments:
            raise UserError(
                f"account.payment.register created no payment for invoices {ids}",
                model="account.payment.register",
                method="action_create_payments",
                rule="payment_not_created",
            )
        return payments[0]["id"]

    def invoice_states(self, invoice_ids: Sequence[int]) -> list[InvoiceState]:
        rows = self.odoo.read("account.move", list(invoice_ids), INVOICE_READ_FIELDS)
        return [
            InvoiceState(
                id=row["id"],
                name=row["name"] or None,
                move_type=row["move_type"],
                state=row["state"],
                payment_state=row["payment_state"],
                amount_total=row["amount_total"],
                amount_residual=row["amount_residual"],
            )
            for row in rows
        ]

    # -- expenses -----------------------------------------------------------------------------

    def create_expenses(self, expenses: Sequence[ExpenseIn]) -> list[int]:
        """``hr.expense`` rows; ``sale_order_id`` marks them for re-invoicing on that order."""
        rows = []
        for expense in expenses:
            values = expense.model_dump(exclude={"total_amount"}, exclude_none=True)
            values["total_amount_currency"] = expense.total_amount
            rows.append(values)
        return self.odoo.create_many("hr.expense", rows)
