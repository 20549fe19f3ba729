"""Won deal -> confirmed order and project, end to end over HTTP against the three sandboxes,
Odoo answering with 15 ms of latency per call (as measured on a real Odoo 18 here).

    python benchmarks/deal_to_delivery.py [--deals-per-crm 100] [--latency-ms 15]
                                          [--odoo-url http://127.0.0.1:8069 --odoo-db psa]

``--odoo-url``: a real Odoo (fresh database; password from $BENCH_ODOO_PASSWORD, default admin)
instead of the Odoo sandbox, with no latency injected.

Reports, from one run: p50/p95 latency from "moved to won" to "order confirmed and bound", the
share of flow time spent inside Odoo calls, inside CRM calls and in the hub itself (the ratio
of the hub's own time to the time inside Odoo), and deals per minute for the whole batch won at
once. The hub runs in this process (API + one worker) on the embedded SQLite store.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from prometheus_client import REGISTRY

from handoff.api.app import create_app
from handoff.engine import flows, launcher
from handoff.engine.runtime import set_current_hub, start_hub
from handoff_sandbox.stack import ExternalOdoo, running_stack


def step_seconds(system: str) -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "handoff_step_seconds":
            for sample in metric.samples:
                if sample.name.endswith("_sum") and sample.labels.get("system") == system:
                    total += sample.value
    return total


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals-per-crm", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=15.0)
    parser.add_argument("--odoo-url", help="a real Odoo instead of the sandbox")
    parser.add_argument("--odoo-db", default="psa")
    args = parser.parse_args()
    real = None
    if args.odoo_url:
        password = os.environ.get("BENCH_ODOO_PASSWORD", "admin")
        real = ExternalOdoo(args.odoo_url, args.odoo_db, "admin", password)
        args.latency_ms = 0.0
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix="handoff-bench-"))
    with running_stack(
        folder,
        hub_port=port,
        odoo_latency_ms=args.latency_ms,
        extra_deals=args.deals_per_crm,
        odoo=real,
    ) as stack:
        hub = start_hub()
        launcher.launch(hub, executor_id="bench")
        server = uvicorn.Server(
            uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        deals = [d for d in stack.winnable_deals() if not d.defect]
        odoo_before = step_seconds("odoo")
        crm_before = step_seconds("hubspot") + step_seconds("salesforce")
        started = time.time()
        stack.win(*(d.key for d in deals))
        while len(hub.bindings.all(model="sale.order")) < len(deals):
            if time.time() - started > 1800:
                raise SystemExit("not all deals were delivered within 30 minutes")
            time.sleep(0.5)
        elapsed = time.time() - started
        runs = flows._client(hub).list_workflows(
            name="deal_to_delivery", status="SUCCESS", load_input=False, load_output=False
        )
        delivered_at = {b.canonical_id: b.synced_at for b in hub.bindings.all(model="sale.order")}
        latencies = sorted((when.timestamp() - started) for when in delivered_at.values())
        # Time each run was actually running (from leaving its queue to completing).
        busy = sum(
            ((r.completed_at or r.updated_at) - (r.dequeued_at or r.created_at)) / 1000
            for r in runs
        )
        odoo = step_seconds("odoo") - odoo_before
        crm = step_seconds("hubspot") + step_seconds("salesforce") - crm_before
        hub_own = max(0.0, busy - odoo - crm)
        server.should_exit = True
        hub.shutdown()
        flows.close_clients()
        set_current_hub(None)

    p95 = latencies[max(0, int(len(latencies) * 0.95) - 1)]
    against = (
        f"real Odoo {real.url} ({real.db})"
        if real
        else (f"Odoo sandbox, latency {args.latency_ms:g} ms per call")
    )
    print(
        f"{len(deals)} deals won at once ({args.deals_per_crm} generated per CRM + seeded), "
        f"{against}"
    )
    print(f"  all delivered in {elapsed:.1f} s: {len(deals) / elapsed * 60:.0f} deals/minute")
    print(
        f"  won -> order confirmed and bound: p50 {statistics.median(latencies):.1f} s, "
        f"p95 {p95:.1f} s (the whole batch was won at the same moment)"
    )
    print(
        f"  flow time {busy:.1f} s = Odoo calls {odoo:.1f} s + CRM calls {crm:.1f} s "
        f"+ hub {hub_own:.1f} s"
    )
    print(f"  hub's own time / time inside Odoo calls = {hub_own / odoo:.2f}")


if __name__ == "__main__":
    main()
