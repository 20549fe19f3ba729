"""``handoff-demo``: the quote-to-cash demo. It starts the sandboxes seeded with the demo firm,
runs the hub (API, workers, scheduler) in this process on SQLite, wins the open deals in both CRMs
and lives a month of delivery against it.

The demo is a client of the hub: it runs the hub the way ``handoff run`` does and reads its
stores for the summary. It lives here, not in the hub's ``handoff`` command, so the production
package carries no emulator and never imports this one.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import typer
import uvicorn
from rich.progress import Progress

from handoff.api.app import create_app
from handoff.cli.output import SafeTable, shown
from handoff.cli.processes import _print_layout, _start_worker, _stop_on_signals, console
from handoff.engine.runtime import Hub, start_hub
from handoff.observability import logging as hub_logging
from handoff_sandbox.demo_cash import live_the_month, print_cash_summary
from handoff_sandbox.stack import ExternalOdoo, ForeignDataError, Stack, running_stack

app = typer.Typer(
    name="handoff-demo",
    help="The Handoff quote-to-cash demo against the sandboxes (or a staging Odoo).",
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.command()
def demo(
    port: int = typer.Option(8080, help="port of the hub's API (webhooks arrive there)"),
    once: bool = typer.Option(False, "--once", help="stop after the summary instead of serving"),
    folder: Path | None = typer.Option(None, help="where the demo keeps its data (default: new)"),
    timeout: float = typer.Option(300.0, help="seconds to wait for each stage of the demo"),
    entries: int = typer.Option(
        2000, min=0, help="time entries the month brings (the firm logs ~5,000); 0: stop at orders"
    ),
    odoo_url: str | None = typer.Option(
        None, help="an existing Odoo (e.g. your staging server) instead of the Odoo sandbox"
    ),
    odoo_db: str | None = typer.Option(None, help="its database (with --odoo-url)"),
    odoo_user: str = typer.Option("admin", help="its login (with --odoo-url)"),
    odoo_key_env: str = typer.Option(
        "HANDOFF_DEMO_ODOO_KEY", help="environment variable holding that login's API key"
    ),
    odoo_allow_existing_data: bool = typer.Option(
        False, help="seed a database that holds data the demo did not make"
    ),
) -> None:
    """The quote-to-cash demo on the embedded default: start Odoo, HubSpot and Salesforce
    sandboxes seeded with a services firm, run the hub (API, workers, scheduler) on SQLite, move
    the open deals to won in both CRMs, then live a month of delivery (time entries, expenses,
    milestones, the invoice run, card payments, status back to the CRMs), and print what was
    created where."""

    external = None
    if odoo_url is not None:
        key = os.environ.get(odoo_key_env)
        if not odoo_db or not key:
            raise typer.BadParameter(
                f"--odoo-url needs --odoo-db and the API key in ${odoo_key_env}"
            )
        external = ExternalOdoo(odoo_url.rstrip("/"), odoo_db, odoo_user, key,
                                allow_existing_data=odoo_allow_existing_data)  # fmt: skip
    # The summary lists what needs a person; the log lines behind it would bury the demo.
    hub_logging.configure("ERROR")
    where = folder or Path(tempfile.mkdtemp(prefix="handoff-demo-"))
    odoo_where = f"Odoo {odoo_url} database {odoo_db}" if external else "the Odoo sandbox"
    console.print(f"Starting the sandboxes and seeding the demo firm ({odoo_where}) in {where} ...")
    with ExitStack() as scope:
        try:
            stack = scope.enter_context(running_stack(where, hub_port=port, odoo=external))
        except ForeignDataError as refused:
            console.print(f"[red]{refused}[/red]")
            raise typer.Exit(2) from None
        hub = start_hub()  # the stack's handoff.yaml (HANDOFF_CONFIG) on SQLite in `where`
        stop = threading.Event()
        executor = _start_worker(hub, None, stop)
        # DBOS logs a traceback for every flow that ends in an exception record; here the
        # summary says the same in a sentence.
        logging.getLogger("dbos").setLevel(logging.CRITICAL)
        server = uvicorn.Server(
            uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            while not server.started:
                stop.wait(0.05)
            httpx.get(f"{stack.hub_url}/readyz", timeout=5).raise_for_status()
            _print_layout(hub, api=stack.hub_url, worker=executor)
            deals = stack.winnable_deals()
            console.print(f"Moving {len(deals)} open deals to won in HubSpot and Salesforce ...")
            stack.win(*(d.key for d in deals))
            deadline = time.monotonic() + timeout
            with Progress(console=console) as progress:
                task = progress.add_task("delivering won deals", total=len(deals))
                while time.monotonic() < deadline:
                    settled = _settled_deals(hub)
                    progress.update(task, completed=min(settled, len(deals)))
                    if settled >= len(deals):
                        break
                    stop.wait(0.5)
            _print_summary(hub, stack)
            if entries:
                month = live_the_month(hub, stack, console, entries=entries, timeout=timeout)
                print_cash_summary(hub, stack, console, month)
            if not once:
                console.print("Serving; Ctrl-C stops.")
                _stop_on_signals(stop)
                stop.wait()
        finally:
            stop.set()
            server.should_exit = True
            thread.join(10)
            hub.shutdown()


def _settled_deals(hub: Hub) -> int:
    """Deals whose latest event has been handled (delivered, or an exception raised)."""
    latest: dict[str, str] = {}
    for event in reversed(hub.inbox.list(limit=5000)):
        if ":deal:" in event.entity_key:
            latest[event.entity_key] = event.status
    return sum(status in ("done", "failed") for status in latest.values())


def _print_summary(hub: Hub, stack: Stack) -> None:
    orders = hub.bindings.all(model="sale.order")
    table = SafeTable(title=f"{len(orders)} won deals now confirmed sales orders in Odoo")
    for column in ("deal", "Odoo sale.order id", "projects"):
        table.add_column(column)
    projects: dict[str, list[str]] = {}
    for binding in hub.bindings.all(model="project.project"):
        projects.setdefault(binding.canonical_id, []).append(binding.external_id)
    for binding in orders:
        table.add_row(
            binding.canonical_id,
            binding.external_id,
            ", ".join(projects.get(binding.canonical_id, [])),
        )
    console.print(table)
    exceptions = hub.exceptions.list(limit=100)
    if exceptions:
        problems = SafeTable(
            title=f"{len(exceptions)} deals need a person (handoff exceptions list)"
        )
        for column in ("id", "deal", "rule", "what to do"):
            problems.add_column(column, overflow="fold")
        for record in exceptions:
            problems.add_row(str(record.id), record.record, record.rule, record.suggested_fix or "")
        console.print(problems)
    for label, value in stack.where_to_look().items():
        console.print(f"[bold]{label:>16}[/bold]  {shown(value)}")
    console.print(
        "Next: handoff flows list · handoff exceptions show ID · handoff audit search · "
        "handoff billing run --dry-run   (with HANDOFF_CONFIG="
        f"{stack.config_path})"
    )


def main() -> None:
    """The ``handoff-demo`` console script."""
    app()


if __name__ == "__main__":
    main()
