"""Business monitors: each a list a person can act on and a Prometheus gauge of its length.

- ``unbilled_time``: timesheets on billable (timesheet-delivered) order lines, older than N days,
  that no invoice bills;
- ``projects_without_plan``: bound projects whose deal binding has no delivery plan snapshot;
- ``invoiced_without_delivery``: order lines (delivery-invoiced) with more invoiced than delivered;
- ``milestones_not_invoiced``: reached milestones that no invoice bills;
- ``retainers_overdrawn``: retainer months whose proposal used more hours than included.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from prometheus_client import Gauge
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from handoff.billing.keys import milestone_key
from handoff.canonical.crm import BillingModel
from handoff.connectors.registry import connectors_for
from handoff.engine.runtime import Hub
from handoff.engine.schedules import open_circuit
from handoff.engine.targets import odoo_target, running
from handoff.store.models import Binding

from .deliverables import OrderDeliverables, read_deliverables
from .records import Proposals
from .service import BoundOrder, billed_keys, bound_orders

MONITOR_ITEMS = Gauge(
    "handoff_monitor_items", "Items a business monitor currently lists", ["monitor"]
)


class MonitorItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monitor: str
    deal: str | None = None
    record: str
    detail: str


class MonitorReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: dict[str, list[MonitorItem]]
    # The system whose open circuit made this run skip (nothing read, gauges left as they were).
    skipped: str | None = None

    def counts(self) -> dict[str, int]:
        return {name: len(items) for name, items in self.items.items()}


MONITORS = (
    "unbilled_time",
    "projects_without_plan",
    "invoiced_without_delivery",
    "milestones_not_invoiced",
    "retainers_overdrawn",
)


def run_monitors(
    hub: Hub,
    *,
    older_than_days: int | None = None,
    today: date | None = None,
    odoo: str | None = None,
) -> MonitorReport:
    """Every monitor's list for the Odoo system called ``odoo`` (None: the only one) and the
    deals bound to it. ``older_than_days``: the age of unbilled time that counts (default:
    handoff.yaml ``billing.unbilled_after_days``)."""
    system = odoo or odoo_target(hub.settings)
    with running(system):
        return _run_monitors(hub, system, older_than_days, today)


def _run_monitors(
    hub: Hub, system: str, older_than_days: int | None, today: date | None
) -> MonitorReport:
    if older_than_days is None:
        older_than_days = hub.settings.billing.unbilled_after_days
    skipped = open_circuit(hub, "monitors", [system])
    if skipped is not None:
        return MonitorReport(items={}, skipped=skipped)
    today = today or date.today()
    odoo = connectors_for(hub.settings).odoo(system).odoo
    bound = bound_orders(hub, system)
    found = {b.order_id: read_deliverables(odoo, b.order_id) for b in bound}
    report = MonitorReport(
        items={
            "unbilled_time": _unbilled_time(
                hub, bound, found, today - timedelta(days=older_than_days)
            ),
            "projects_without_plan": _without_plan(hub, bound),
            "invoiced_without_delivery": _invoiced_without_delivery(bound, found),
            "milestones_not_invoiced": _milestones(hub, bound, found),
            "retainers_overdrawn": _retainers(hub),
        }
    )
    for name, count in report.counts().items():
        MONITOR_ITEMS.labels(name).set(count)
    return report


Found = dict[int, OrderDeliverables]


def _unbilled_time(
    hub: Hub, bound: list[BoundOrder], found: Found, before: date
) -> list[MonitorItem]:
    items: list[MonitorItem] = []
    for b in bound:
        d = found[b.order_id]
        timesheet_lines = {line.id for line in d.lines if line.method == "timesheet"}
        old = [t for t in d.timesheets if t.line_id in timesheet_lines and t.date <= before]
        billed = billed_keys(hub, [t.key for t in old])
        items += [
            MonitorItem(
                monitor="unbilled_time",
                deal=b.deal_key,
                record=t.key,
                detail=f"{d.order_name}: {t.hours} h by {t.consultant} on {t.date}, not invoiced",
            )
            for t in old
            if t.key not in billed
        ]
    return items


def _without_plan(hub: Hub, bound: list[BoundOrder]) -> list[MonitorItem]:
    missing = {b.deal_key for b in bound if b.plan is None}
    query = select(Binding).where(
        Binding.system == odoo_target(hub.settings),
        Binding.model == "project.project",
        Binding.canonical_type == "deal",
    )
    with hub.store.session() as session:
        projects = list(session.scalars(query))
    return [
        MonitorItem(
            monitor="projects_without_plan",
            deal=p.canonical_id,
            record=f"project.project {p.external_id}",
            detail="the deal's order binding has no delivery plan: the run cannot bill it",
        )
        for p in projects
        if p.canonical_id in missing
    ]


def _invoiced_without_delivery(bound: list[BoundOrder], found: Found) -> list[MonitorItem]:
    items: list[MonitorItem] = []
    for b in bound:
        # A fixed fee invoiced on order is invoiced before any delivery, by design.
        on_order = (
            b.plan is not None
            and b.plan.billing.billing_model is BillingModel.FIXED_FEE
            and not b.plan.billing.scheduled
        )
        if on_order:
            continue
        d = found[b.order_id]
        items += [
            MonitorItem(
                monitor="invoiced_without_delivery",
                deal=b.deal_key,
                record=f"sale.order.line {line.id}",
                detail=f"{d.order_name} / {line.name}: invoiced {line.invoiced}, delivered {line.delivered}",
            )
            for line in d.lines
            if line.invoiced > line.delivered
        ]
    return items


def _milestones(hub: Hub, bound: list[BoundOrder], found: Found) -> list[MonitorItem]:
    items: list[MonitorItem] = []
    for b in bound:
        d = found[b.order_id]
        reached = {milestone_key(b.deal_key, str(m.id)): m for m in d.milestones if m.reached}
        billed = billed_keys(hub, list(reached))
        items += [
            MonitorItem(
                monitor="milestones_not_invoiced",
                deal=b.deal_key,
                record=f"project.milestone {m.id}",
                detail=f"{d.order_name}: milestone {m.name!r} reached on {m.reached_on}, not invoiced",
            )
            for key, m in reached.items()
            if key not in billed
        ]
    return items


def _retainers(hub: Hub) -> list[MonitorItem]:
    items: list[MonitorItem] = []
    for record in Proposals(hub.store).list(limit=1000):
        use = (record.details or {}).get("retainer")
        if use and Decimal(str(use["used_hours"])) > Decimal(str(use["included_hours"])):
            items.append(
                MonitorItem(
                    monitor="retainers_overdrawn",
                    deal=record.deal_key,
                    record=f"proposal {record.id}",
                    detail=f"{use['period']}: {use['used_hours']} h used of {use['included_hours']} h",
                )
            )
    return items
