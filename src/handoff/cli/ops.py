"""Operator commands: flows, exceptions, inbox, audit, circuits. Each is a thin shell over
``handoff.services`` so the API and the console do exactly the same thing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from handoff import services
from handoff.cli.output import cell, plain, shown
from handoff.engine.breaker import CircuitView
from handoff.engine.runtime import Hub, start_hub
from handoff.store.models import CircuitState

console = Console()
flows_app = typer.Typer(help="Durable flow runs: list, inspect, replay.", no_args_is_help=True)
exceptions_app = typer.Typer(help="Failures waiting for a person.", no_args_is_help=True)
inbox_app = typer.Typer(help="Events received by the hub.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit trail.", no_args_is_help=True)
circuits_app = typer.Typer(help="Circuit breakers per target system.", no_args_is_help=True)


def _hub() -> Hub:
    return start_hub()


def _fail(error: services.OperationError) -> None:
    console.print(f"[red]error:[/red] {_fmt(error)}")
    raise typer.Exit(1)


def _fmt(value: Any) -> str:
    """A value inside a markup string: plain text, control characters escaped, markup escaped."""
    return shown(value)


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    console.print(table)


@flows_app.command("list")
def flows_list(
    status: str | None = typer.Option(None, help="PENDING, ENQUEUED, SUCCESS, ERROR, CANCELLED"),
    flow: str | None = typer.Option(None, help="only runs of this flow"),
    limit: int = typer.Option(50, min=1, max=5000),
) -> None:
    runs = services.list_flow_runs(_hub(), status=status, flow=flow, limit=limit)
    _table(
        "Flow runs",
        ["id", "flow", "status", "entity", "executor", "updated"],
        [[r.workflow_id, r.flow, r.status, r.entity, r.executor, r.updated_at] for r in runs],
    )


@flows_app.command("show")
def flows_show(workflow_id: str) -> None:
    try:
        run, steps = services.show_flow_run(_hub(), workflow_id)
    except services.OperationError as error:
        _fail(error)
        return
    console.print(
        f"[bold]{_fmt(run.flow)}[/bold] {_fmt(run.workflow_id)}: {_fmt(run.status)} "
        f"(entity {_fmt(run.entity)}, queue {_fmt(run.queue)}, executor {_fmt(run.executor)})"
    )
    if run.error:
        console.print(f"[red]error:[/red] {_fmt(run.error)}")
    _table(
        "Steps",
        ["#", "step", "outcome", "started", "finished"],
        [[s.number, s.name, s.outcome, s.started_at, s.finished_at] for s in steps],
    )


@flows_app.command("replay")
def flows_replay(
    workflow_id: str,
    from_step: int | None = typer.Option(None, "--from-step", help="first step to run again"),
) -> None:
    try:
        new_id = services.replay_flow_run(_hub(), workflow_id, from_step=from_step)
    except services.OperationError as error:
        _fail(error)
        return
    console.print(f"replaying {_fmt(workflow_id)} as {_fmt(new_id)}")


@exceptions_app.command("list")
def exceptions_list(
    status: str = typer.Option("open", help="open, retrying, resolved, ignored or all"),
    limit: int = typer.Option(50, min=1, max=5000),
) -> None:
    records = _hub().exceptions.list(status=None if status == "all" else status, limit=limit)
    _table(
        "Exceptions",
        ["id", "flow", "record", "kind", "rule", "message", "status"],
        [[e.id, e.flow, e.record, e.kind, e.rule, e.message[:120], e.status] for e in records],
    )


@exceptions_app.command("show")
def exceptions_show(exception_id: int) -> None:
    record = _hub().exceptions.get(exception_id)
    if record is None:
        _fail(services.OperationError(f"no exception {exception_id}"))
        return
    for label, value in [
        ("exception", record.id),
        ("status", record.status),
        ("flow", record.flow),
        ("flow run", record.workflow_id),
        ("failed step", record.step),
        ("record", record.record),
        ("kind", record.kind),
        ("rule", record.rule),
        ("value", record.value),
        ("message", record.message),
        ("what to do", record.suggested_fix),
        ("context", record.context),
        ("correlation id", record.correlation_id),
        ("created", record.created_at),
        (
            "resolved",
            f"{plain(record.resolved_at)} by {record.resolved_by}: {record.resolution}"
            if record.resolved_by
            else None,
        ),
    ]:
        if value not in (None, "", {}):
            console.print(f"[bold]{label:>15}[/bold]  {_fmt(value)}")


@exceptions_app.command("retry")
def exceptions_retry(
    exception_ids: list[int] = typer.Argument(None, help="exception ids (or --all-open)"),
    all_open: bool = typer.Option(False, "--all-open", help="retry every open exception"),
) -> None:
    """Continue the flows behind exceptions from the step that failed, after a fix."""
    hub = _hub()
    ids = [e.id for e in hub.exceptions.list(limit=100_000)] if all_open else exception_ids or []
    if not ids:
        _fail(services.OperationError("name exception ids, or use --all-open"))
    failed = 0
    with Progress(console=console, transient=len(ids) == 1) as progress:
        task = progress.add_task("retrying", total=len(ids))
        for exception_id in ids:
            try:
                new_id = services.retry_exception(hub, exception_id)
                progress.console.print(
                    f"exception {exception_id}: flow continues as {_fmt(new_id)}"
                )
            except services.OperationError as error:
                failed += 1
                progress.console.print(f"[red]exception {exception_id}:[/red] {_fmt(error)}")
            progress.advance(task)
    if failed:
        raise typer.Exit(1)


@exceptions_app.command("ignore")
def exceptions_ignore(
    exception_id: int, reason: str = typer.Option(..., "--reason", help="why it needs no action")
) -> None:
    try:
        services.ignore_exception(_hub(), exception_id, reason=reason)
    except services.OperationError as error:
        _fail(error)
        return
    console.print(f"exception {exception_id} ignored")


@inbox_app.command("list")
def inbox_list(
    source: str | None = typer.Option(None),
    status: str | None = typer.Option(None, help="received, queued, done, failed"),
    limit: int = typer.Option(50, min=1, max=5000),
) -> None:
    events = _hub().inbox.list(source=source, status=status, limit=limit)
    _table(
        "Inbox",
        ["id", "source", "event", "kind", "entity", "status", "received", "flow run"],
        [
            [
                e.id,
                e.source,
                e.source_event_id,
                e.kind,
                e.entity_key,
                e.status,
                e.received_at,
                e.workflow_id,
            ]
            for e in events
        ],
    )


@audit_app.command("search")
def audit_search(
    text: str | None = typer.Argument(None, help="record id, canonical id, model, action, run id"),
    correlation_id: str | None = typer.Option(None, "--correlation-id"),
    system: str | None = typer.Option(None),
    since_hours: float | None = typer.Option(None, "--since-hours"),
    limit: int = typer.Option(100, min=1, max=10000),
) -> None:
    since = datetime.now(UTC) - timedelta(hours=since_hours) if since_hours else None
    entries = _hub().audit.search(
        text=text, correlation_id=correlation_id, system=system, since=since, limit=limit
    )
    _table(
        "Audit trail",
        ["at", "actor", "action", "system", "model", "record", "changes", "correlation"],
        [
            [
                e.at,
                e.actor,
                e.action,
                e.system,
                e.model,
                e.record_id,
                ", ".join(sorted(e.diff))[:80],
                e.correlation_id,
            ]
            for e in entries
        ],
    )


@circuits_app.command("list")
def circuits_list() -> None:
    _table(
        "Circuit breakers",
        ["system", "state", "consecutive failures", "open until", "last error"],
        [
            [
                c.system,
                c.state.value,
                c.consecutive_failures,
                _open_until(c),
                (c.last_error or "")[:80],
            ]
            for c in services.circuits(_hub())
        ],
    )


def _open_until(circuit: CircuitView) -> str:
    """Open-until while the circuit is open; once it has passed the state reads half-open."""
    if circuit.opened_until is None or circuit.state == CircuitState.CLOSED:
        return ""
    if circuit.probe_since is not None:
        return f"{plain(circuit.opened_until)} (passed: probe in flight since {plain(circuit.probe_since)})"
    if circuit.state == CircuitState.HALF_OPEN:
        return f"{plain(circuit.opened_until)} (passed: next call probes)"
    return plain(circuit.opened_until)


approvals_app = typer.Typer(
    help="Won deals waiting on a gate before delivery starts.", no_args_is_help=True
)


@approvals_app.command("list")
def approvals_list(
    all_gates: bool = typer.Option(False, "--all", help="include satisfied gates"),
) -> None:
    gates = _hub().gates.list(status=None if all_gates else "waiting")
    _table(
        "Gates",
        ["id", "deal", "name", "gate", "status", "since", "lifted by"],
        [
            [g.id, g.deal_key, g.deal_name, g.gate, g.status, g.requested_at, g.satisfied_by]
            for g in gates
        ],
    )


@approvals_app.command("approve")
def approvals_approve(
    gate_id: int, by: str = typer.Option("operator", "--by", help="who approves")
) -> None:
    try:
        services.approve(_hub(), gate_id, by=by)
    except services.OperationError as error:
        _fail(error)
        return
    console.print(f"approval {_fmt(gate_id)} given; the deal's flow continues")


customers_app = typer.Typer(
    help="Decisions on customers the hub could not match alone.", no_args_is_help=True
)


@customers_app.command("bind")
def customers_bind(
    source: str,
    external_id: str,
    partner: int = typer.Option(..., "--partner", help="the Odoo partner id it is"),
    by: str = typer.Option("operator", "--by"),
) -> None:
    try:
        services.bind_customer(_hub(), source, external_id, partner, by=by)
    except services.OperationError as error:
        _fail(error)
        return
    console.print(
        f"{_fmt(source)} customer {_fmt(external_id)} is Odoo partner {_fmt(partner)}; "
        "retry its exception"
    )


@customers_app.command("mark-different")
def customers_mark_different(
    source: str,
    external_id: str,
    partner: list[int] = typer.Option(..., "--partner", help="an Odoo partner it is not"),
    by: str = typer.Option("operator", "--by"),
) -> None:
    services.mark_different(_hub(), source, external_id, partner, by=by)
    console.print(
        f"{_fmt(source)} customer {_fmt(external_id)} will never match partners {_fmt(partner)}"
    )
