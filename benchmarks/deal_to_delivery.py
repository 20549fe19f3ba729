"""Won deal -> confirmed order and project, end to end over HTTP against the three sandboxes,
Odoo answering with 15 ms of latency per call (as measured on a real Odoo 18 here).

    python benchmarks/deal_to_delivery.py [--deals-per-crm 100] [--latency-ms 15]
                                          [--odoo-url http://127.0.0.1:8069 --odoo-db psa]
                                          [--hubspot-budget 190] [--baseline-tree DIR]

``--odoo-url``: a real Odoo (fresh database; password from $BENCH_ODOO_PASSWORD, default admin)
instead of the Odoo sandbox, with no latency injected.

``--hubspot-budget``: the hub's HubSpot budget in requests per 10 s (``systems.hubspot.rate_limit``
in handoff.yaml; the sandbox enforces 190, a Pro account's). ``--baseline-tree``: a checkout of
the hub as it was (e.g. ``git worktree add /tmp/base main``): the same benchmark runs first
against its code (``src`` and ``sandbox/src`` put first on the path, in a subprocess), then
against this one, and the figures are printed side by side.

Reports, from one run: CRM calls per deal (every HTTP request the hub sent to each CRM, batch
calls included, counted by the hub's clients, with the sandboxes' own counts beside them),
p50/p95 latency from "moved to won" to "order confirmed and bound", the
share of flow time spent inside Odoo calls, inside CRM calls and in the hub itself (the ratio
of the hub's own time to the time inside Odoo), and deals per minute for the whole batch won at
once. The hub runs in this process (API + one worker) on the embedded SQLite store.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
import yaml
from prometheus_client import REGISTRY

from handoff.api.app import create_app
from handoff.connectors.registry import connectors_for
from handoff.engine import flows, launcher
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.flows import delivery_roles
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


def set_hubspot_budget(config_path: Path, per_ten_seconds: int) -> None:
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for system in config["systems"].values():
        if system.get("kind") == "hubspot":
            system["rate_limit"] = {"calls": per_ten_seconds, "per_seconds": 10}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def run(args: argparse.Namespace) -> dict[str, Any]:
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
        set_hubspot_budget(stack.config_path, args.hubspot_budget)
        hub = start_hub()
        launcher.launch(hub, executor_id="bench")
        server = uvicorn.Server(
            uvicorn.Config(create_app(hub), host="127.0.0.1", port=port, log_level="warning")
        )
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        connectors = connectors_for(hub.settings)
        hubspot_client = connectors.hubspot().client
        salesforce_client = connectors.salesforce().client
        deals = [d for d in stack.winnable_deals() if not d.defect]
        per_crm = {crm: sum(1 for d in deals if d.crm == crm) for crm in ("hubspot", "salesforce")}
        odoo_before = step_seconds("odoo")
        crm_before = step_seconds("hubspot") + step_seconds("salesforce")
        hub_calls_before = {"hubspot": hubspot_client.calls, "salesforce": salesforce_client.calls}
        endpoints_before = stack.hubspot.stats()["calls"]
        sandbox_before = {
            "hubspot": sum(endpoints_before.values()),
            "salesforce": stack.salesforce.api_usage,
        }
        started = time.time()
        stack.win(*(d.key for d in deals))
        while len(hub.bindings.all(model="sale.order")) < len(deals):
            if time.time() - started > 1800:
                raise SystemExit("not all deals were delivered within 30 minutes")
            time.sleep(0.5)
        elapsed = time.time() - started
        # Every write-back is in the audit once its step ended; wait for the last ones.
        while sum(1 for e in hub.audit.search(text="", limit=5000) if e.action == "write_back") < (
            len(deals)
        ):
            if time.time() - started > 1860:
                break
            time.sleep(0.2)
        hub_calls = {
            "hubspot": hubspot_client.calls - hub_calls_before["hubspot"],
            "salesforce": salesforce_client.calls - hub_calls_before["salesforce"],
        }
        hubspot_stats = stack.hubspot.stats()
        sandbox_calls = {
            "hubspot": hubspot_stats["total_calls"] - sandbox_before["hubspot"],
            "salesforce": stack.salesforce.api_usage - sandbox_before["salesforce"],
        }
        batching = {}
        try:  # the CRM batching of this tree (absent from a baseline tree before it)
            for (_, crm_name), (_, reads, writes) in delivery_roles._batchers.items():
                batching[crm_name] = {
                    "read_batches": reads.stats.batches,
                    "deals_read": reads.stats.deals_read,
                    "served_from_batch": reads.stats.served_from_batch,
                    "write_batches": writes.stats.batches,
                    "deals_written": writes.stats.deals_written,
                }
        except AttributeError:
            pass
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

    return {
        "against": (
            f"real Odoo {real.url} ({real.db})"
            if real
            else f"Odoo sandbox, latency {args.latency_ms:g} ms per call"
        ),
        "deals": len(deals),
        "deals_per_crm": per_crm,
        "hubspot_budget": args.hubspot_budget,
        "seconds": elapsed,
        "deals_per_minute": len(deals) / elapsed * 60,
        "p50": statistics.median(latencies),
        "p95": latencies[max(0, int(len(latencies) * 0.95) - 1)],
        "hub_calls": hub_calls,
        "sandbox_calls": sandbox_calls,
        "hubspot_429": int(sum(hubspot_stats["rejections"].values())),
        "batching": batching,
        "hubspot_endpoints": {
            name: count - endpoints_before.get(name, 0)
            for name, count in sorted(hubspot_stats["calls"].items())
            if count > endpoints_before.get(name, 0)
        },
        "calls_per_deal": {
            crm: (hub_calls[crm] / per_crm[crm] if per_crm[crm] else 0.0) for crm in per_crm
        },
        "flow_seconds": busy,
        "odoo_seconds": odoo,
        "crm_seconds": crm,
        "hub_seconds": hub_own,
        "hub_over_odoo": hub_own / odoo if odoo else float("nan"),
    }


def report(result: dict[str, Any], title: str = "") -> None:
    crm = result["deals_per_crm"]
    print(
        f"{title}{result['deals']} deals won at once ({crm['hubspot']} HubSpot, "
        f"{crm['salesforce']} Salesforce), {result['against']}, HubSpot budget "
        f"{result['hubspot_budget']} requests / 10 s"
    )
    for name in ("hubspot", "salesforce"):
        print(
            f"  {name} calls per deal {result['calls_per_deal'][name]:.2f} "
            f"({result['hub_calls'][name]} requests sent by the hub; the sandbox counted "
            f"{result['sandbox_calls'][name]}, the benchmark's own win requests included)"
        )
    print(f"  HubSpot 429 answers: {result['hubspot_429']}")
    for name, figures in result.get("batching", {}).items():
        print(f"  {name} batching: " + ", ".join(f"{k} {v}" for k, v in figures.items()))
    print("  HubSpot requests by endpoint (sandbox):")
    for name, count in result.get("hubspot_endpoints", {}).items():
        print(f"    {count:6d}  {name}")
    print(
        f"  all delivered in {result['seconds']:.1f} s: "
        f"{result['deals_per_minute']:.0f} deals/minute"
    )
    print(
        f"  won -> order confirmed and bound: p50 {result['p50']:.1f} s, "
        f"p95 {result['p95']:.1f} s (the whole batch was won at the same moment)"
    )
    print(
        f"  flow time {result['flow_seconds']:.1f} s = Odoo calls {result['odoo_seconds']:.1f} s "
        f"+ CRM calls {result['crm_seconds']:.1f} s + hub {result['hub_seconds']:.1f} s"
    )
    print(f"  hub's own time / time inside Odoo calls = {result['hub_over_odoo']:.2f}")


ROWS = (
    ("HubSpot calls per deal", lambda r: f"{r['calls_per_deal']['hubspot']:.2f}"),
    ("Salesforce calls per deal", lambda r: f"{r['calls_per_deal']['salesforce']:.2f}"),
    ("HubSpot 429 answers", lambda r: str(r["hubspot_429"])),
    ("deals per minute", lambda r: f"{r['deals_per_minute']:.0f}"),
    ("p50 / p95 won -> bound (s)", lambda r: f"{r['p50']:.1f} / {r['p95']:.1f}"),
    ("CRM time in flows (s)", lambda r: f"{r['crm_seconds']:.1f}"),
    ("Odoo time in flows (s)", lambda r: f"{r['odoo_seconds']:.1f}"),
    ("hub's own time (s)", lambda r: f"{r['hub_seconds']:.1f}"),
    ("hub's own / Odoo time", lambda r: f"{r['hub_over_odoo']:.2f}"),
)


def side_by_side(before: dict[str, Any], after: dict[str, Any]) -> None:
    print(f"\n{'':30} {'baseline':>12} {'this tree':>12}")
    for label, cell in ROWS:
        print(f"{label:30} {cell(before):>12} {cell(after):>12}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deals-per-crm", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=15.0)
    parser.add_argument("--odoo-url", help="a real Odoo instead of the sandbox")
    parser.add_argument("--odoo-db", default="psa")
    parser.add_argument("--hubspot-budget", type=int, default=190)
    parser.add_argument("--baseline-tree", type=Path, help="a checkout of the hub to compare")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    args = parser.parse_args()
    before = None
    if args.baseline_tree is not None:
        tree = args.baseline_tree.resolve()
        command = [sys.executable, __file__, "--json"]
        for name in ("deals_per_crm", "latency_ms", "odoo_db", "hubspot_budget"):
            command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        if args.odoo_url:
            command += ["--odoo-url", args.odoo_url]
        path = os.pathsep.join([str(tree / "src"), str(tree / "sandbox" / "src")])
        done = subprocess.run(
            command,
            env={**os.environ, "PYTHONPATH": path},
            capture_output=True,
            text=True,
            check=True,
        )
        before = json.loads(done.stdout.strip().splitlines()[-1])
        report(before, title=f"baseline ({tree}): ")
    after = run(args)
    if args.json:
        print(json.dumps(after))
        return
    report(after, title="this tree: " if before else "")
    if before is not None:
        side_by_side(before, after)


if __name__ == "__main__":
    main()
