"""Webhook-style ingestion: signed events accepted durably into the inbox per second, with p50/p99
latency, against `handoff api` running as its own process, on SQLite and/or PostgreSQL.

    python benchmarks/ingestion.py [--requests 2000] [--concurrency 32] [--batch 1]
        [--store sqlite,postgresql] [--source events|hubspot] [--client raw|httpx]
        [--baseline REV]

- ``--source events``: ``POST /webhooks/events/tracker``, generic HMAC-signed events that start no
  flow (each is an inbox row). ``--source hubspot``: HubSpot v3-signed deal events, each routed to
  ``deal_to_delivery``: an inbox row AND its run enqueued in the engine's tables, one transaction.
- ``--client raw`` (default): the load generator is a small asyncio HTTP/1.1 client on keep-alive
  connections (uvloop when installed) whose requests are built and signed before the clock
  starts, so that its own CPU (it shares the machine with the server) stays small; ``httpx`` is
  the previous generator, several times dearer per request. Both report their CPU per request.
- ``--baseline REV``: the same load, in the same run, against `handoff api` of the source tree at
  git revision REV (``git archive``), first, then against this tree: before/after side by side.

Each row also gives the server's own CPU per event (user+system of the `handoff api` process over
the timed run, from /proc), which says what bounds the figure when the server runs flat out.
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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import yaml
from sqlalchemy.engine import make_url

from handoff.ingress.events import SIGNATURE_HEADER, sign
from handoff.ingress.hubspot import sign_v3

PG = "postgresql://postgres@127.0.0.1:5432/test"
SECRET = "bench-secret"
REPO = Path(__file__).resolve().parents[1]
# What runs the server, e.g. a profiler: BENCH_SERVER_PREFIX="py-spy record -o p.txt -f raw --"
PREFIX = os.environ.get("BENCH_SERVER_PREFIX", "").split()


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


def requests_for(source: str, base: str, count: int, batch: int, tag: str) -> list[Request]:
    """``count`` signed requests of ``batch`` events each, every event new (ids carry ``tag``)."""
    built = []
    for n in range(count):
        if source == "events":
            body = json.dumps(
                {
                    "events": [
                        {
                            "id": f"{tag}-{n}-{i}",
                            "entity": f"proj-{n % 97}",
                            "kind": "time.logged",
                            "payload": {"hours": 1.5, "n": n},
                        }
                        for i in range(batch)
                    ]
                }
            ).encode()
            path = "/webhooks/events/tracker"
            headers = {SIGNATURE_HEADER: sign(SECRET, body)}
        else:
            body = json.dumps(
                [
                    {
                        "eventId": f"{tag}-{n}-{i}",
                        "subscriptionType": "deal.propertyChange",
                        "propertyName": "dealstage",
                        "propertyValue": "closedwon",
                        "objectId": 10_000 + n,
                        "occurredAt": int(time.time() * 1000),
                    }
                    for i in range(batch)
                ]
            ).encode()
            path = "/webhooks/hubspot"
            stamp = str(int(time.time() * 1000))
            headers = {
                "X-HubSpot-Signature-v3": sign_v3(SECRET, "POST", base + path, body, stamp),
                "X-HubSpot-Request-Timestamp": stamp,
            }
        built.append(Request(path, {**headers, "Content-Type": "application/json"}, body))
    return built


async def raw_load(
    host: str, port: int, work: list[Request], concurrency: int, ok: int
) -> list[float]:
    """Each of ``concurrency`` keep-alive connections sends the next request once it has read
    the previous answer (no pipelining); latencies in seconds. Asserts every status is ``ok``."""
    wire = [
        (
            f"POST {r.path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {len(r.body)}\r\n"
            + "".join(f"{k}: {v}\r\n" for k, v in r.headers.items())
            + "\r\n"
        ).encode("latin-1")
        + r.body
        for r in work
    ]
    latencies: list[float] = []
    queue: Iterator[bytes] = iter(wire)

    async def user() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in queue:
                started = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.lower() == b"content-length":
                        length = int(value)
                answer = await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                assert status == ok, (status, answer[:300])
        finally:
            writer.close()
            await writer.wait_closed()

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies


async def httpx_load(base: str, work: list[Request], concurrency: int, ok: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(work)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def user() -> None:
            for request in queue:
                started = time.perf_counter()
                response = await client.post(
                    request.path, content=request.body, headers=request.headers
                )
                latencies.append(time.perf_counter() - started)
                assert response.status_code == ok, response.text

        await asyncio.gather(*(user() for _ in range(concurrency)))
    return latencies


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _run_loop(coroutine: object) -> list[float]:
    try:
        import uvloop  # the client's own loop: the cheaper, the more CPU is left to the server

        return uvloop.run(coroutine)  # type: ignore[arg-type, no-any-return]
    except ImportError:
        return asyncio.run(coroutine)  # type: ignore[arg-type]


def baseline_tree(revision: str, folder: Path) -> Path:
    """The ``src`` folder of ``revision`` of this repository, extracted under ``folder``."""
    target = folder / f"baseline-{revision.replace('/', '_')}"
    target.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def run(
    store_url: str, folder: Path, args: argparse.Namespace, src: Path | None
) -> dict[str, float]:
    config = folder / f"{uuid.uuid4().hex[:6]}.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                # One load generator is one client address: let all its connections in.
                # (and a margin: the warm-up's last sockets may not be closed on its side yet).
                "api": {"max_connections_per_client": max(16, args.concurrency + 8)},
                "systems": {
                    "tracker": {
                        "kind": "http",
                        "url": "http://127.0.0.1:9/",
                        "webhook_secret": "${BENCH_SECRET}",
                    },
                    "hubspot": {
                        "kind": "hubspot",
                        "url": "http://127.0.0.1:9/",
                        "webhook_secret": "${BENCH_SECRET}",
                    },
                },
            }
        )
    )
    port = 18000 + (os.getpid() + len(list(folder.iterdir()))) % 1000
    env = {
        **os.environ,
        "HANDOFF_CONFIG": str(config),
        "HANDOFF_DATABASE_URL": store_url,
        "BENCH_SECRET": SECRET,
    }
    if src is not None:  # the baseline's sources come first on the path
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    server = subprocess.Popen(
        [
            *PREFIX,
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
    host, base = "127.0.0.1", f"http://127.0.0.1:{port}"
    ok = 202 if args.source == "events" else 200
    tag = uuid.uuid4().hex[:8]
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        warm = requests_for(args.source, base, 50, args.batch, f"warm{tag}")
        _run_loop(raw_load(host, port, warm, 4, ok))
        work = requests_for(args.source, base, args.requests, args.batch, tag)
        server_cpu, client_cpu = _cpu_seconds(server.pid), time.process_time()
        started = time.perf_counter()
        if args.client == "raw":
            latencies = _run_loop(raw_load(host, port, work, args.concurrency, ok))
        else:
            latencies = asyncio.run(httpx_load(base, work, args.concurrency, ok))
        seconds = time.perf_counter() - started
        server_cpu = _cpu_seconds(server.pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
    finally:
        server.terminate()
        server.wait(20)
    latencies.sort()
    events = args.requests * args.batch
    return {
        "events_per_s": events / seconds,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
        "server_ms_per_event": 1000 * server_cpu / events,
        "client_ms_per_request": 1000 * client_cpu / args.requests,
    }


def store_urls(folder: Path, stores: list[str]) -> Iterator[tuple[str, str]]:
    for store in stores:
        if store == "sqlite":
            yield "sqlite", f"sqlite:///{folder / f'h-{uuid.uuid4().hex[:6]}.db'}"
            continue
        name = f"handoff_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        try:
            yield "postgresql", make_url(PG).set(database=name).render_as_string(False)
        finally:
            with psycopg.connect(PG, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=1, help="events per request")
    parser.add_argument("--store", default="sqlite,postgresql", help="sqlite, postgresql or both")
    parser.add_argument("--source", choices=("events", "hubspot"), default="events")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument("--baseline", help="git revision to measure first, in the same run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    trees: list[tuple[str, Path | None]] = [("this tree", None)]
    if args.baseline:
        trees.insert(0, (args.baseline, baseline_tree(args.baseline, folder)))
    results: dict[tuple[str, str], dict[str, float]] = {}
    for store in args.store.split(","):
        for label, src in trees:
            # A fresh database per measurement: neither run inherits the other's rows.
            for backend, url in store_urls(folder, [store]):
                results[(backend, label)] = run(url, folder, args, src)
    print(
        f"{args.requests} requests x {args.batch} events ({args.source}), "
        f"{args.concurrency} concurrent, {args.client} client, {os.cpu_count()} CPUs"
    )
    print(
        f"{'':12}{'code':>14}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'server ms/ev':>14}{'client ms/req':>15}"
    )
    for (backend, label), r in results.items():
        print(
            f"{backend:12}{label[:14]:>14}{r['events_per_s']:>10.0f}{r['p50_ms']:>9.1f}"
            f"{r['p99_ms']:>9.1f}{r['server_ms_per_event']:>14.3f}"
            f"{r['client_ms_per_request']:>15.3f}"
        )
    if args.baseline:
        for backend in dict.fromkeys(b for b, _ in results):
            before, after = results[(backend, args.baseline)], results[(backend, "this tree")]
            print(
                f"{backend}: this tree / {args.baseline}: throughput "
                f"{after['events_per_s'] / before['events_per_s']:.2f}x, p99 "
                f"{after['p99_ms'] / before['p99_ms']:.2f}x"
            )
    if ("sqlite", "this tree") in results and ("postgresql", "this tree") in results:
        s, p = results[("sqlite", "this tree")], results[("postgresql", "this tree")]
        print(f"postgresql/sqlite throughput: {p['events_per_s'] / s['events_per_s']:.2f}x")


if __name__ == "__main__":
    main()
