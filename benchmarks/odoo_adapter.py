"""Benchmark: timesheets written through the Odoo adapter, batched vs one call per row.

    python benchmarks/odoo_adapter.py [--rows 10000] [--sample 500] [--latency-ms 10]

The Odoo sandbox runs in a *separate process* (so this process's CPU time is the adapter's own:
schema checks, JSON encoding, HTTP client) and adds ``--latency-ms`` to every RPC call.

- batched: ``OdooAdapter.create_many`` of ``--rows`` account.analytic.line rows (batch 1000);
- per row: the same rows, one ``create`` call each, measured on ``--sample`` rows and extrapolated
  linearly to ``--rows`` (limits.json shows per-call cost does not grow with table size).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import BaseModel

from handoff.connectors.odoo import OdooAdapter, OdooClient

SERVER_SCRIPT = """
import json, sys
from handoff_sandbox.odoo.testing import running_odoo_sandbox
with running_odoo_sandbox(latency_ms={latency}) as s:
    print(json.dumps({{"url": s.url, "db": s.db, "login": s.login, "password": s.password}}),
          flush=True)
    sys.stdin.read()  # serve until the benchmark closes our stdin
"""


class Endpoint(BaseModel):
    url: str
    db: str
    login: str
    password: str


class Measure(BaseModel):
    label: str
    rows: int
    calls: int
    wall_s: float
    cpu_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.wall_s

    @property
    def cpu_ms_per_1000(self) -> float:
        return self.cpu_s / self.rows * 1000 * 1000


@contextmanager
def sandbox_process(latency_ms: float) -> Iterator[Endpoint]:
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER_SCRIPT.format(latency=latency_ms)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line:
            raise SystemExit("the sandbox process did not start")
        yield Endpoint.model_validate(json.loads(line))
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def timesheet_rows(project: int, employee: int, count: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "project_id": project,
            "employee_id": employee,
            "name": f"{tag} {i}",
            "unit_amount": 0.25,
            "date": "2026-11-22",
        }
        for i in range(count)
    ]


class RequestCounter:
    """httpx request hook: counts the HTTP requests the client sent."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, _request: Any) -> None:
        self.count += 1


def measure(
    label: str,
    adapter: OdooAdapter,
    counter: RequestCounter,
    rows: list[dict[str, Any]],
    batch: int,
) -> Measure:
    calls_before = counter.count
    cpu, wall = time.process_time(), time.perf_counter()
    ids = adapter.create_many("account.analytic.line", rows, batch_size=batch)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(ids) == len(rows)
    return Measure(
        label=label, rows=len(rows), calls=counter.count - calls_before, wall_s=wall, cpu_s=cpu
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()

    with sandbox_process(args.latency_ms) as endpoint:
        counter = RequestCounter()
        client = OdooClient(
            endpoint.url,
            endpoint.db,
            endpoint.login,
            endpoint.password,
            event_hooks={"request": [counter]},
            timeout_s=300,
        )
        adapter = OdooAdapter(client)
        project = adapter.create("project.project", {"name": "Benchmark", "allow_timesheets": True})
        employee = adapter.search_read("hr.employee", [["user_id", "=", 2]], ["id"], limit=1)[0][
            "id"
        ]
        adapter.schema.schema("account.analytic.line")  # fields_get once, before measuring

        batched = measure(
            f"batched ({args.batch}/call)",
            adapter,
            counter,
            timesheet_rows(project, employee, args.rows, "batched"),
            args.batch,
        )
        per_row = measure(
            "one call per row",
            adapter,
            counter,
            timesheet_rows(project, employee, args.sample, "per-row"),
            1,
        )
        client.close()

    extrapolated_wall = per_row.wall_s / per_row.rows * args.rows
    print(
        f"Odoo sandbox in a subprocess, {args.latency_ms:g} ms injected latency per call; "
        f"{args.rows} account.analytic.line rows"
    )
    print(
        f"{'variant':<26}{'rows':>8}{'calls':>8}{'wall s':>10}{'rows/s':>10}"
        f"{'client CPU ms/1000 rows':>26}"
    )
    for m in (batched, per_row):
        print(
            f"{m.label:<26}{m.rows:>8}{m.calls:>8}{m.wall_s:>10.2f}{m.rows_per_s:>10.1f}"
            f"{m.cpu_ms_per_1000:>26.1f}"
        )
    print(
        f"one call per row, extrapolated from {per_row.rows} to {args.rows} rows: "
        f"{extrapolated_wall:.1f} s"
    )
    print(
        f"speed-up batched / per row: {batched.rows_per_s / per_row.rows_per_s:.1f}x "
        f"(rows/s {batched.rows_per_s:.0f} vs {per_row.rows_per_s:.1f})"
    )
    print(
        f"adapter CPU per 1,000 rows (batched): {batched.cpu_ms_per_1000:.1f} ms "
        f"(per row: {per_row.cpu_ms_per_1000:.1f} ms)"
    )


if __name__ == "__main__":
    main()
