"""HubSpot: incremental sync of N deals into canonical records, and signed webhook ingestion.

    python benchmarks/hubspot_sync.py [--deals 50000] [--with-associations]
                                      [--webhook-batches 400] [--batch-size 50] [--concurrency 8]

1. Sync: the sandbox holds N deals spread over 30 days and enforces HubSpot's limits (190
   requests / 10 s, 5 searches / s, 10,000-result search cap). The connector pages a search on
   hs_lastmodifieddate from cursor 0, splitting windows past the cap, and maps every deal to a
   canonical Deal (stage interpreted through the account's pipelines). Reported: records/s, API
   calls (counted by the sandbox), window splits, 429s met. The floor is the search limit:
   N / 200 results per page / 5 searches per second.
2. Webhooks: signed (v3) HubSpot batches posted concurrently to `POST /webhooks/hubspot` (the
   connector's router under uvicorn, durable inbox on SQLite); reported: batches/s, events/s,
   p50/p99 latency per batch.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import ClientLimits, HubSpotClient
from handoff.connectors.hubspot.mapping import HubSpotMappers, MappingContext
from handoff.ingress.hubspot import sign_v3
from handoff.ingress.table import hubspot_webhook_router
from handoff.store.db import Store
from handoff.store.inbox import AcceptResult, Inbox, IncomingEvent
from handoff.store.migrate import upgrade
from handoff_sandbox.hubspot.testing import running_hubspot_sandbox, serve_app_in_thread

DAY_MS = 86_400_000
EVENT_IDS = itertools.count(1)


def sync_benchmark(deals: int, with_associations: bool) -> dict[str, Any]:
    with running_hubspot_sandbox() as sandbox:
        now = int(time.time() * 1000)
        started_load = time.perf_counter()
        sandbox.bulk_load(
            "deals", deals, modified_from_ms=now - 30 * DAY_MS, modified_to_ms=now - 60_000
        )
        load_seconds = time.perf_counter() - started_load
        sandbox.reset_stats()
        limits = ClientLimits(searches_per_second=5, requests_per_ten_seconds=190)
        mappers = HubSpotMappers()
        with HubSpotClient(sandbox.token, base_url=sandbox.url, limits=limits) as client:
            adapter = HubSpotAdapter(client)
            started = time.perf_counter()
            context = MappingContext(pipelines=adapter.pipelines())
            run = adapter.sync_modified("deals", 0, mappers.deal.spec.properties(), lag_ms=0)
            canonical_ids: set[str] = set()
            won = 0
            for page in run.pages:
                inputs = (
                    adapter.expand_deals(page, with_lines=False)
                    if with_associations
                    else [r.as_mapping_input() for r in page]
                )
                for record in inputs:
                    deal = mappers.deal.to_canonical(record, context)
                    canonical_ids.add(deal.external_id)
                    won += deal.is_won
            seconds = time.perf_counter() - started
            stats = sandbox.stats()
            assert len(canonical_ids) == deals, f"synced {len(canonical_ids)} of {deals}"
            return {
                "deals": deals,
                "with_associations": with_associations,
                "seconds": round(seconds, 2),
                "records_per_second": round(deals / seconds, 1),
                "api_calls": stats["total_calls"],
                "searches": adapter.searches,
                "window_splits": adapter.window_splits,
                "calls_by_endpoint": stats["calls"],
                "sandbox_429s": stats["rejections"],
                "client_waited_for_search_limit_s": round(client.search_limiter.waited_seconds, 1),
                "won_deals": won,
                "search_floor_seconds": round(deals / 200 / 5, 1),
                "bulk_load_seconds": round(load_seconds, 2),
            }


async def _post_batches(
    url: str, secret: str, batches: int, size: int, concurrency: int
) -> list[float]:
    latencies: list[float] = []
    semaphore = asyncio.Semaphore(concurrency)

    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_keepalive_connections=concurrency)
    ) as http:

        async def one() -> None:
            now = int(time.time() * 1000)
            events = [
                {
                    "eventId": next(EVENT_IDS),
                    "subscriptionId": 2,
                    "portalId": 62515,
                    "appId": 54321,
                    "occurredAt": now,
                    "subscriptionType": "deal.propertyChange",
                    "attemptNumber": 0,
                    "objectId": 10_000_000 + n,
                    "changeSource": "CRM",
                    "propertyName": "dealstage",
                    "propertyValue": "closedwon",
                }
                for n in range(size)
            ]
            body = json.dumps(events, separators=(",", ":")).encode()
            stamp = str(int(time.time() * 1000))
            headers = {
                "content-type": "application/json",
                "x-hubspot-request-timestamp": stamp,
                "x-hubspot-signature-v3": sign_v3(secret, "POST", url, body, stamp),
            }
            async with semaphore:
                started = time.perf_counter()
                response = await http.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == size

        await asyncio.gather(*(one() for _ in range(batches)))
    return latencies


class MemoryInbox:
    """Dedupe-only inbox, to measure the endpoint without the store's write cost."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        results = []
        for incoming in events:
            duplicate = incoming.source_event_id in self.seen
            inbox_id = self.seen.setdefault(incoming.source_event_id, len(self.seen) + 1)
            results.append(AcceptResult(inbox_id=inbox_id, duplicate=duplicate, correlation_id=""))
        return results


def webhook_benchmark(batches: int, size: int, concurrency: int, inbox_kind: str) -> dict[str, Any]:
    secret = "benchmark-secret"
    with tempfile.TemporaryDirectory() as scratch:
        store = Store(f"sqlite:///{Path(scratch) / 'hub.sqlite'}")
        upgrade(store)
        inbox = MemoryInbox() if inbox_kind == "memory" else Inbox(store)
        app = FastAPI()
        app.include_router(hubspot_webhook_router(lambda: secret, inbox))
        with serve_app_in_thread(app) as base:
            url = f"{base}/webhooks/hubspot"
            asyncio.run(_post_batches(url, secret, 10, size, concurrency))  # warm-up
            started = time.perf_counter()
            latencies = asyncio.run(_post_batches(url, secret, batches, size, concurrency))
            seconds = time.perf_counter() - started
        store.dispose()
    ordered = sorted(latencies)
    return {
        "inbox": inbox_kind,
        "batches": batches,
        "events_per_batch": size,
        "concurrency": concurrency,
        "batches_per_second": round(batches / seconds, 1),
        "events_per_second": round(batches * size / seconds, 1),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deals", type=int, default=50_000)
    parser.add_argument("--with-associations", action="store_true")
    parser.add_argument("--webhook-batches", type=int, default=400)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--skip-sync", action="store_true")
    parser.add_argument("--inbox", choices=["sqlite", "memory", "both"], default="both")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_sync:
        results["sync"] = sync_benchmark(args.deals, args.with_associations)
        sync = results["sync"]
        print(
            f"sync: {sync['deals']} deals in {sync['seconds']} s = {sync['records_per_second']} records/s, "
            f"{sync['api_calls']} API calls ({sync['searches']} searches, {sync['window_splits']} window splits), "
            f"429s: {sync['sandbox_429s'] or 'none'}; floor set by 5 searches/s: {sync['search_floor_seconds']} s"
        )
    kinds = ["sqlite", "memory"] if args.inbox == "both" else [args.inbox]
    for kind in kinds:
        hooks = webhook_benchmark(args.webhook_batches, args.batch_size, args.concurrency, kind)
        results[f"webhooks_{kind}"] = hooks
        print(
            f"webhooks ({kind} inbox): {hooks['batches_per_second']} batches/s "
            f"({hooks['events_per_second']} events/s) of {hooks['events_per_batch']} events, "
            f"concurrency {hooks['concurrency']}, p50 {hooks['p50_ms']} ms, p99 {hooks['p99_ms']} ms"
        )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
