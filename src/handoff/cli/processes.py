"""Long-running processes: `run` (API + workers + scheduler, the default), `worker`, `api`."""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import ExitStack
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from rich.console import Console
from rich.progress import Progress

from handoff.cli.output import shown
from handoff.engine import flows
from handoff.engine.runtime import Hub, describe, start_hub
from handoff.observability import logging as hub_logging

console = Console(stderr=True)


def _print_layout(hub: Hub, *, api: str | None, worker: str | None) -> None:
    for label, value in describe(hub).items():
        console.print(f"[bold]{label:>16}[/bold]  {shown(value)}")
    if api:
        console.print(f"[bold]{'api':>16}[/bold]  {api} (/healthz /readyz /metrics /webhooks/...)")
    if worker:
        queues = ", ".join(spec.name for spec in flows.queue_specs(hub.settings))
        console.print(f"[bold]{'worker':>16}[/bold]  executor {worker}, queues: {queues}")
        console.print(f"[bold]{'flows':>16}[/bold]  {', '.join(flows.registered()) or 'none'}")


def _open_hub() -> Hub:
    """``start_hub()``, or one line naming the store URL (password hidden) and what to check,
    and exit code 2, when the store or the durable engine's database cannot be opened."""
    from handoff.config import DATABASE_URL_ENV_VAR, load_settings, redact

    settings = load_settings()
    try:
        return start_hub(settings)
    except Exception as error:  # any driver's error: said in a line, not a 500-line traceback
        url = redact(settings.store_url())
        reason = redact(str(error).strip().splitlines()[0] if str(error).strip() else "")
        reason = reason[:300] or type(error).__name__
        console.print(
            f"[red]error:[/red] cannot open the store at {shown(url)} "
            f"({shown(type(error).__name__)}: {shown(reason)}); check store.url in handoff.yaml "
            f"(or {DATABASE_URL_ENV_VAR}): driver, host, port, database name, user and password, "
            "and that the database server is running and reachable from here",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _sweep_inbox(hub: Hub, stop: threading.Event) -> None:
    """Hand over events that were stored but never started (the API died in between), every
    ``runtime.inbox_sweep_seconds``."""
    while not stop.wait(hub.settings.runtime.inbox_sweep_seconds):
        flows.dispatch_waiting(hub)


def _poll(hub: Hub, system: str, interval: float, stop: threading.Event) -> None:
    """Poll a CRM for changed deals every ``interval`` seconds (errors are logged, not fatal)."""
    from handoff.flows.polling import POLLERS

    log = hub_logging.get_logger("handoff.poll")
    while not stop.wait(interval):
        try:
            POLLERS[system](hub)
        except Exception:
            log.exception("poll of %s failed; next try in %.0f s", system, interval)


def _start_pollers(hub: Hub, stop: threading.Event) -> list[str]:
    from handoff.flows.polling import POLLERS

    started = []
    for name, flow_config in hub.settings.flows.items():
        poll = flow_config.trigger.poll if flow_config.trigger is not None else None
        if not flow_config.enabled or poll is None:
            continue
        kind = hub.settings.system(poll.system).kind
        if kind in POLLERS:
            threading.Thread(
                target=_poll, args=(hub, kind, poll.interval_seconds, stop), daemon=True
            ).start()
            started.append(f"{name}: poll {poll.system} every {poll.interval_seconds:g}s")
    return started


INVOICE_POLL_SECONDS = 20.0  # invoice and payment status reach the CRM within a minute


def invoice_poll_seconds(hub: Hub) -> float:
    """flows.invoice_status.trigger.poll.interval_seconds when configured, else 20 s."""
    configured = hub.settings.flows.get("invoice_status")
    trigger = configured.trigger if configured is not None else None
    poll = trigger.poll if trigger is not None else None
    return poll.interval_seconds if poll is not None else INVOICE_POLL_SECONDS


def _every(hub: Hub, name: str, seconds: float, job: Any, stop: threading.Event) -> None:
    log = hub_logging.get_logger("handoff.schedule")
    while not stop.wait(seconds):
        try:
            job(hub)
        except Exception:
            log.exception("%s failed; next try in %.0f s", name, seconds)


def _on_cron(hub: Hub, name: str, expression: str, job: Any, stop: threading.Event) -> None:
    from datetime import UTC, datetime

    from croniter import croniter

    log = hub_logging.get_logger("handoff.schedule")
    schedule = croniter(expression, datetime.now(UTC))
    while True:
        fires_at = schedule.get_next(datetime)
        if stop.wait(max(0.0, (fires_at - datetime.now(UTC)).total_seconds())):
            return
        try:
            job(hub, fires_at)
        except Exception:
            log.exception("%s failed at its scheduled time", name)


def _start_schedules(hub: Hub, stop: threading.Event) -> list[str]:
    """Alerts always; invoice-status polling and monitors with an Odoo; the invoice run on its
    cron when configured (flows.billing_run.trigger.cron in handoff.yaml). Intervals come from
    handoff.yaml (``runtime``, ``flows.invoice_status.trigger.poll``)."""
    from handoff.engine.alerts import Alerter
    from handoff.flows.billing_run import request_scheduled
    from handoff.flows.invoicing import poll_invoices
    from handoff.invoicing.monitors import run_monitors

    kinds = {system.kind for system in hub.settings.systems.values()}
    jobs: list[str] = []
    runtime = hub.settings.runtime
    threading.Thread(
        target=_every,
        args=(hub, "alerts", runtime.alerts_seconds, Alerter().check, stop),
        daemon=True,
    ).start()
    jobs.append(f"alerts every {runtime.alerts_seconds:g}s")
    if "odoo" in kinds:
        every = invoice_poll_seconds(hub)
        threading.Thread(
            target=_every, args=(hub, "invoice poll", every, poll_invoices, stop), daemon=True
        ).start()
        threading.Thread(
            target=_every,
            args=(hub, "monitors", runtime.monitors_seconds, run_monitors, stop),
            daemon=True,
        ).start()
        jobs += [
            f"invoice status poll every {every:g}s",
            f"monitors every {runtime.monitors_seconds:g}s",
        ]
    billing = hub.settings.flows.get("billing_run")
    if billing is not None and billing.enabled and billing.trigger and billing.trigger.cron:
        # Hands the run to the workers as a durable flow, once per firing whatever the number
        # of workers; it bills the month just ended when the cron fires in a month's first days,
        # else the current month (invoicing.service.scheduled_period).
        threading.Thread(
            target=_on_cron,
            args=(hub, "billing run", billing.trigger.cron, request_scheduled, stop),
            daemon=True,
        ).start()
        jobs.append(f"billing run on cron {billing.trigger.cron}")
    return jobs


def _start_worker(hub: Hub, executor_id: str | None, stop: threading.Event) -> str:
    from handoff.engine.runtime import default_executor_id

    executor = executor_id or default_executor_id()
    hub.launch(executor_id=executor)
    flows.dispatch_waiting(hub)
    threading.Thread(target=_sweep_inbox, args=(hub, stop), daemon=True).start()
    for line in [*_start_pollers(hub, stop), *_start_schedules(hub, stop)]:
        console.print(f"[bold]{'trigger':>16}[/bold]  {line}")
    return executor


def worker(
    executor_id: str | None = typer.Option(
        None,
        "--executor-id",
        envvar="HANDOFF_EXECUTOR_ID",
        help="stable name of this worker; a restarted worker with the same name resumes its flows",
    ),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Run flows from the queues until stopped (SIGTERM/Ctrl-C)."""
    hub_logging.configure(log_level)
    hub = _open_hub()
    stop = threading.Event()
    _stop_on_signals(stop)
    executor = _start_worker(hub, executor_id, stop)
    _print_layout(hub, api=None, worker=executor)
    stop.wait()
    hub.shutdown()


def server_options(hub: Hub) -> dict[str, Any]:
    """uvicorn's settings from handoff.yaml's ``api`` section: a cap on connections served at
    once (past it: 503 at once, so slow clients cannot hold every socket), a cap per client
    address (past it: 429 at once; ``handoff.api.client_limits``), the proxies whose
    X-Forwarded-For is believed (none unless configured: the client is the socket peer) and the
    idle time of a kept-alive connection. The body read timeout is the app's own
    (``handoff.api.bodies``)."""
    from handoff.api.client_limits import capped_protocol

    api = hub.settings.api
    proxies = api.forwarded_allow_ips
    return {
        "log_level": "warning",
        "access_log": False,
        "limit_concurrency": api.limit_concurrency,
        "timeout_keep_alive": api.keep_alive_timeout,
        "http": capped_protocol(api.max_connections_per_client, proxies),
        # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: here only
        # from the proxies handoff.yaml names.
        "proxy_headers": bool(proxies),
        **({"forwarded_allow_ips": list(proxies)} if proxies else {}),
    }


def api(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """Serve webhooks, health and metrics; flows run in workers."""
    import uvicorn

    from handoff.api.app import create_app

    hub_logging.configure(log_level)
    hub = _open_hub()
    _print_layout(hub, api=f"http://{host}:{port}", worker=None)
    uvicorn.run(create_app(hub), host=host, port=port, **server_options(hub))
    hub.shutdown()


def run(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    executor_id: str | None = typer.Option(None, "--executor-id", envvar="HANDOFF_EXECUTOR_ID"),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """API, workers and scheduler in one process: the default way to run Handoff."""
    import uvicorn

    from handoff.api.app import create_app

    hub_logging.configure(log_level)
    hub = _open_hub()
    stop = threading.Event()
    executor = _start_worker(hub, executor_id, stop)
    _print_layout(hub, api=f"http://{host}:{port}", worker=executor)
    try:
        uvicorn.run(create_app(hub), host=host, port=port, **server_options(hub))
    finally:
        stop.set()
        hub.shutdown()


def db_upgrade() -> None:
    """Bring the store's schema to the latest migration (`run` does this by itself)."""
    from handoff.store import migrate

    hub = _open_hub()
    console.print(
        f"store at revision {migrate.current_revision(hub.store)} ({describe(hub)['store']})"
    )


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
    import tempfile
    import time

    import httpx
    import uvicorn

    from handoff.api.app import create_app
    from handoff_sandbox.stack import ExternalOdoo, ForeignDataError, running_stack

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
                from handoff.cli.demo_cash import live_the_month, print_cash_summary

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


def _print_summary(hub: Hub, stack: Any) -> None:
    from handoff.cli.output import SafeTable

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
        problems = SafeTable(title=f"{len(exceptions)} deals need a person (handoff exceptions list)")
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
