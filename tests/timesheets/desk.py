"""Test desk for time entries: a hub with the time_entry flow, the Odoo sandbox holding one delivered
T&M project (order, project, tasks, employees), and the hub's API served on loopback."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.api.app import create_app
from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import parse_settings
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import OrderLineIn, QuoteToCashAdapter, SaleOrderIn
from handoff.engine import flows, launcher
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.ingress.events import sign
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from support.servers import serving

SECRET = "time-tracker-shared-secret"
DEAL = "hubspot:deal:4711"
CONSULTANTS = {"ada@firm.example": "Ada Lovelace", "grace@firm.example": "Grace Hopper"}


def config_text(store_url: str, odoo_url: str) -> str:
    return f"""
version: 1
store: {{url: "{store_url}"}}
systems:
  odoo: {{kind: odoo, url: "{odoo_url}", database: psa, username: admin,
          credentials: {{password: "${{TEST_ODOO_PASSWORD}}"}}}}
  timetracker: {{kind: http, url: "https://timetracker.example", webhook_secret: "${{TEST_TIME_SECRET}}",
                allowed_flows: [time_entry]}}
retry: {{max_attempts: 3, initial_delay_seconds: 0.05, max_delay_seconds: 1}}
"""


@dataclass
class Desk:
    hub: Hub
    odoo: OdooAdapter
    q2c: QuoteToCashAdapter
    api: str
    config: Path
    order_id: int
    order_line_id: int
    project_id: int
    tasks: dict[str, int]
    employees: dict[str, int]

    def post(
        self,
        items: Any,
        *,
        secret: str = SECRET,
        signature: str | None = None,
        body: bytes | None = None,
    ) -> httpx.Response:
        raw = body if body is not None else json.dumps(items).encode()
        headers = {"Content-Type": "application/json"}
        if signature is None:
            headers["X-Handoff-Signature"] = sign(secret, raw)
        elif signature:
            headers["X-Handoff-Signature"] = signature
        return httpx.post(f"{self.api}/webhooks/time", content=raw, headers=headers, timeout=30)

    def settled(self, count: int) -> Callable[[], bool]:
        def check() -> bool:
            statuses = [e.status for e in self.hub.inbox.list(limit=5000)]
            return sum(s in ("done", "failed") for s in statuses) >= count

        return check

    def timesheets(self) -> list[dict[str, Any]]:
        return self.odoo.search_read(
            "account.analytic.line",
            [["project_id", "=", self.project_id]],
            ["name", "unit_amount", "date", "task_id", "employee_id", "so_line", "project_id"],
            order="id asc",
        )

    def delivered(self) -> float:
        [line] = self.odoo.read("sale.order.line", [self.order_line_id], ["qty_delivered"])
        return float(line["qty_delivered"])


def entry(
    source_id: str,
    *,
    hours: float = 4,
    revision: str = "1",
    approval: str = "approved",
    billable: bool = True,
    consultant: str = "ada@firm.example",
    task: str | None = "Build",
    day: str = "2026-11-02",
    description: str = "Data model workshop",
    **extra: Any,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "kind": "time",
        "source_id": source_id,
        "revision": revision,
        "consultant": consultant,
        "deal_ref": DEAL,
        "date": day,
        "hours": hours,
        "billable": billable,
        "approval": approval,
        "description": description,
        **extra,
    }
    if task is not None:
        item["task_ref"] = task
    return item


@dataclass
class Seeded:
    """What deal-to-delivery leaves in Odoo for one T&M deal: its order, project, tasks, and the
    consultants as employees."""

    odoo: OdooAdapter
    q2c: QuoteToCashAdapter
    order_id: int
    order_line_id: int
    project_id: int
    tasks: dict[str, int]
    employees: dict[str, int]


def seed_delivered_deal(box: Any) -> Seeded:
    """Seed a running Odoo sandbox with one delivered T&M deal."""
    odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
    q2c = QuoteToCashAdapter(odoo)
    product = odoo.create(
        "product.product",
        {
            "name": "Consulting hour",
            "default_code": "SVC-TM",
            "list_price": 150.0,
            **required_product_setup(BillingModel.TIME_AND_MATERIALS),
        },
    )
    partner = odoo.create("res.partner", {"name": "Acme Analytics", "is_company": True})
    order = q2c.create_sale_order(
        SaleOrderIn(
            reference="hubspot:4711",
            partner_id=partner,
            lines=[OrderLineIn(product_id=product, quantity=100, price_unit=150)],
        )
    )
    [project_id] = order.project_ids
    tasks = {
        name: odoo.create("project.task", {"name": name, "project_id": project_id})
        for name in ("Discovery", "Build")
    }
    employees = {
        email: odoo.create("hr.employee", {"name": name, "work_email": email})
        for email, name in CONSULTANTS.items()
    }
    return Seeded(odoo, q2c, order.order_id, order.line_ids[0], project_id, tasks, employees)


def bind_delivered_deal(hub: Hub, seeded: Seeded) -> None:
    """What deal-to-delivery leaves in the store: the deal bound to its order and project."""
    hub.bindings.bind(
        "odoo", "sale.order", str(seeded.order_id), canonical_type="deal", canonical_id=DEAL
    )
    hub.bindings.bind(
        "odoo", "project.project", str(seeded.project_id), canonical_type="deal", canonical_id=DEAL
    )


@pytest.fixture
def desk(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Desk]:
    with running_odoo_sandbox() as box:
        monkeypatch.setenv("TEST_ODOO_PASSWORD", box.password)
        monkeypatch.setenv("TEST_TIME_SECRET", SECRET)
        seeded = seed_delivered_deal(box)
        text = config_text(store_url, box.url)
        config = tmp_path / "handoff.yaml"
        config.write_text(text)
        hub = start_hub(parse_settings(text))
        bind_delivered_deal(hub, seeded)
        launcher.launch(hub, executor_id="time-test")
        try:
            with serving(create_app(hub)) as api:
                yield Desk(
                    hub,
                    seeded.odoo,
                    seeded.q2c,
                    api,
                    config,
                    seeded.order_id,
                    seeded.order_line_id,
                    seeded.project_id,
                    seeded.tasks,
                    seeded.employees,
                )
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)
