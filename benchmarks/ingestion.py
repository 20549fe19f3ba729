"""Webhook-style ingestion: signed events accepted durably into the inbox per second, with p50/p99
latency, from a load generator on loopback (asyncio + httpx, keep-alive) against `handoff api`
running as its own process, on SQLite and PostgreSQL side by side.

    python benchmarks/ingestion.py [--requests 2000] [--concurrency 32] [--batch 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import yaml
from sqlalchemy.engine import make_url

from handoff.ingress.events import SIGNATURE_HEADER, sign

PG = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret"


async def load(base: str, requests: int, concurrency: int, batch: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def user() -> None:
            for n in counter:
                body = json.dumps(
                    {
                        "events": [
                            {
                                "id": f"{n}-{i}",
                                "entity": f"proj-{n % 97}",
                                "kind": "time.logged",
                                "payload": {"hours": 1.5, "n": n},
                            }
                            for i in range(batch)
                        ]
                    }
                ).encode()
                started = time.perf_counter()
                response = await client.post(
                    "/webhooks/events/tracker",
                    content=body,
                    headers={
                        SIGNATURE_HEADER: sign(SECRET, body),
                        "Content-Type": "application/json",
                    },
                )
                latencies.append(time.perf_counter() - started)
                assert response.status_code == 202, response.text

        started = time.perf_counter()
        await asyncio.gather(*(user() for _ in range(concurrency)))
        return time.perf_counter() - started, latencies


def run(store_url: str, folder: Path, args: argparse.Namespace) -> dict[str, float]:
    config = folder / f"{uuid.uuid4().hex[:6]}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                # One load generator is one client address: let all its connections in.
                "api": {"max_connections_per_client": max(16, args.concurrency)},
                "systems": {
                    "tracker": {
                        "kind": "http",
                        "url": "http://127.0.0.1:9/",
                        "webhook_secret": "${BENCH_SECRET}",
                    }
                },
            }
        )
    )
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "HANDOFF_CONFIG": str(config),
        "HANDOFF_DATABASE_URL": store_url,
        "BENCH_SECRET": SECRET,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "handoff.cli.main",
            "api",
            "--port",
            str(port),
            "--log-level",
            "WARNING",
        ],
        env=env,
        cwd=folder,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        asyncio.run(load(base, 50, 4, args.batch))  # warm-up
        seconds, latencies = asyncio.run(load(base, args.requests, args.concurrency, args.batch))
    finally:
        server.terminate()
        server.wait(20)
    latencies.sort()
    return {
        "events_per_s": args.requests * args.batch / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1, help="events per request")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    results = {"sqlite": run(f"sqlite:///{folder / 'h.db'}", folder, args)}
    name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        url = make_url(PG).set(database=name).render_as_string(hide_password=False)
        results["postgresql"] = run(url, folder, args)
    finally:
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"{args.requests} requests x {args.batch} events, {args.concurrency} concurrent")
    print(f"{'':12}{'events/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    for backend, r in results.items():
        print(f"{backend:12}{r['events_per_s']:>10.0f}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}")
    s, p = results["sqlite"], results["postgresql"]
    print(f"postgresql/sqlite throughput: {p['events_per_s'] / s['events_per_s']:.2f}x")


if __name__ == "__main__":
    main()
