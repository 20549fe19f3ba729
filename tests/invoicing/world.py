"""A delivered world for the delivery-to-cash tests: HubSpot and Odoo sandboxes over real HTTP, a
hub running the flows in-process, deals delivered through deal_to_delivery."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from handoff.billing.engine import BillingPeriod
from handoff.canonical.crm import BillingModel
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.odoo import OdooAdapter
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import route
from handoff.store.inbox import IncomingEvent
from support.waiting import wait_for

SYSTEMS = """
version: 1
store: {{url: "{store}"}}
systems:
  odoo: {{kind: odoo, url: "{odoo}", database: psa, username: admin,
          credentials: {{password: "${{TEST_ODOO_PASSWORD}}"}}}}
"""
# Retry and delivery rules every delivery-to-cash world shares (a str.format template).
RULES = """
retry: {{max_attempts: 3, initial_delay_seconds: 0.05, max_delay_seconds: 1}}
delivery:
  legal_entities: {{"Northwind US": My Company, "Northwind Bare": Bare Co}}
  payment_terms: {{"Net 30": 30 Days}}
  tax_profiles: {{standard: []}}
  rate_card: {{roles: {{consultant: {{USD: 150.0}}}}}}
  service_catalog:
    by_sku:
      CONSULTING-HOUR: {{product: SVC-TM, role: consultant}}
      CONSULTING-DAY: {{product: SVC-TM-DAY, role: consultant}}
      CONSULTING-HALF-DAY: {{product: SVC-TM-HALF-DAY, role: consultant}}
      IMPLEMENTATION: SVC-FIXED
      STAGED-FEE: SVC-STAGED
      PHASED-DELIVERY: SVC-MILESTONE
      RETAINER-MONTH: SVC-RETAINER
  project_templates:
    standard: {{project_name: "{{order}} - {{deal}}", tasks: [Delivery]}}
  currencies: [USD]
  require_account_owner: false
"""
CONFIG = (
    SYSTEMS.rstrip("\n")
    + """
  hubspot: {{kind: hubspot, url: "{hubspot}", credentials: {{token: "${{TEST_HUBSPOT_TOKEN}}"}}}}
  stripe: {{kind: stripe, url: "https://api.stripe.com", webhook_secret: "${{TEST_STRIPE_SECRET}}"}}"""
    + RULES
)
STRIPE_SECRET = "whsec_invoicing_test"
PERIOD = BillingPeriod.month(f"{date.today():%Y-%m}")


@dataclass
class World:
    hub: Hub
    hubspot: HubSpotAdapter
    odoo: OdooAdapter
    company_id: str
    employee_id: int
    config: str = ""

    def deal(
        self, name: str, model: BillingModel, lines: list[tuple[str, float, float]], **props: str
    ) -> str:
        values = {
            "dealname": name,
            "pipeline": "default",
            "dealstage": "closedwon",
            "amount": str(sum(q * p for _, q, p in lines)),
            "deal_currency_code": "USD",
            "handoff_contract_type": model.value,
            "handoff_legal_entity": "Northwind US",
            "handoff_payment_terms": "Net 30",
            "handoff_tax_profile": "standard",
            "handoff_project_template": "standard",
        } | props
        [created] = self.hubspot.create("deals", [values])
        assert created.record is not None, created.error
        deal_id = created.record.id
        self.hubspot.associate_default("deals", deal_id, "companies", self.company_id)
        for item in self.hubspot.create(
            "line_items",
            [{"name": s, "hs_sku": s, "quantity": str(q), "price": str(p)} for s, q, p in lines],
        ):
            assert item.record is not None
            self.hubspot.associate_default("deals", deal_id, "line_items", item.record.id)
        return deal_id

    def deliver(self, *deal_ids: str) -> None:
        events = [
            IncomingEvent(
                source_event_id=f"{d}-won",
                entity_key=f"hubspot:deal:{d}",
                kind="deal.propertyChange",
                payload={"objectId": d, "propertyName": "dealstage"},
            )
            for d in deal_ids
        ]
        flows.submit(self.hub, "hubspot", route("hubspot", events))
        wait_for(self.settled(len(deal_ids)), timeout=60, what="deliveries")
        assert self.hub.exceptions.list() == []

    def settled(self, count: int, flow: str | None = None) -> Any:
        def check() -> bool:
            rows = [e for e in self.hub.inbox.list(limit=1000) if flow is None or e.flow == flow]
            return sum(e.status in ("done", "failed") for e in rows) >= count

        return check

    def order(self, deal_id: str) -> dict[str, Any]:
        [order] = self.odoo.search_read(
            "sale.order",
            [["client_order_ref", "=", f"hubspot:{deal_id}"]],
            ["name", "invoice_ids", "order_line", "project_ids"],
        )
        return order

    def log(self, deal_id: str, hours: list[float]) -> list[int]:
        """Timesheets logged today on the deal's project."""
        return self.log_dated(deal_id, [(date.today().isoformat(), h) for h in hours])

    def log_dated(self, deal_id: str, entries: list[tuple[str, float]]) -> list[int]:
        """Timesheets on the deal's project: (ISO date, hours) each."""
        order = self.order(deal_id)
        return self.odoo.create_many(
            "account.analytic.line",
            [
                {
                    "project_id": order["project_ids"][0],
                    "employee_id": self.employee_id,
                    "name": f"work on {day}",
                    "unit_amount": hours,
                    "date": day,
                }
                for day, hours in entries
            ],
        )

    def invoice_lines(self, invoice_id: int) -> list[dict[str, Any]]:
        return self.odoo.search_read(
            "account.move.line",
            [["move_id", "=", invoice_id], ["display_type", "=", "product"]],
            ["quantity", "price_unit", "price_subtotal"],
        )

    def invoiced_by(self, timesheet_ids: list[int]) -> dict[int, int | None]:
        """Timesheet -> the invoice Odoo says holds it (timesheet_invoice_id)."""
        rows = self.odoo.read("account.analytic.line", timesheet_ids, ["timesheet_invoice_id"])
        return {
            r["id"]: r["timesheet_invoice_id"][0] if r["timesheet_invoice_id"] else None
            for r in rows
        }

    def invoices(self) -> list[dict[str, Any]]:
        return self.odoo.search_read(
            "account.move",
            [["move_type", "=", "out_invoice"]],
            [
                "name",
                "invoice_origin",
                "amount_total",
                "amount_untaxed",
                "amount_residual",
                "payment_state",
                "state",
            ],
        )

    def deal_props(self, deal_id: str) -> dict[str, Any]:
        names = [
            "handoff_invoiced_to_date",
            "handoff_paid_to_date",
            "handoff_outstanding",
            "handoff_last_invoice_number",
        ]
        [outcome] = self.hubspot.read("deals", [deal_id], names)
        assert outcome.record is not None
        return {n: outcome.record.properties.get(n) for n in names}
