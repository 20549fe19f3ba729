"""The delivery-to-cash half of ``handoff-demo``: a month of the demo firm's work reaches the hub
the way it would in production (the time tracker's signed webhook, the delivery leads' milestone
sign-offs in Odoo, the invoice run handed to the workers, Stripe's signed payment events, the
invoice-status poll), and the summary shows what each system now holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from rich.console import Console
from rich.progress import Progress
from rich.text import Text

from handoff.billing.engine import BillingPeriod
from handoff.cli.output import SafeTable
from handoff.connectors.registry import connectors_for
from handoff.engine.runtime import Hub
from handoff_sandbox.month import (
    Project,
    card_payments,
    month_of_work,
    post_payments,
    post_time,
    posted_invoices,
    reach_first_milestones,
)
from handoff_sandbox.stack import Stack


@dataclass
class MonthSummary:
    entries: int
    pushed: int
    invoices: int
    payments: int


def live_the_month(
    hub: Hub, stack: Stack, console: Console, *, entries: int, timeout: float
) -> MonthSummary:
    from handoff.flows.billing_run import run_and_wait
    from handoff.flows.invoicing import poll_invoices

    odoo = connectors_for(hub.settings).odoo().odoo
    delivered = {b.canonical_id for b in hub.bindings.all(model="sale.order")}
    deals = [d for d in stack.deals if stack.deal_key(d.key) in delivered]
    if not deals:
        console.print("[yellow]no deal was delivered: no month of work to bill[/yellow]")
        return MonthSummary(0, 0, 0, 0)
    month = date.today().replace(day=1)
    projects = [
        Project(stack.deal_key(d.key), d.name, d.billing_model, d.currency, d.legal_entity)
        for d in deals
    ]
    work = month_of_work(projects, month, entries=entries)
    console.print(
        f"The time tracker posts {len(work.time)} time entries and {len(work.expenses)} "
        f"expenses of {month:%B %Y} for {len(projects)} projects (signed, to /webhooks/time) ..."
    )
    post_time(stack.hub_url, stack.secret("timetracker_secret"), work.items)
    _wait(hub, console, "timetracker", len(work.items), "time entries and expenses", timeout)

    projects_by_deal = {b.canonical_id: int(b.external_id)
                        for b in hub.bindings.all(model="project.project")}  # fmt: skip
    milestone_projects = [projects_by_deal[p.deal_key] for p in projects
                          if p.billing_model.value == "milestone" and p.deal_key in projects_by_deal]  # fmt: skip
    reached = reach_first_milestones(odoo, milestone_projects)
    console.print(f"Delivery leads sign off {len(reached)} milestones in Odoo.")

    console.print(f"The invoice run for {month:%Y-%m} goes to the workers (durable flow) ...")
    run = run_and_wait(hub, BillingPeriod.month(f"{month:%Y-%m}"),
                       requested=f"demo@{time.time():.0f}", timeout=timeout)  # fmt: skip
    invoices = posted_invoices(odoo)
    console.print(f"  {len(run.output.get('invoiced', {}))} proposals invoiced: "
                  f"{len(invoices)} invoices posted in Odoo.")  # fmt: skip
    failed = run.output.get("failed", {})
    if failed:
        console.print(f"  [red]{len(failed)} proposals could not be invoiced[/red] "
                      "(see the proposals and billing matters below).")  # fmt: skip

    payments = card_payments(invoices, stamp=int(time.time()))
    console.print(f"Clients pay {len(payments)} card payments (signed Stripe events) ...")
    post_payments(stack.hub_url, stack.secret("stripe_webhook_secret"), payments)
    _wait(hub, console, "stripe", len(payments), "payments", timeout)
    poll_invoices(hub)  # the worker polls every 20 s; the demo does not wait for it
    _wait_for(lambda: _pending(hub, "odoo") == 0, timeout)
    pushed = len(work.billable("time")) + len(work.billable("expense"))
    return MonthSummary(len(work.items), pushed, len(invoices), len(payments))


def print_cash_summary(hub: Hub, stack: Stack, console: Console, summary: MonthSummary) -> None:
    from handoff.invoicing.status import figures_for

    odoo = connectors_for(hub.settings).odoo().odoo
    keys = [b.canonical_id for b in hub.bindings.all(model="sale.order")]
    figures = figures_for(hub, odoo, keys)
    deals = {stack.deal_key(d.key): d for d in stack.deals}
    table = SafeTable(title=f"Delivery to cash: {summary.entries} entries received, "
                        f"{summary.pushed} approved and billable in Odoo, {summary.invoices} "
                        f"invoices, {summary.payments} card payments")  # fmt: skip
    for column in ("deal", "contract", "cur.", "invoiced", "paid", "outstanding", "last invoice"):
        table.add_column(column, overflow="fold")
    for f in sorted(figures, key=lambda f: f.deal_key):
        deal = deals.get(f.deal_key)
        if not f.invoiced or deal is None:
            continue
        table.add_row(deal.name, deal.billing_model.value, deal.currency, f"{f.invoiced:,.2f}",
                      f"{f.paid:,.2f}", f"{f.outstanding:,.2f}",
                      f.last_invoice_number or "")  # fmt: skip
    console.print(table)
    print_proposals(hub, console, {key: d.name for key, d in deals.items()})
    waiting = [e for e in hub.exceptions.list(status="open", limit=100)
               if e.flow != "deal_to_delivery"]  # fmt: skip
    if waiting:
        problems = SafeTable(title=f"{len(waiting)} billing matters need a person "
                               "(handoff exceptions list)")  # fmt: skip
        for column in ("id", "flow", "record", "rule", "what to do"):
            problems.add_column(column, overflow="fold")
        for record in waiting:
            problems.add_row(str(record.id), record.flow, record.record, record.rule,
                             record.suggested_fix or "")  # fmt: skip
        console.print(problems)
    console.print("The same figures are on each HubSpot deal and Salesforce opportunity "
                  "(handoff_invoiced_to_date ..., Handoff_Invoiced_To_Date__c ...).")  # fmt: skip


def print_proposals(hub: Hub, console: Console, names: dict[str, str]) -> None:
    """Every proposal of the run, blocked ones included: what it bills and what became of it."""
    from handoff.invoicing.records import Proposals, ProposalStatus

    proposals = sorted(Proposals(hub.store).list(limit=1000), key=lambda p: p.id)
    if not proposals:
        return
    blocked = [p for p in proposals if p.status == ProposalStatus.FAILED]
    title = f"{len(proposals)} billing proposals" + (
        f", {len(blocked)} not invoiced" if blocked else ""
    )
    table = SafeTable(title=title)
    for column in ("id", "deal", "period", "total", "status", "invoices / why not"):
        table.add_column(column, overflow="fold")
    for p in proposals:
        outcome = ", ".join(map(str, p.invoice_ids)) if p.invoice_ids else (p.error or "")
        status = Text(str(p.status), style="red" if p.status == ProposalStatus.FAILED else "")
        table.add_row(str(p.id), names.get(p.deal_key, p.deal_key), p.period,
                      f"{p.total:,.2f} {p.currency}", status, outcome[:160])  # fmt: skip
    console.print(table)


def _pending(hub: Hub, source: str) -> int:
    return sum(
        e.status not in ("done", "failed") for e in hub.inbox.list(source=source, limit=5000)
    )


def _settled(hub: Hub, source: str) -> int:
    return sum(e.status in ("done", "failed") for e in hub.inbox.list(source=source, limit=50000))


def _wait(hub: Hub, console: Console, source: str, total: int, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with Progress(console=console) as progress:
        task = progress.add_task(what, total=total)
        while time.monotonic() < deadline:
            done = _settled(hub, source)
            progress.update(task, completed=min(done, total))
            if done >= total:
                return
            time.sleep(0.5)


def _wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.3)
