"""Load on the time-entry webhook with the hub split as in production: a real `handoff api`
process and one or more (``--workers 1,3``) `handoff worker` processes on a fresh store (a throwaway PostgreSQL database by
default), the Odoo sandbox with latency injected per call. Signed time entries go over HTTP to
``POST /webhooks/time`` at a given concurrency, first one item per request, then in batches of
20; each mode gets its own store, sandbox, API and worker, so neither inherits the other's backlog.

    python benchmarks/load_probe.py [--items 2000] [--concurrency 32] [--odoo-latency-ms 15]
                                    [--store postgresql|sqlite|both] [--sizes 1,20]
                                    [--workers 1,3] [--no-batch] [--partitions 32]
                                    [--odoo-concurrency 24] [--worker-concurrency 8]

Workers scaling (issue 11: three workers >= 2.4x one, PostgreSQL, a target with latency): one run
per entry spread over partitions, each worker limited to 8 runs in flight, the system to 24:

    python benchmarks/load_probe.py --store postgresql --sizes 20 --workers 1,3 --no-batch \
        --partitions 32 --odoo-concurrency 24 --worker-concurrency 8 --odoo-latency-ms 100 \
        --items 600

Per mode it reports: items sent; ingest rate (items accepted per second over the sending
window, first request sent -> last 202 received); request latency p50/p99; drain rate (items per
second from the first 202 until the last entry is an ``account.analytic.line`` in the sandbox);
the time from the first request until everything is in Odoo; and the check that nothing is lost
or doubled: the sandbox holds exactly one timesheet per item sent (by its description), every
inbox row is ``done`` and no exception record is open. The process exits 1 if any of that fails,
or if nothing progresses for ``--stall-seconds`` (the inbox's states are printed then).

Time-entry batching is left at the product's default (handoff.yaml ``flows.time_entry.batch``):
"single" is one item per *request*; the engine groups them into runs across requests. Seeding (order, projects, consultants)
and the entries' shape come from ``time_entries.py``; the processes are started the way the
e2e tests start them. Postgres URL: $HANDOFF_TEST_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/test), a database of its own per mode, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the e2e tests' process helpers (support.*)

from time_entries import SECRET, Firm, config, hub_processes, items, seed, worker_logs  # noqa: E402
from time_entries import store as throwaway_store  # noqa: E402

from handoff.config import parse_settings  # noqa: E402
from handoff.connectors.odoo import OdooAdapter, OdooClient  # noqa: E402
from handoff.engine import flows  # noqa: E402
from handoff.engine.runtime import Hub, set_current_hub, start_hub  # noqa: E402
from handoff.ingress.events import SIGNATURE_HEADER, sign  # noqa: E402
from handoff.store.models import InboxEvent, InboxStatus  # noqa: E402
from handoff.timesheets.records import TIMETRACKER_SYSTEM  # noqa: E402
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox  # noqa: E402


@dataclass
class Sent:
    """What the load generator saw: when it started, every request's latency, the first and last
    202, and any request the hub refused (status, body)."""

    started: float
    latencies: list[float] = field(default_factory=list)
    first_accept: float | None = None
    last_accept: float | None = None
    items_accepted: int = 0
    refused: list[tuple[int, str]] = field(default_factory=list)


async def send(api: str, payload: list[dict[str, Any]], size: int, concurrency: int) -> Sent:
    bodies = [json.dumps(payload[i : i + size]).encode() for i in range(0, len(payload), size)]
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=api, limits=limits, timeout=120) as client:
        sent = Sent(started=time.perf_counter())

        async def user() -> None:
            for body in queue:
                started = time.perf_counter()
                response = await client.post(
                    "/webhooks/time",
                    content=body,
                    headers={
                        SIGNATURE_HEADER: sign(SECRET, body),
                        "Content-Type": "application/json",
                    },
                )
                done = time.perf_counter()
                sent.latencies.append(done - started)
                if response.status_code != 202:
                    sent.refused.append((response.status_code, response.text[:300]))
                    continue
                sent.items_accepted += len(response.json()["accepted"])
                sent.first_accept = min(sent.first_accept or done, done)
                sent.last_accept = max(sent.last_accept or done, done)

        await asyncio.gather(*(user() for _ in range(concurrency)))
        return sent


class DrainWatch:
    """Polls, from its own thread while the load runs, how many of the run's timesheets Odoo
    holds and the inbox's states; notes when Odoo first holds ``expected`` of them."""

    def __init__(self, box: RunningSandbox, firm: Firm, hub: Hub, expected: int) -> None:
        self.odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
        self.projects = firm.projects
        self.hub = hub
        self.expected = expected
        self.in_odoo = 0
        self.inbox: Counter[str] = Counter()
        self.all_in_odoo: float | None = None
        self.last_progress = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="drain-watch", daemon=True)

    def start(self) -> DrainWatch:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            count = int(
                self.odoo.call(
                    "account.analytic.line", "search_count", [[["project_id", "in", self.projects]]]
                )
            )
            inbox = inbox_states(self.hub)
            now = time.perf_counter()
            if count != self.in_odoo or inbox != self.inbox:
                self.last_progress = now
            self.in_odoo, self.inbox = count, inbox
            if count >= self.expected and self.all_in_odoo is None:
                self.all_in_odoo = now
                return
            self._stop.wait(0.2)

    def wait(self, stall_seconds: float) -> bool:
        """True once Odoo holds every entry; False if nothing moved for ``stall_seconds``."""
        while self._thread.is_alive():
            if time.perf_counter() - self.last_progress > stall_seconds:
                self._stop.set()
                self._thread.join(10)
                return False
            self._thread.join(0.5)
        return self.all_in_odoo is not None


def inbox_states(hub: Hub) -> Counter[str]:
    with hub.store.session() as session:
        rows = session.execute(
            select(InboxEvent.status, func.count())
            .where(InboxEvent.source == TIMETRACKER_SYSTEM)
            .group_by(InboxEvent.status)
        ).all()
    return Counter({str(status): int(n) for status, n in rows})


@dataclass
class Outcome:
    store: str
    size: int
    workers: int
    sent: int
    requests: int
    ingest_rate: float
    p50_ms: float
    p99_ms: float
    drain_rate: float | None
    all_in_odoo_s: float | None
    problems: list[str]
    load: float  # the machine's 1-minute load average when the mode ended (other work skews it)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


def check(
    box: RunningSandbox,
    firm: Firm,
    hub: Hub,
    payload: list[dict[str, Any]],
    sent: Sent,
    logs: list[Path],
) -> list[str]:
    """Nothing lost, nothing doubled, nothing failed: one timesheet per item sent, every inbox
    row done, no open exception, no request refused, no error in the worker's log."""
    problems = []
    if sent.refused:
        # One line per status (a 429 of the per-client cap and a 403 read differently).
        statuses = Counter(status for status, _ in sent.refused)
        first = {status: text for status, text in reversed(sent.refused)}
        for status, n in sorted(statuses.items()):
            problems.append(f"{n} request(s) refused with {status}, e.g. {first[status]}")
    odoo = OdooAdapter(OdooClient(box.url, box.db, box.login, box.password))
    rows = odoo.search_read(
        "account.analytic.line", [["project_id", "in", firm.projects]], ["name"]
    )
    names = Counter(row["name"] for row in rows)
    expected = Counter(item["description"] for item in payload)
    if lost := expected - names:
        problems.append(f"{sum(lost.values())} entries not in Odoo, e.g. {sorted(lost)[:3]}")
    if doubled := names - expected:
        problems.append(f"{sum(doubled.values())} extra timesheets, e.g. {sorted(doubled)[:3]}")
    inbox = inbox_states(hub)
    if inbox.total() != len(payload) or inbox[InboxStatus.DONE] != len(payload):
        problems.append(f"inbox {dict(inbox)} for {len(payload)} items")
    if (open_exceptions := hub.exceptions.count_open()) != 0:
        problems.append(f"{open_exceptions} open exception(s)")
    errors = [
        (log, line)
        for log in logs
        for line in log.read_text(errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line
    ]
    if errors:
        log, first = errors[0]
        problems.append(
            f"{len(errors)} error line(s) in worker logs, first in {log}: {first[:200]}"
        )
    return problems


def run_mode(kind: str, size: int, workers: int, args: argparse.Namespace, folder: Path) -> Outcome:
    url, drop = throwaway_store(kind, folder)
    run_folder = folder / f"{kind}-{size}-{workers}w-{uuid.uuid4().hex[:4]}"
    run_folder.mkdir()
    try:
        with running_odoo_sandbox() as box:
            firm = seed(box, args.projects)
            limits = f", concurrency: {args.odoo_concurrency}" if args.odoo_concurrency else ""
            if args.worker_concurrency:
                limits += f", worker_concurrency: {args.worker_concurrency}"
            text = config(url, box.url, box.db, batch=not args.no_batch, odoo_limits=limits)
            if args.partitions:
                text += f"time_entries: {{partitions: {args.partitions}}}\n"
            (run_folder / "handoff.yaml").write_text(text)
            secrets = {"BENCH_ODOO_PASSWORD": box.password, "BENCH_TIME_SECRET": SECRET}
            os.environ.update(secrets)  # for this process's reading hub
            env = {**os.environ, **secrets, "HANDOFF_CONFIG": str(run_folder / "handoff.yaml")}
            hub = start_hub(parse_settings(text))
            try:
                # What deal-to-delivery leaves behind: each deal bound to its project.
                for deal, project in zip(firm.deals, firm.projects, strict=True):
                    hub.bindings.bind(
                        "odoo",
                        "project.project",
                        str(project),
                        canonical_type="deal",
                        canonical_id=deal,
                    )
                payload = items(args.items, firm)
                with hub_processes(run_folder, env, workers) as (api, _):
                    box.set_faults(latency_ms=args.odoo_latency_ms)
                    watch = DrainWatch(box, firm, hub, expected=len(payload)).start()
                    sent = asyncio.run(send(api, payload, size, args.concurrency))
                    drained = watch.wait(args.stall_seconds)
                    box.set_faults(latency_ms=0)
                    # The last runs record "done" just after their Odoo write: let them finish.
                    settle = time.perf_counter() + 30
                    while (
                        inbox_states(hub)[InboxStatus.DONE] < len(payload)
                        and time.perf_counter() < settle
                    ):
                        time.sleep(0.2)
                    problems = check(box, firm, hub, payload, sent, worker_logs(run_folder))
                    if not drained:
                        problems.insert(
                            0,
                            f"stalled: {watch.in_odoo} of {len(payload)} in Odoo, "
                            f"inbox {dict(watch.inbox)}, nothing moved for "
                            f"{args.stall_seconds:g} s (logs in {run_folder})",
                        )
            finally:
                flows.close_clients()
                hub.shutdown()
                set_current_hub(None)
    finally:
        drop()
    window = (sent.last_accept or time.perf_counter()) - sent.started
    end = watch.all_in_odoo
    drain = (end - sent.first_accept) if end is not None and sent.first_accept else None
    return Outcome(
        store=kind,
        size=size,
        workers=workers,
        sent=len(payload),
        requests=len(sent.latencies),
        ingest_rate=sent.items_accepted / window,
        p50_ms=1000 * statistics.median(sent.latencies),
        p99_ms=1000 * percentile(sent.latencies, 0.99),
        drain_rate=len(payload) / drain if drain else None,
        all_in_odoo_s=end - sent.started if end is not None else None,
        problems=problems,
        load=os.getloadavg()[0],
    )


def mode_name(size: int, workers: int = 1) -> str:
    name = "single" if size == 1 else f"batch {size}"
    return name if workers == 1 else f"{name}, {workers}w"


def print_table(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    print(
        f"\n{args.items} time entries per mode, {args.concurrency} concurrent, `handoff api` + "
        f"N `handoff worker`, Odoo sandbox {args.odoo_latency_ms:g} ms per call, "
        f"flows.time_entry.batch {'false' if args.no_batch else 'at its default'}, "
        f"Odoo concurrency {args.odoo_concurrency or 'default'}, per worker "
        f"{args.worker_concurrency or 'the same'}, {os.cpu_count()} CPUs "
        "(load: 1-minute load average at the mode's end)"
    )
    print(
        f"{'store':12}{'mode':16}{'items':>7}{'reqs':>6}{'ingest/s':>10}{'p50 ms':>9}"
        f"{'p99 ms':>9}{'drain/s':>9}{'in Odoo s':>11}{'load':>6}  nothing lost"
    )
    for o in outcomes:
        drain = f"{o.drain_rate:9.1f}" if o.drain_rate else f"{'-':>9}"
        until = f"{o.all_in_odoo_s:11.1f}" if o.all_in_odoo_s is not None else f"{'never':>11}"
        print(
            f"{o.store:12}{mode_name(o.size, o.workers):16}{o.sent:>7}{o.requests:>6}"
            f"{o.ingest_rate:>10.1f}{o.p50_ms:>9.1f}{o.p99_ms:>9.1f}{drain}{until}{o.load:>6.1f}  "
            f"{'yes' if not o.problems else 'NO'}"
        )
    by = {(o.store, o.size, o.workers): o for o in outcomes}
    sizes = sorted({o.size for o in outcomes})
    workers = sorted({o.workers for o in outcomes})
    stores = list(dict.fromkeys(o.store for o in outcomes))
    pairs = [
        ((s, sizes[0], w), (s, size, w)) for s in stores for w in workers for size in sizes[1:]
    ]
    pairs += [((s, z, workers[0]), (s, z, w)) for s in stores for z in sizes for w in workers[1:]]
    if len(stores) == 2:
        pairs += [((stores[0], z, w), (stores[1], z, w)) for z in sizes for w in workers]
    for base_key, other_key in pairs:
        base, other = by.get(base_key), by.get(other_key)
        if base and other and base.drain_rate and other.drain_rate:
            print(
                f"{other.store} {mode_name(other.size, other.workers)} / {base.store} "
                f"{mode_name(base.size, base.workers)}: ingest "
                f"{other.ingest_rate / base.ingest_rate:.2f}x, drain "
                f"{other.drain_rate / base.drain_rate:.2f}x"
            )
    for o in outcomes:
        for problem in o.problems:
            print(f"LOST/FAILED {o.store} {mode_name(o.size, o.workers)}: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=2000, help="time entries per mode")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    parser.add_argument(
        "--odoo-latency-ms",
        type=float,
        default=15.0,
        help="latency the sandbox adds to every Odoo call (time_entries.py's)",
    )
    parser.add_argument("--store", choices=["postgresql", "sqlite", "both"], default="postgresql")
    parser.add_argument("--sizes", default="1,20", help="items per request, one mode each")
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--workers", default="1", help="worker processes, one mode each: 1,3")
    parser.add_argument(
        "--no-batch", action="store_true", help="one run per entry (flows.time_entry.batch: false)"
    )
    parser.add_argument("--odoo-concurrency", type=int, help="systems.odoo.concurrency")
    parser.add_argument("--worker-concurrency", type=int, help="systems.odoo.worker_concurrency")
    parser.add_argument("--partitions", type=int, help="time_entries.partitions")
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=120.0,
        help="give up when neither Odoo nor the inbox moved for this long",
    )
    args = parser.parse_args()
    stores = ["postgresql", "sqlite"] if args.store == "both" else [args.store]
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    worker_counts = [int(w) for w in args.workers.split(",") if w.strip()]
    folder = Path(tempfile.mkdtemp(prefix="load-probe-"))
    outcomes = []
    for kind in stores:
        for size in sizes:
            for workers in worker_counts:
                outcome = run_mode(kind, size, workers, args, folder)
                print(
                    f"  {kind} {mode_name(size, workers)}: {outcome.ingest_rate:.0f} items/s in, "
                    f"{outcome.drain_rate or 0:.1f} items/s drained, "
                    f"{'ok' if not outcome.problems else 'PROBLEMS'}",
                    flush=True,
                )
                outcomes.append(outcome)
    print_table(outcomes, args)
    failed = any(o.problems for o in outcomes)
    if failed:
        print(f"logs kept in {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
