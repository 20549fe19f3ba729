"""Incremental sync of N Salesforce opportunities (with 2 line items each) from the sandbox into
canonical Deals, under the sandbox's enforced daily API limit.

    .venv/bin/python benchmarks/salesforce_sync.py [--opportunities 50000] [--daily-limit 15000]

Prints records/s, API calls used (each one counts against the org's limit), and the usage ratio.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta

from handoff.connectors.salesforce.adapter import SalesforceAdapter
from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff_sandbox.salesforce.seed import seed_bulk_opportunities
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--opportunities", type=int, default=50_000)
    parser.add_argument("--daily-limit", type=int, default=15_000)
    parser.add_argument("--budget-floor", type=float, default=0.10)
    args = parser.parse_args()

    with running_salesforce_sandbox(daily_api_limit=args.daily_limit) as sandbox:
        started = time.perf_counter()
        seed_bulk_opportunities(sandbox.store, args.opportunities)
        print(f"seeded {args.opportunities} opportunities in {time.perf_counter() - started:.1f}s")
        settings = SalesforceSettings(**sandbox.connector_settings(budget_floor=args.budget_floor))
        with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
            adapter = SalesforceAdapter(client)
            until = datetime.now(UTC) + timedelta(seconds=1)
            started = time.perf_counter()
            deals = lines = batches = 0
            cursor = None
            for batch in adapter.changed_deals(None, until=until):
                deals += len(batch.records)
                lines += sum(len(d.lines) for d in batch.records)
                batches += 1
                cursor = batch.cursor
            elapsed = time.perf_counter() - started
            full_calls = client.calls
            print(
                f"full sync: {deals} deals / {lines} lines in {elapsed:.1f}s = "
                f"{deals / elapsed:,.0f} deals/s; {full_calls} API calls "
                f"({batches} pages of opportunities + line queries + 1 login not counted)"
            )
            # Incremental: 1% of opportunities change, then sync from the stored cursor.
            changed = [r["Id"] for r in sandbox.store.records("Opportunity")[::100]]
            with sandbox.store.transaction() as tx:
                for record_id in changed:
                    sandbox.store.update(tx, "Opportunity", record_id, {"Description": "changed"})
            calls_before = client.calls
            started = time.perf_counter()
            synced = sum(
                len(b.records)
                for b in adapter.changed_deals(
                    cursor, until=datetime.now(UTC) + timedelta(seconds=1)
                )
            )
            elapsed = time.perf_counter() - started
            print(
                f"incremental sync: {synced} changed deals in {elapsed:.2f}s = "
                f"{synced / elapsed:,.0f} deals/s; {client.calls - calls_before} API calls"
            )
            print(
                f"org API usage: {sandbox.api_usage}/{sandbox.state.daily_limit} "
                f"(ratio {client.budget.usage_ratio:.3f}, floor keeps {args.budget_floor:.0%})"
            )


if __name__ == "__main__":
    main()
