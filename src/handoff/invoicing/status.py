"""Invoice and payment status of a deal, read from Odoo, written back to the CRM.

Per deal (its bound sale order): invoiced to date = posted customer invoices minus posted credit
notes (a reversed invoice and its credit note cancel out); paid = what was settled by payments
(total - residual of invoices not reversed); outstanding = open residual of invoices minus unused
credit notes; overdue = the residual past its due date; the last posted invoice's number and date.

Salesforce's Handoff package has no overdue field: its Opportunity and Account get invoiced, paid,
outstanding, the last invoice (Opportunity) and the sync status (Invoiced / Partially Paid / Paid).
A record the CRM refuses to update fails the flow with a readable error (an exception record).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from handoff.canonical.errors import PermanentError
from handoff.connectors.hubspot.adapter import BillingStatus
from handoff.connectors.odoo.adapter import OdooAdapter
from handoff.connectors.registry import connectors_for
from handoff.connectors.salesforce.adapter import (
    CustomerBillingStatus,
    DealBillingStatus,
    SyncStatus,
)
from handoff.engine.runtime import Hub
from handoff.engine.targets import odoo_target

from .deliverables import decimal, m2o
from .service import bound_orders

MOVE_FIELDS = [
    "name",
    "move_type",
    "state",
    "payment_state",
    "amount_total",
    "amount_residual",
    "invoice_date",
    "invoice_date_due",
    "invoice_origin",
    "partner_id",
]
ZERO = Decimal(0)


class DealBilling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    deal_key: str
    order_id: int
    partner_id: int | None = None
    invoiced: Decimal = ZERO
    paid: Decimal = ZERO
    outstanding: Decimal = ZERO
    overdue: Decimal = ZERO
    last_invoice_number: str | None = None
    last_invoice_date: date | None = None


def sync_status(figures: DealBilling) -> SyncStatus:
    """Salesforce's ``Handoff_Sync_Status__c`` for the figures."""
    if figures.invoiced <= 0:
        return "Synced"
    if figures.outstanding <= 0:
        return "Paid"
    return "Partially Paid" if figures.paid > 0 else "Invoiced"


def _refused(source: str, failures: Sequence[tuple[str, str]]) -> None:
    if failures:
        detail = "; ".join(f"{record}: {error}" for record, error in failures)
        raise PermanentError(
            f"{source} refused the billing status of {len(failures)} records: {detail}",
            rule="crm_write_back_refused",
            value=", ".join(record for record, _ in failures),
            suggested_fix=f"Check that the Handoff fields exist and are writable in {source} "
            "(see the connector README), then retry the exception.",
        )


def crm_deal(deal_key: str) -> tuple[str, str]:
    """``hubspot:deal:123`` -> ("hubspot", "123")."""
    source, _, deal_id = deal_key.split(":", 2)
    return source, deal_id


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def moves_of_orders(odoo: OdooAdapter, order_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Customer invoices and credit notes per order (by the order's name as invoice origin)."""
    orders = odoo.read("sale.order", list(order_ids), ["name", "partner_id"])
    by_name = {row["name"]: row["id"] for row in orders}
    moves = odoo.search_read(
        "account.move",
        [
            ["move_type", "in", ["out_invoice", "out_refund"]],
            ["invoice_origin", "in", list(by_name)],
        ],
        MOVE_FIELDS,
        order="id asc",
    )
    grouped: dict[int, list[dict[str, Any]]] = {order_id: [] for order_id in order_ids}
    for move in moves:
        grouped[by_name[move["invoice_origin"]]].append(move)
    return grouped


def deal_billing(
    deal_key: str, order_id: int, moves: Sequence[dict[str, Any]], today: date | None = None
) -> DealBilling:
    today = today or date.today()
    figures = DealBilling(deal_key=deal_key, order_id=order_id)
    last: tuple[date, int, str] | None = None
    for move in moves:
        if move["state"] != "posted":
            continue
        total, residual = decimal(move["amount_total"]), decimal(move["amount_residual"])
        figures.partner_id = figures.partner_id or m2o(move["partner_id"])[0]
        if move["move_type"] == "out_refund":
            figures.invoiced -= total
            figures.outstanding -= residual
            continue
        figures.invoiced += total
        figures.outstanding += residual
        if move["payment_state"] != "reversed":
            figures.paid += total - residual
        due = _day(move.get("invoice_date_due"))
        if residual > 0 and due is not None and due < today:
            figures.overdue += residual
        issued = _day(move.get("invoice_date")) or date.min
        if last is None or (issued, move["id"]) > last[:2]:
            last = (issued, move["id"], move["name"])
    if last is not None:
        figures.last_invoice_number = last[2]
        figures.last_invoice_date = last[0] if last[0] != date.min else None
    return figures


def figures_for(
    hub: Hub, odoo: OdooAdapter, deal_keys: Sequence[str] | None = None
) -> list[DealBilling]:
    bound = [b for b in bound_orders(hub) if deal_keys is None or b.deal_key in deal_keys]
    if not bound:
        return []
    moves = moves_of_orders(odoo, [b.order_id for b in bound])
    return [deal_billing(b.deal_key, b.order_id, moves[b.order_id]) for b in bound]


def write_back(hub: Hub, figures: Sequence[DealBilling]) -> None:
    """Deal properties, then the customers' totals over all their bound deals."""
    connectors = connectors_for(hub.settings)
    by_source: dict[str, list[DealBilling]] = {}
    for item in figures:
        by_source.setdefault(crm_deal(item.deal_key)[0], []).append(item)
    for source, items in by_source.items():
        partners = {i.partner_id for i in items if i.partner_id is not None}
        everything = figures_for(hub, connectors.odoo().odoo)
        customers = _customer_totals(
            hub, source, [f for f in everything if f.partner_id in partners]
        )
        # ``source`` is the CRM system's configured name; its kind picks the connector.
        system = hub.settings.systems.get(source)
        kind = system.kind if system is not None else source
        if kind == "hubspot":
            _hubspot(connectors.hubspot(source), items, customers)
        elif kind == "salesforce":
            _salesforce(connectors.salesforce(source), items, customers)


def _customer_totals(
    hub: Hub, source: str, figures: Sequence[DealBilling]
) -> dict[str, DealBilling]:
    totals: dict[str, DealBilling] = {}
    for item in figures:
        if not item.deal_key.startswith(f"{source}:") or item.partner_id is None:
            continue
        binding = hub.bindings.find(odoo_target(hub.settings), "res.partner", str(item.partner_id))
        if binding is None or not binding.canonical_id.startswith(f"{source}:customer:"):
            continue
        customer = binding.canonical_id.split(":", 2)[2]
        known = totals.setdefault(customer, DealBilling(deal_key=customer, order_id=0))
        known.invoiced += item.invoiced
        known.paid += item.paid
        known.outstanding += item.outstanding
        known.overdue += item.overdue
    return totals


def _hubspot(adapter: Any, deals: Sequence[DealBilling], customers: dict[str, DealBilling]) -> None:
    adapter.ensure_properties()
    outcomes = adapter.write_back(
        "deals",
        {
            crm_deal(d.deal_key)[1]: BillingStatus(
                invoiced_to_date=d.invoiced,
                paid_to_date=d.paid,
                outstanding=d.outstanding,
                overdue=d.overdue,
                last_invoice_number=d.last_invoice_number,
                last_invoice_date=d.last_invoice_date,
            )
            for d in deals
        },
    )
    if customers:
        outcomes += adapter.write_back(
            "companies",
            {
                customer: BillingStatus(
                    invoiced_to_date=t.invoiced,
                    paid_to_date=t.paid,
                    outstanding=t.outstanding,
                    overdue=t.overdue,
                )
                for customer, t in customers.items()
            },
        )
    _refused(
        "hubspot",
        [
            (o.key, o.error.message if o.error else "no record returned")
            for o in outcomes
            if not o.ok
        ],
    )


def _salesforce(
    adapter: Any, deals: Sequence[DealBilling], customers: dict[str, DealBilling]
) -> None:
    results = adapter.write_back_deals(
        [
            DealBillingStatus(
                deal_external_id=crm_deal(d.deal_key)[1],
                invoiced_to_date=d.invoiced,
                paid_to_date=d.paid,
                outstanding=d.outstanding,
                last_invoice=d.last_invoice_number,
                sync_status=sync_status(d),
            )
            for d in deals
        ]
    )
    if customers:
        results += adapter.write_back_customers(
            [
                CustomerBillingStatus(
                    customer_external_id=customer,
                    invoiced_to_date=t.invoiced,
                    paid_to_date=t.paid,
                    outstanding=t.outstanding,
                    sync_status=sync_status(t),
                )
                for customer, t in customers.items()
            ]
        )
    _refused("salesforce", [(r.external_id, r.error or "") for r in results if not r.success])
