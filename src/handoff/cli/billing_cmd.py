"""``handoff billing run|approve|proposals|set-cap`` and ``handoff monitors``: thin shells over
``handoff.invoicing`` (the scheduler and the API call the same functions)."""

from __future__ import annotations

import getpass
import uuid
from datetime import date
from decimal import Decimal, InvalidOperation

import typer
from rich.console import Console

from handoff.billing.engine import BillingPeriod
from handoff.cli.output import SafeTable, shown
from handoff.config import load_settings
from handoff.engine.runtime import Hub, start_hub
from handoff.engine.targets import running
from handoff.flows.billing_run import StepDone, run_and_wait
from handoff.invoicing.monitors import run_monitors
from handoff.invoicing.proposals import ProposalDraft
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import BillingError, approve, run_billing, set_cap

console = Console()
billing_app = typer.Typer(help="Invoice runs: proposals, approval, invoices.", no_args_is_help=True)
monitors_app = typer.Typer(help="Business monitors: unbilled work and billing anomalies.")


def _hub() -> Hub:
    return start_hub()


def _period(label: str | None) -> BillingPeriod:
    try:
        return BillingPeriod.month(label or f"{date.today():%Y-%m}")
    except ValueError as error:
        console.print(f"[red]error:[/red] {shown(error)}")
        raise typer.Exit(2) from None


def show_draft(draft: ProposalDraft) -> None:
    table = SafeTable(
        title=f"{draft.order_name} (project {draft.project}, {draft.billing_model}) — {draft.period}"
    )
    for column in ("line", "basis", "from", "quantity", "rate", "amount"):
        table.add_column(column, overflow="fold")
    for line in draft.lines:
        entries = ", ".join(
            f"{s.key}" + (f" {s.hours}h {s.consultant} {s.date}" if s.hours is not None else "")
            for s in line.sources[:10]
        ) + (f" (+{len(line.sources) - 10} more)" if len(line.sources) > 10 else "")
        conversion = line.conversion_text
        table.add_row(
            line.description + (f" — {conversion}" if conversion else ""),
            line.basis,
            entries,
            f"{line.quantity:f}",
            f"{line.unit_price:f}",
            f"{line.amount:f} {draft.currency}",
        )
    table.add_row("total", "", "", "", "", f"{draft.total:f} {draft.currency}")
    console.print(table)
    for warning in draft.warnings:
        console.print(f"  [yellow]warning:[/yellow] {shown(warning)}")


@billing_app.command("run")
def billing_run(
    period: str | None = typer.Option(None, help="YYYY-MM; default: this month"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="show the proposals the run would make, write nothing"
    ),
    require_approval: bool | None = typer.Option(
        None,
        "--require-approval/--no-approval",
        help="store proposals for `handoff billing approve` instead of invoicing them "
        "(default: billing.require_approval in handoff.yaml)",
    ),
    post: bool | None = typer.Option(
        None, "--post/--no-post", help="post the invoices (default: billing.post in handoff.yaml)"
    ),
    queue: bool = typer.Option(
        True, "--queue", hidden=True, help="kept for scripts: the run is always the durable flow"
    ),
    timeout: float = typer.Option(1800.0, help="seconds to wait for the run to end"),
    odoo: str | None = typer.Option(
        None, help="the Odoo system to bill, by name (needed when handoff.yaml has several)"
    ),
) -> None:
    """The invoice run for a month: proposals per project, then invoices through the orders.
    The workers run it as a durable flow (a worker that dies resumes it); this shows its steps
    as they end. Exit 1 when a proposal or the run failed, 3 when it did not end in time."""
    chosen = _period(period)
    odoos = load_settings().systems_of_kind("odoo")
    if odoo is not None and odoo not in odoos:
        console.print(f"[red]no Odoo system named {shown(odoo)}[/red] (Odoo systems: "
                      f"{shown(', '.join(odoos) or 'none')})")  # fmt: skip
        raise typer.Exit(2)
    if dry_run:
        with running(odoo):
            _preview(chosen, require_approval)
        return
    _queued_run(chosen, require_approval, post, timeout, odoo)


def _preview(period: BillingPeriod, require_approval: bool | None) -> None:
    """The proposals the run would make, read from Odoo and the store: nothing is written, so
    this is no run (nothing to make durable) and needs no worker."""
    result = run_billing(_hub(), period, dry_run=True, require_approval=require_approval)
    for draft in result.drafts:
        show_draft(draft)
    for skipped in result.skipped:
        console.print(f"[yellow]skipped:[/yellow] {shown(skipped)}")
    for deal_key, problems in result.problems.items():
        for problem in problems:
            if problem.severity == "exception":
                console.print(
                    f"[red]held back[/red] {shown(deal_key)} {shown(problem.rule)}: "
                    f"{shown(problem.message)}"
                )
    console.print(f"dry run: {len(result.drafts)} proposals, nothing written")


def _queued_run(
    period: BillingPeriod,
    require_approval: bool | None,
    post: bool | None,
    timeout: float,
    odoo: str | None = None,
) -> None:
    def show(step: StepDone) -> None:
        outcome = "ok" if step.error is None else f"[red]{shown(step.error)}[/red]"
        console.print(f"  step {step.number} {shown(step.name)}: {outcome}")

    console.print(f"billing run for {period.label} handed to the workers ...")
    outcome = run_and_wait(_hub(), period, requested=f"cli@{uuid.uuid4().hex[:12]}",
                           timeout=timeout, require_approval=require_approval, post=post,
                           on_step=show, odoo=odoo)  # fmt: skip
    if outcome.status not in ("done", "failed"):
        waiting = "no worker took it" if outcome.run_status == "ENQUEUED" else "still running"
        console.print(f"[red]{waiting} after {timeout:g}s[/red] (inbox {outcome.inbox_id}; "
                      "is `handoff worker` or `handoff run` running?)")  # fmt: skip
        raise typer.Exit(3)
    output = outcome.output
    console.print(
        f"{len(output.get('proposed', []))} proposals stored, "
        f"{len(output.get('invoiced', {}))} invoiced, {len(output.get('failed', {}))} failed"
    )
    for proposal_id, error in (output.get("failed") or {}).items():
        console.print(f"[red]proposal {shown(proposal_id)} failed:[/red] {shown(error)}")
    if outcome.status == "failed":
        console.print("[red]the run failed:[/red] see `handoff exceptions list`")
    if outcome.status == "failed" or output.get("failed"):
        raise typer.Exit(1)


@billing_app.command("approve")
def billing_approve(
    proposal_id: int,
    by: str = typer.Option(None, help="who approves (default: the current user)"),
    post: bool | None = typer.Option(
        None, "--post/--no-post", help="post the invoices (default: billing.post in handoff.yaml)"
    ),
) -> None:
    try:
        invoices = approve(_hub(), proposal_id, by=by or getpass.getuser(), post=post)
    except BillingError as error:
        console.print(f"[red]error:[/red] {shown(error)}")
        raise typer.Exit(1) from None
    console.print(f"proposal {proposal_id} invoiced: account.move {shown(invoices)}")


@billing_app.command("set-cap")
def billing_set_cap(
    deal: str = typer.Argument(..., help="deal key, e.g. hubspot:deal:123"),
    amount: str = typer.Argument(..., help="not-to-exceed cap, untaxed; 'none' removes it"),
    by: str = typer.Option(None, help="who agreed it (default: the current user)"),
) -> None:
    """Record a time & materials deal's agreed not-to-exceed cap (e.g. after a change order)."""
    try:
        cap = None if amount.strip().lower() == "none" else Decimal(amount)
        set_cap(_hub(), deal, cap, by=by or getpass.getuser())
    except (InvalidOperation, BillingError) as error:
        console.print(f"[red]error:[/red] {shown(error or f'{amount!r} is not an amount')}")
        raise typer.Exit(1) from None
    console.print(f"{shown(deal)}: not-to-exceed {'removed' if cap is None else f'{cap:f}'}")


@billing_app.command("proposals")
def billing_proposals(
    status: str | None = typer.Option(None, help="proposed, approved, invoiced, failed"),
    limit: int = typer.Option(50, min=1, max=5000),
) -> None:
    table = SafeTable(title="Billing proposals")
    for column in ("id", "period", "project", "deal", "total", "status", "approved by", "invoices"):
        table.add_column(column, overflow="fold")
    for r in Proposals(_hub().store).list(status=status, limit=limit):
        table.add_row(
            str(r.id),
            r.period,
            r.project,
            r.deal_key,
            f"{r.total:.2f} {r.currency}",
            r.status,
            r.approved_by or "",
            ",".join(map(str, r.invoice_ids)),
        )
    console.print(table)


@monitors_app.callback(invoke_without_command=True)
def monitors(
    older_than_days: int | None = typer.Option(
        None,
        "--days",
        min=0,
        help="age of unbilled time (default: billing.unbilled_after_days in handoff.yaml)",
    ),
) -> None:
    """List what each monitor finds (and set its gauge)."""
    report = run_monitors(_hub(), older_than_days=older_than_days)
    for name, items in report.items.items():
        console.print(f"[bold]{shown(name)}[/bold]: {len(items)}")
        for item in items:
            console.print(f"  {shown(item.deal)} {shown(item.record)}: {shown(item.detail)}")
