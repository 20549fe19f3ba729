"""Time entries from the signed webhook to timesheets in Odoo, end to end, against the Odoo sandbox
with 15 ms of latency injected per call, compared with the raw limit: the same rows written
straight to the sandbox with one batched ``create`` per 1,000 rows.

    python benchmarks/time_entries.py [--rows 2000] [--projects 20] [--latency-ms 15]
                                      [--store sqlite|postgresql|both]
                                      [--modes batch-500,batch-small,batch-singles,single]
                                      [--odoo-url http://127.0.0.1:8069 --odoo-db psa]

With ``--odoo-url`` both sides run against that (real) Odoo instead of the sandbox, with no
latency injected (password from $BENCH_ODOO_PASSWORD, default admin); each run seeds its own
orders and projects, so the database may be reused.

End to end = signed POSTs to /webhooks/time of a real ``handoff api`` process -> inbox (waiting
for its batch) -> one ``handoff worker`` process: the batch dispatcher and the ``time_entry``
runs -> account.analytic.line created with its external id -> binding in the store; the clock
stops when every entry's run is done. Modes (``MODES``): ``batch-500`` (500 entries per call, one
call at a time), ``batch-small`` (20 per call, 8 calls at once), ``batch-singles`` (one entry per
call, 16 at once: cross-delivery batching), ``single`` (``flows.time_entry.batch: false``: one run
per entry, the slow path). Each line prints the hub's rate over the raw one, the runs it took, the
intake time, and the peak RSS (VmHWM) of the API and worker processes.
Entry ids carry the run's seed, so a reused database never adopts an earlier run's timesheets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from handoff.billing.products import required_product_setup
from handoff.canonical.crm import BillingModel
from handoff.config import load_settings
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import OrderLineIn, QuoteToCashAdapter, SaleOrderIn
from handoff.engine import flows
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.ingress.events import sign
from handoff.store.models import InboxEvent, InboxStatus
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


PG = os.environ.get("HANDOFF_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret"
CONSULTANTS = 30


@dataclass(frozen=True)
class RealOdoo:
    """A running Odoo the benchmark does not start (no fault controls: nothing is injected)."""

    url: str
    db: str
    login: str = "admin"
    password: str = os.environ.get("BENCH_ODOO_PASSWORD", "admin")

    def set_faults(self, **_: Any) -> None:
        return None


Target = RealOdoo | RunningSandbox
REAL: RealOdoo | None = None  # set by --odoo-url


@contextmanager
def odoo_target() -> Iterator[Target]:
    if REAL is not None:
        yield REAL
        return
    with running_odoo_sandbox() as box:
        yield box


@dataclass
class Firm:
    deals: list[str]
    projects: list[int]
    tasks: dict[int, int]
    employees: list[int]
    run: str


def seed(box: Target, projects: int) -> Firm:
    """A product, a client, 30 consultants and ``projects`` confirmed T&M orders, all new."""
    odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
    q2c = QuoteToCashAdapter(odoo)
    run = uuid.uuid4().hex[:8]
    product = odoo.create(
        "product.product",
        {
            "name": "Consulting hour",
            "default_code": f"SVC-TM-{run}",
            "list_price": 150.0,
            **required_product_setup(BillingModel.TIME_AND_MATERIALS),
        },
    )
    partner = odoo.create("res.partner", {"name": f"Bench Client {run}", "is_company": True})
    employees = odoo.create_many(
        "hr.employee",
        [
            {"name": f"Consultant {i} {run}", "work_email": f"c{i}.{run}@firm.example"}
            for i in range(CONSULTANTS)
        ],
    )
    deals, project_ids, tasks = [], [], {}
    for p in range(projects):
        order = q2c.create_sale_order(
            SaleOrderIn(
                reference=f"bench-{run}:{p}",
                partner_id=partner,
                lines=[OrderLineIn(product_id=product, quantity=10000, price_unit=150)],
            )
        )
        deals.append(f"hubspot:deal:{run}-{p}")
        project_ids.append(order.project_ids[0])
        tasks[order.project_ids[0]] = order.task_ids[0]
    return Firm(deals, project_ids, tasks, employees, run)


def items(rows: int, firm: Firm) -> list[dict[str, Any]]:
    return [
        {
            "kind": "time",
            "source_id": f"T-{firm.run}-{i}",
            "revision": "1",
            "consultant": f"c{i % CONSULTANTS}.{firm.run}@firm.example",
            "deal_ref": firm.deals[i % len(firm.deals)],
            "date": f"2026-11-{1 + i % 28:02d}",
            "hours": 1 + (i % 8) / 4,
            "billable": True,
            "approval": "approved",
            "description": f"Work item {i}",
        }
        for i in range(rows)
    ]


def config(
    store_url: str, odoo_url: str, odoo_db: str, batch: bool = True, odoo_limits: str = ""
) -> str:
    """The benchmark's handoff.yaml; ``odoo_limits``: extra keys of the Odoo system (``,
    concurrency: 24, worker_concurrency: 8``)."""
    batching = "{size: 1000, linger_ms: 200}" if batch else "false"
    return f"""
version: 1
store: {{url: "{store_url}"}}
systems:
  odoo: {{kind: odoo, url: "{odoo_url}", database: {odoo_db}, username: admin,
          credentials: {{password: "${{BENCH_ODOO_PASSWORD}}"}}{odoo_limits}}}
  timetracker: {{kind: http, url: "https://timetracker.example", webhook_secret: "${{BENCH_TIME_SECRET}}",
                allowed_flows: [time_entry]}}
# The benchmark posts from one address at up to --concurrency connections at once.
api: {{max_connections_per_client: 256}}
flows:
  time_entry: {{batch: {batching}}}
"""


WORKER_ID = "bench-worker"


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident set (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def worker_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("worker-*.log"))


@contextmanager
def hub_processes(
    folder: Path, env: dict[str, str], workers: int = 1
) -> Iterator[tuple[str, list[int]]]:
    """`handoff api` and ``workers`` `handoff worker` processes on handoff.yaml in ``folder``
    (logs ``api.log``, ``worker-<n>.log``): the API's URL and the processes' ids."""
    port = free_port()
    command = [sys.executable, "-m", "handoff.cli.main"]
    api_argv = ["api", "--port", str(port), "--log-level", "WARNING"]
    commands = [(api_argv, folder / "api.log", "")]
    for n in range(1, workers + 1):
        executor = f"{WORKER_ID}-{n}"
        argv = ["worker", "--executor-id", executor, "--log-level", "WARNING"]
        commands.append((argv, folder / f"worker-{n}.log", executor))
    started: list[subprocess.Popen[bytes]] = []
    try:
        for argv, log, _ in commands:
            started.append(
                subprocess.Popen(
                    [*command, *argv],
                    env=env,
                    cwd=folder,
                    stdout=log.open("wb"),
                    stderr=subprocess.STDOUT,
                )
            )
        api = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                # A worker prints its layout (executor, queues) once it has launched the engine.
                if httpx.get(f"{api}/readyz", timeout=2).status_code == 200 and all(
                    f"executor {executor}" in log.read_text(errors="replace")
                    for _, log, executor in commands[1:]
                ):
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            raise RuntimeError(f"hub processes not ready; see {folder}")
        yield api, [process.pid for process in started]
    finally:
        for process in started:
            process.send_signal(signal.SIGTERM)
        for process in started:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def post_all(api: str, payload: list[dict[str, Any]], request_size: int, concurrency: int) -> None:
    """POST the items, ``request_size`` per signed call, ``concurrency`` calls at once."""
    chunks = [payload[i : i + request_size] for i in range(0, len(payload), request_size)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(timeout=120, limits=limits) as http:

        def post(chunk: list[dict[str, Any]]) -> None:
            body = json.dumps(chunk).encode()
            response = http.post(
                f"{api}/webhooks/time",
                content=body,
                headers={
                    "X-Handoff-Signature": sign(SECRET, body),
                    "Content-Type": "application/json",
                },
            )
            response.raise_for_status()

        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, chunks))


@dataclass
class Run:
    seconds: float
    posted: float
    runs: int
    peak_mb: list[float]


def end_to_end(
    store_url: str,
    rows: int,
    projects: int,
    latency_ms: float,
    batch: bool,
    request_size: int = 500,
    concurrency: int = 1,
) -> Run:
    """The hub as it runs: `handoff api` and one `handoff worker`, each its own process, on the
    store; this process posts and reads the store."""
    with odoo_target() as box:
        os.environ["BENCH_ODOO_PASSWORD"] = box.password
        os.environ["BENCH_TIME_SECRET"] = SECRET
        firm = seed(box, projects)
        folder = Path(tempfile.mkdtemp())
        path = folder / "handoff.yaml"
        path.write_text(config(store_url, box.url, box.db, batch))
        hub = start_hub(load_settings(path))  # migrates the store; binds; then only reads
        for deal, project in zip(firm.deals, firm.projects, strict=True):
            hub.bindings.bind(
                "odoo", "project.project", str(project), canonical_type="deal", canonical_id=deal
            )
        payload = items(rows, firm)
        env = {**os.environ, "HANDOFF_CONFIG": str(path)}
        try:
            with hub_processes(folder, env) as (api, pids):
                # Not warmed: the worker's first run pays its Odoo login and fields_get (the raw
                # side's are outside its clock), a fraction of a second in the whole.
                box.set_faults(latency_ms=latency_ms)
                started = time.perf_counter()
                post_all(api, payload, request_size, concurrency)
                posted = time.perf_counter() - started
                while True:
                    with hub.store.session() as session:
                        finished = session.scalar(
                            select(func.count())
                            .select_from(InboxEvent)
                            .where(InboxEvent.status.in_([InboxStatus.DONE, InboxStatus.FAILED]))
                        )
                    if (finished or 0) >= rows:
                        break
                    time.sleep(0.05)
                seconds = time.perf_counter() - started
                peaks = [peak_rss_mb(pid) for pid in pids]
            box.set_faults(latency_ms=0)
            with hub.store.session() as session:
                runs = session.scalar(select(func.count(func.distinct(InboxEvent.workflow_id))))
            odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
            count = odoo.call(
                "account.analytic.line", "search_count", [[["project_id", "in", firm.projects]]]
            )
            failed = hub.exceptions.count_open()
            assert count == rows and failed == 0, f"{count} timesheets, {failed} exceptions"
            return Run(seconds, posted, int(runs or 0), peaks)
        finally:
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)
            shutil.rmtree(folder, ignore_errors=True)


def raw_limit(rows: int, projects: int, latency_ms: float) -> float:
    with odoo_target() as box:
        firm = seed(box, projects)
        odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password), batch_size=1000)
        values = [
            {
                "name": f"Work item {i}",
                "project_id": firm.projects[i % projects],
                "task_id": firm.tasks[firm.projects[i % projects]],
                "employee_id": firm.employees[i % CONSULTANTS],
                "date": f"2026-11-{1 + i % 28:02d}",
                "unit_amount": 1 + (i % 8) / 4,
            }
            for i in range(rows)
        ]
        odoo.schema.schema("account.analytic.line")  # fields_get outside the clock, as warmed up
        box.set_faults(latency_ms=latency_ms)
        started = time.perf_counter()
        odoo.create_many("account.analytic.line", values)
        return time.perf_counter() - started


def store(kind: str, folder: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        # A folder per run: the durable engine keeps its own database next to the store's.
        run = folder / uuid.uuid4().hex[:6]
        run.mkdir()
        return f"sqlite:///{run / 'h.db'}", lambda: None
    name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return make_url(PG).set(database=name).render_as_string(hide_password=False), drop


MODES = {
    # name: (batched flow, items per webhook call, calls at once)
    "batch-500": (True, 500, 1),
    "batch-singles": (True, 1, 16),
    "batch-small": (True, 20, 8),
    "single": (False, 500, 1),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=15.0)
    parser.add_argument("--store", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--modes", default="batch-500,batch-singles", help=", ".join(MODES))
    parser.add_argument("--odoo-url", help="a real Odoo instead of the sandbox")
    parser.add_argument("--odoo-db", default="psa")
    args = parser.parse_args()
    global REAL
    if args.odoo_url:
        REAL = RealOdoo(args.odoo_url, args.odoo_db)
        args.latency_ms = 0.0

    raw = raw_limit(args.rows, args.projects, args.latency_ms)
    against = (
        f"real Odoo {REAL.url} ({REAL.db})"
        if REAL
        else (f"Odoo sandbox, {args.latency_ms:g} ms per call")
    )
    print(f"{args.rows} time entries, {args.projects} projects, {against}")
    print(f"{'raw limit (create per 1,000 rows)':44}{args.rows / raw:>9.1f} rows/s {raw:>8.2f} s")
    stores = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    folder = Path(tempfile.mkdtemp())
    try:
        for kind in stores:
            for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
                batch, size, concurrency = MODES[mode]
                url, drop = store(kind, folder)
                try:
                    run = end_to_end(url, args.rows, args.projects, args.latency_ms, batch,
                                     size, concurrency)  # fmt: skip
                finally:
                    drop()
                rate = args.rows / run.seconds
                label = f"{kind}, {mode} ({size}/call x{concurrency})"
                print(
                    f"{label:44}{rate:>9.1f} rows/s {run.seconds:>8.2f} s"
                    f"   hub/raw = {raw / run.seconds:.2f}x   runs {run.runs}"
                    f"   intake {run.posted:.1f} s   peak RSS api {run.peak_mb[0]:.0f} MB,"
                    f" worker {run.peak_mb[1]:.0f} MB",
                    flush=True,
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
