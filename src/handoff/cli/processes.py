"""Long-running processes: `run` (API + workers + scheduler, the default), `worker`, `api`."""

from __future__ import annotations

import gc
import signal
import threading
from types import FrameType
from typing import Any

import typer
from rich.console import Console

from handoff.cli.output import shown
from handoff.config import DATABASE_URL_ENV_VAR, load_settings, redact
from handoff.engine import flows, launcher
from handoff.engine.runtime import Hub, default_executor_id, describe, start_hub
from handoff.observability import logging as hub_logging
from handoff.store import migrate

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


def _start_worker(hub: Hub, executor_id: str | None, stop: threading.Event) -> str:
    """Launch the durable engine (this worker takes flows from every queue) and install the
    hub's schedules (``flows.polling.hub_schedules``): the engine's scheduled workflows, which
    every worker registers and which run once per tick whatever the number of workers.
    ``stop`` is the caller's (the engine stops with ``hub.shutdown``)."""
    # Here, not at the top: the flow modules load with a worker, not with every CLI command.
    from handoff.engine.schedules import install
    from handoff.flows.polling import hub_schedules

    executor = executor_id or default_executor_id()
    launcher.launch(hub, executor_id=executor)
    schedules = hub_schedules(hub.settings)
    install(schedules)
    for schedule in schedules:
        console.print(f"[bold]{'trigger':>16}[/bold]  {schedule.what}")
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
    (``handoff.ingress.bodies``)."""
    from handoff.api.client_limits import capped_protocol  # serving only: loads the web stack

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

    from handoff.api.app import create_app  # serving only: FastAPI loads with the API

    hub_logging.configure(log_level)
    hub = _open_hub()
    _print_layout(hub, api=f"http://{host}:{port}", worker=None)
    app = create_app(hub)
    # What startup built lives as long as the process: out of the collector's way, so that a
    # full collection under load walks the requests' objects only (shorter pauses, p99).
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=host, port=port, **server_options(hub))
    hub.shutdown()


def run(
    host: str = typer.Option("127.0.0.1"),
    port: int = typer.Option(8080),
    executor_id: str | None = typer.Option(None, "--executor-id", envvar="HANDOFF_EXECUTOR_ID"),
    log_level: str = typer.Option("INFO", "--log-level"),
) -> None:
    """API, workers and scheduler in one process: the default way to run Handoff."""
    import uvicorn

    from handoff.api.app import create_app  # serving only: FastAPI loads with the API

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
    hub = _open_hub()
    console.print(
        f"store at revision {migrate.current_revision(hub.store)} ({describe(hub)['store']})"
    )
