"""Crash anywhere (issue 10): one month of a small firm through the real stack (Odoo, HubSpot and
Salesforce sandboxes, `handoff api`, one `handoff worker`), with the worker SIGKILLed at many
points of every flow type and restarted each time. A kill point is an Odoo *write* held by the
sandbox before its effect (then dropped) or after it (the write happened, the worker never heard),
counted among writes only, so it lands on a write whatever reads come around it:

- deal to delivery: at the 1st/3rd/2nd... write from each restart, before and after; then the
  last deals while they wait on Odoo's open circuit;
- time entries and expenses (batched runs): the API dies inside the transaction that stores a
  delivery in the inbox and enqueues its runs, before the first enqueue and after it (failpoints;
  nothing of the delivery is left, the redelivery stores and runs each entry once); the worker dies at held
  writes mid-batch (timesheet create, expense load), while runs sleep their retry backoff, and
  while they wait on Odoo's open circuit;
- the invoice run (wizard, invoicing, posting) and the Stripe payments (register, create
  payments): at held writes, before and after; the last payments in their retry backoff.
  (invoice_status runs, polled every 5 s, are killed along the way wherever they are.)

After the last restart, what is in the Odoo sandbox must be exactly once: one customer, order and
project per deal, each approved billable entry one timesheet line (by its reference) and each
expense once, one invoice per invoiced order, one payment per matched charge. Every inbox row
that starts a flow ends done or failed, a failed one with an exception record; no run is left
pending. The kills made are printed (-s) and must cover every flow type.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import httpx
import pytest

from handoff import services
from handoff.canonical.crm import BillingModel
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.engine import failpoints
from handoff.engine.schedules import SCHEDULED_WORKFLOW
from handoff.store.models import InboxStatus
from handoff_sandbox.demo_firm import DemoDeal
from handoff_sandbox.month import (
    MonthOfWork,
    Project,
    card_payments,
    month_of_work,
    post_payments,
    post_time,
    posted_invoices,
)
from support.crashes import CrashWorld, crash_world, settled, wait_settled
from support.waiting import wait_for

DEALS = 6
ENTRIES = 240  # five deliveries of 48 entries and expenses, each met by other crashes
# Where the API dies on the way in, inside the one transaction: events stored, no flow enqueued;
# the first flow enqueued, the others not.
FAILPOINTS = (failpoints.INBOX_ACCEPTED, failpoints.FIRST_ENQUEUED)
MONTH = date.today().replace(day=1)
PAYMENT_STAMP = 1_790_000_000


@pytest.mark.e2e
@pytest.mark.timeout(600)
def test_every_accepted_event_reaches_odoo_once_wherever_the_worker_dies(
    tmp_path: Path, store_url: str
) -> None:
    started = time.monotonic()
    with crash_world(tmp_path, store_url) as world:
        stack, reader = world.stack, world.reader
        odoo = OdooAdapter(
            OdooClient(stack.odoo.url, stack.odoo.db, stack.odoo.login, stack.odoo.password)
        )
        deals = _deals(world)

        # Deal to delivery: killed at held Odoo writes, before and after their effect; then
        # while the last deals wait on Odoo's open circuit.
        stack.win(*(d.key for d in deals[:4]))
        delivered = lambda n: lambda: len(reader.bindings.all(model="sale.order")) == n  # noqa: E731
        world.kill_at_writes([(0, "after"), (2, "before"), (1, "after"), (2, "after"), (0, "before")],
                            delivered(4), "deal to delivery")  # fmt: skip
        wait_for(lambda: delivered(4)() and settled(reader), timeout=180, what="4 deals delivered")
        world.kill_in_breaker_wait("deal_to_delivery", "deal to delivery",
                                   lambda: stack.win(*(d.key for d in deals[4:])))  # fmt: skip
        wait_for(lambda: delivered(len(deals))() and settled(reader), timeout=180,
                 what="every deal delivered")  # fmt: skip

        # Time entries and expenses, in four deliveries, each met by another crash.
        projects = [Project(stack.deal_key(d.key), d.name, d.billing_model, d.currency,
                            d.legal_entity) for d in deals]  # fmt: skip
        work = month_of_work(projects, MONTH, entries=ENTRIES)
        deliveries = [work.items[n::5] for n in range(5)]
        secret = stack.secret("timetracker_secret")
        all_pushed = lambda: settled(reader, "timetracker")  # noqa: E731

        for delivery, failpoint in zip(deliveries, FAILPOINTS, strict=False):
            stored = time_rows(world)
            with world.api_dying_at(failpoint), pytest.raises(httpx.TransportError):
                post_time(stack.hub_url, secret, delivery)
            # The API died inside the transaction that stores the entries and enqueues their
            # runs: nothing of it is stored, nor enqueued. Redelivered, every entry is new.
            assert time_rows(world) == stored
            assert post_time(stack.hub_url, secret, delivery) == len(delivery)
            wait_for(all_pushed, timeout=120, what=f"the delivery cut at {failpoint} pushed")

        assert post_time(stack.hub_url, secret, deliveries[2]) == len(deliveries[2])
        world.kill_at_writes([(0, "after"), (1, "after"), (0, "before")], all_pushed,
                            "time entries")  # fmt: skip
        wait_for(all_pushed, timeout=180, what="the second delivery pushed")

        world.kill_in_backoff(2, "time_entry", "time entries",
                              lambda: post_time(stack.hub_url, secret, deliveries[3]))  # fmt: skip
        wait_for(all_pushed, timeout=180, what="the third delivery pushed")

        world.kill_in_breaker_wait("time_entry", "time entries",
                                   lambda: post_time(stack.hub_url, secret, deliveries[4]))  # fmt: skip
        wait_for(all_pushed, timeout=180, what="the fourth delivery pushed")

        # The month's invoice run, handed to the worker, killed mid-run.
        run = _invoice_run(world)
        invoiced = lambda: run.poll() is not None  # noqa: E731
        world.kill_at_writes([(0, "after"), (2, "after"), (1, "before")], invoiced, "invoice run")
        output, _ = run.communicate(timeout=300)
        assert run.returncode == 0, output

        # Clients pay by card: Stripe's events, the worker killed at held writes, then while
        # the last payments sleep their retry backoff.
        payments = card_payments(posted_invoices(odoo), stamp=PAYMENT_STAMP)
        stripe_secret = stack.secret("stripe_webhook_secret")
        half = len(payments) // 2
        post_payments(stack.hub_url, stripe_secret, payments[:half])
        paid = lambda: settled(reader, "stripe")  # noqa: E731
        world.kill_at_writes([(0, "after"), (1, "after"), (0, "before")], paid, "payments")
        wait_settled(reader, "stripe", timeout=120, what="the first payments handled")
        world.kill_in_backoff(3, "stripe_payment", "payments",
                              lambda: post_payments(stack.hub_url, stripe_secret, payments[half:]))  # fmt: skip
        wait_settled(reader, timeout=120, what="every event settled")

        _check_nothing_left_behind(world)
        _check_odoo_holds_everything_once(odoo, world, deals, work, payments)
        elapsed = time.monotonic() - started
        print(f"\ncrash anywhere ({store_url.split(':')[0]}): {len(world.kills)} kills "
              f"in {elapsed:.0f} s:\n  " + "\n  ".join(world.kills))  # fmt: skip
        assert len(world.kills) >= 12, "most kill points were reached"
        points = {kill.split(":")[0] for kill in world.kills}
        assert points >= {"deal to delivery", "time entries", "invoice run", "payments", "API"}


def time_rows(world: CrashWorld) -> tuple[int, int]:
    """The time tracker's inbox rows and the runs enqueued for them."""
    rows = world.reader.inbox.list(source="timetracker", limit=100_000)
    runs = services.list_flow_runs(world.reader, flow="time_entry", limit=100_000)
    return len(rows), len(runs)


def _deals(world: CrashWorld) -> list[DemoDeal]:
    """A valid deal of each contract type but the retainer (its own test below kills its run
    where the overage line was added), then more time-and-materials ones (they invoice)."""
    valid = sorted((d for d in world.stack.winnable_deals() if not d.defect), key=lambda d: d.key)
    chosen = {d.billing_model: d for d in reversed(valid)
              if d.billing_model != BillingModel.RETAINER}  # fmt: skip
    tm = [d for d in valid if d.billing_model == BillingModel.TIME_AND_MATERIALS]
    picked = list(chosen.values()) + [d for d in tm if d not in chosen.values()]
    assert len(picked) >= DEALS, [d.key for d in valid]
    return picked[:DEALS]


@pytest.mark.e2e
@pytest.mark.timeout(300)
def test_a_retainer_overage_line_added_before_a_crash_is_invoiced_once(tmp_path: Path) -> None:
    with crash_world(tmp_path, f"sqlite:///{tmp_path / 'handoff.db'}") as world:
        stack, reader = world.stack, world.reader
        retainer = next(d for d in sorted(stack.winnable_deals(), key=lambda d: d.key)
                        if d.billing_model == BillingModel.RETAINER and not d.defect
                        and d.legal_entity.endswith("GmbH"))  # another company than Odoo's first  # fmt: skip
        stack.win(retainer.key)
        wait_for(lambda: len(reader.bindings.all(model="sale.order")) == 1, timeout=120,
                 what="the retainer delivered")  # fmt: skip
        project = Project(stack.deal_key(retainer.key), retainer.name, retainer.billing_model,
                          retainer.currency, retainer.legal_entity)  # fmt: skip
        work = month_of_work([project], MONTH, entries=80)
        post_time(stack.hub_url, stack.secret("timetracker_secret"), work.items)
        wait_settled(reader, "timetracker", timeout=120, what="the retainer's time pushed")

        run = _invoice_run(world)
        world.kill_at_writes([(0, "after")], lambda: run.poll() is not None, "invoice run",
                             writes=["sale.order.line.create"])  # fmt: skip
        assert world.kills, "the run added no overage line"
        output, _ = run.communicate(timeout=180)
        assert run.returncode == 0, output


def _invoice_run(world: CrashWorld) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "handoff.cli.main", "billing", "run",
               "--period", f"{MONTH:%Y-%m}"]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **world.stack.env}, cwd=world.folder,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _check_nothing_left_behind(world: CrashWorld) -> None:
    reader = world.reader
    rows = [row for row in reader.inbox.list(limit=100_000) if row.flow is not None]
    statuses = Counter(row.status for row in rows)
    assert set(statuses) <= {InboxStatus.DONE, InboxStatus.FAILED}, statuses
    failed = {row.workflow_id for row in rows if row.status == InboxStatus.FAILED}
    excepted = {e.workflow_id for e in reader.exceptions.list(limit=1000)}
    assert failed <= excepted, f"failed without an exception: {failed - excepted}"
    # The schedules' ticks are workflows too; the next one waits enqueued on its clock.
    runs = Counter(
        r.status
        for r in services.list_flow_runs(reader, limit=10_000)
        if r.flow != SCHEDULED_WORKFLOW
    )
    assert set(runs) <= {"SUCCESS", "ERROR"}, runs


def _check_odoo_holds_everything_once(
    odoo: OdooAdapter, world: CrashWorld, deals: list, work: MonthOfWork,
    payments: list[dict[str, object]],
) -> None:  # fmt: skip
    stack = world.stack
    refs = [f"{d.crm}:{stack.crm_id(d.key)}" for d in deals]
    orders = odoo.search_read("sale.order", [["client_order_ref", "in", refs]],
                              ["client_order_ref", "partner_id", "project_ids", "name"])  # fmt: skip
    assert sorted(o["client_order_ref"] for o in orders) == sorted(refs), "one order per deal"
    assert all(len(o["project_ids"]) == 1 for o in orders), "one project per order"
    clients = Counter({d.client for d in deals})
    partners = Counter(
        p["name"]
        for p in odoo.search_read(
            "res.partner", [["name", "in", list(clients)], ["is_company", "=", True]], ["name"]
        )
    )
    assert partners == clients, "one customer per client"

    # Every approved billable entry is one line in Odoo, whatever crashed in between.
    lines = odoo.search_read("account.analytic.line", [["ref", "!=", False]], ["ref"])
    # A line's reference is its external id: ...__time_timetracker_<source id>_<hash>.
    entries = Counter(line["ref"].split("__time_timetracker_")[1].rsplit("_", 1)[0]
                      for line in lines)  # fmt: skip
    wanted = Counter(item["source_id"].lower().replace("-", "_") for item in work.billable("time"))
    assert entries == wanted, (entries - wanted, wanted - entries)
    expenses = odoo.search_read("hr.expense", [], ["name", "description"])
    assert len(expenses) == len(work.billable("expense")), expenses

    # One invoice per invoiced order, one payment per matched charge.
    origins = Counter(
        m["invoice_origin"]
        for m in odoo.search_read(
            "account.move", [["move_type", "=", "out_invoice"]], ["invoice_origin"]
        )
    )
    assert origins and max(origins.values()) == 1, origins
    memos = Counter(p["memo"] for p in odoo.search_read("account.payment", [], ["memo"]))
    assert memos and max(memos.values()) == 1, memos
    assert sum(memos.values()) == len(payments) - 1  # all but the charge nobody can match
