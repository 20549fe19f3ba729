"""Overhead of the durable engine: starting one flow, and one checkpointed step, on SQLite and
PostgreSQL, measured side by side in one run.

    python benchmarks/engine_overhead.py [--flows 300] [--steps 300]

Flow start: N flows of zero steps submitted through the inbox and run to completion by an
in-process worker; reported as flows/s and ms per flow. Step: one flow of S no-op steps; reported
as ms per step, and as a ratio to the same function called directly (no checkpoint).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from dbos import DBOS
from sqlalchemy.engine import make_url

from handoff.config import RetryPolicy, Settings, StoreConfig
from handoff.engine import flows, launcher
from handoff.engine.flows import FlowEvent, flow
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.engine.steps import call
from handoff.store.inbox import IncomingEvent
from handoff.store.models import InboxStatus

PG = "postgresql://postgres@127.0.0.1:5432/test"


def noop(value: int) -> int:
    return value


@flow("bench_empty")
def bench_empty(event: FlowEvent) -> int:
    return 0


@flow("bench_steps")
def bench_steps(event: FlowEvent) -> float:
    started = time.perf_counter()
    for i in range(int(event.payload["steps"])):
        call("bench", "noop", noop, i)
    return time.perf_counter() - started


def measure(store_url: str, n_flows: int, n_steps: int) -> dict[str, float]:
    hub = start_hub(Settings(store=StoreConfig(url=store_url), retry=RetryPolicy()))
    launcher.launch(hub, executor_id="bench")
    try:
        events = [
            IncomingEvent(
                source_event_id=f"f{i}", entity_key=f"e{i % 50}", kind="bench", flow="bench_empty"
            )
            for i in range(n_flows)
        ]
        started = time.perf_counter()
        flows.submit(hub, "bench", events)
        while (
            sum(1 for e in hub.inbox.list(limit=n_flows + 10) if e.status == InboxStatus.DONE)
            < n_flows
        ):
            time.sleep(0.01)
        flow_seconds = time.perf_counter() - started

        [result] = flows.submit(
            hub,
            "bench",
            [
                IncomingEvent(
                    source_event_id="steps",
                    entity_key="s",
                    kind="bench",
                    flow="bench_steps",
                    payload={"steps": n_steps},
                )
            ],
        )
        handle = DBOS.retrieve_workflow(flows.workflow_id_for(result.inbox_id, "bench_steps"))
        step_seconds = float(handle.get_result())

        direct = []
        for _ in range(5):
            t = time.perf_counter()
            for i in range(n_steps):
                noop(i)
            direct.append(time.perf_counter() - t)
        return {
            "flows_per_s": n_flows / flow_seconds,
            "ms_per_flow": 1000 * flow_seconds / n_flows,
            "ms_per_step": 1000 * step_seconds / n_steps,
            "step_vs_direct": step_seconds / max(statistics.median(direct), 1e-9),
        }
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flows", type=int, default=300)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    results = {"sqlite": measure(f"sqlite:///{folder / 'h.db'}", args.flows, args.steps)}
    name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        results["postgresql"] = measure(
            make_url(PG).set(database=name).render_as_string(hide_password=False),
            args.flows,
            args.steps,
        )
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{'':12}{'flows/s':>10}{'ms/flow':>10}{'ms/step':>10}{'step/direct call':>18}")
    for backend, r in results.items():
        print(
            f"{backend:12}{r['flows_per_s']:>10.1f}{r['ms_per_flow']:>10.2f}"
            f"{r['ms_per_step']:>10.3f}{r['step_vs_direct']:>18.0f}x"
        )
    s, p = results["sqlite"], results["postgresql"]
    print(
        f"postgresql/sqlite: flow start {p['ms_per_flow'] / s['ms_per_flow']:.2f}x, "
        f"step {p['ms_per_step'] / s['ms_per_step']:.2f}x"
    )


if __name__ == "__main__":
    main()
