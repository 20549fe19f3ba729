"""Long-running processes: `run` (API + workers + scheduler, the default), `worker`, `api`."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

import typer
from rich.console import Console

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
