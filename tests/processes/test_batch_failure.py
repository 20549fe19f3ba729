"""Batch failure (issue 11): batches of time entries delivered one per webhook call, pushed by a
real `handoff worker` process that is SIGKILLed mid-batch and restarted, while Odoo refuses one
entry and times out on another. Every good entry ends in Odoo exactly once (by its reference),
every bad one with an exception of its own, and no inbox row is left waiting or queued.

The world: the Odoo sandbox seeded with one delivered deal, the hub's API served in this process
(it stores and dispatches full groups; it runs no flow), one worker subprocess (it runs the flows
and dispatches the groups that lingered). Kill points are Odoo writes held by the sandbox:
- a batch of good entries, killed while its timesheet ``create`` is held after its effect (the
  rows are in Odoo, the worker never heard): the recovered run finds them by reference;
- a batch holding the two bad entries, killed while its ``create`` is held before its effect;
  the recovered run's shared create is refused, every entry gets a run of its own: the good ones
  are pushed, the refused one and the one that times out end in their own exceptions.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from handoff.api.app import create_app
from handoff.config import load_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.ingress.events import sign
from handoff.store.models import InboxStatus
from handoff_sandbox.odoo.testing import running_odoo_sandbox
from support.crashes import OdooFaults
from support.servers import serving
from support.waiting import wait_for
from support.workers import Worker
from timesheets.desk import (
    SECRET,
    Seeded,
    bind_delivered_deal,
    config_text,
    entry,
    seed_delivered_deal,
)

SIZE = 10
LINGER_MS = 2000  # groups are cut by size here, lingering only for the last entries
TIMESHEET_CREATE = ["account.analytic.line.create"]
REFUSED, SLOW = "REFUSED-BY-ODOO", "TIMES-OUT-IN-ODOO"


@dataclass
class World:
    hub: Hub
    seeded: Seeded
    api: str
    odoo: OdooFaults
    worker: Worker
    folder: Path
    kills: list[str]

    def post_one(self, item: dict[str, object]) -> None:
        raw = json.dumps([item]).encode()
        response = httpx.post(
            f"{self.api}/webhooks/time",
            content=raw,
            headers={"Content-Type": "application/json", "X-Handoff-Signature": sign(SECRET, raw)},
            timeout=30,
        )
        assert response.status_code == 202, response.text

    def kill_while_held(self, what: str) -> None:
        wait_for(self.odoo.held, timeout=60, what=f"{what}: the timesheet create held")
        self.worker.kill()
        self.kills.append(what)
        self.odoo.set(release=True)
        self.worker = Worker(self.worker.config, "batch-worker", self.folder).start()


@pytest.fixture
def world(store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[World]:
    with running_odoo_sandbox() as box:
        monkeypatch.setenv("TEST_ODOO_PASSWORD", box.password)
        monkeypatch.setenv("TEST_TIME_SECRET", SECRET)
        seeded = seed_delivered_deal(box)
        config = yaml.safe_load(config_text(store_url, box.url))
        config["systems"]["odoo"]["timeout_seconds"] = 2  # a call Odoo sits on times out soon
        config["systems"]["odoo"]["circuit_breaker"] = {"failure_threshold": 50}
        config["flows"] = {"time_entry": {"batch": {"size": SIZE, "linger_ms": LINGER_MS}}}
        path = tmp_path / "handoff.yaml"
        path.write_text(yaml.safe_dump(config))
        hub = start_hub(load_settings(path))
        flows.load_flow_modules(hub.settings)
        bind_delivered_deal(hub, seeded)
        faults = OdooFaults(box.url)
        world: World | None = None
        try:
            with serving(create_app(hub)) as api:
                world = World(
                    hub, seeded, api, faults, Worker(path, "batch-worker", tmp_path).start(),
                    tmp_path, [],
                )  # fmt: skip
                yield world
        finally:
            faults.set(reset=True)
            if world is not None:  # the worker running now: each kill starts a new one
                world.worker.stop()
            hub.shutdown()
            flows.close_clients()
            set_current_hub(None)


def _settled(hub: Hub, count: int) -> bool:
    rows = hub.inbox.list(limit=10_000)
    return len(rows) == count and all(
        row.status in (InboxStatus.DONE, InboxStatus.FAILED) for row in rows
    )


@pytest.mark.timeout(300)
def test_a_failing_killed_batch_strands_no_entry(world: World) -> None:
    # 1. A batch of good entries, one per delivery: the worker dies once Odoo created its rows.
    world.odoo.set(hold_after=0, hold_mode="after", hold_methods=TIMESHEET_CREATE)
    good = [entry(f"g-{n}", hours=1 + n % 4) for n in range(SIZE + 5)]  # a full group, a partial
    for item in good:
        world.post_one(item)
    world.kill_while_held("good batch: create held after its effect")

    # 2. A batch with a refused entry and one Odoo sits on: the worker dies at its create.
    world.odoo.set(fail_matching={REFUSED: "refuse", SLOW: "timeout"})
    world.odoo.set(hold_after=0, hold_mode="before", hold_methods=TIMESHEET_CREATE)
    mixed = [entry(f"m-{n}", hours=1 + n % 3) for n in range(SIZE - 2)]
    mixed.insert(2, entry("bad-refused", description=f"Workshop {REFUSED}"))
    mixed.insert(6, entry("bad-slow", description=f"Workshop {SLOW}"))
    for item in mixed:
        world.post_one(item)
    world.kill_while_held("mixed batch: create held before its effect")

    total = len(good) + len(mixed)
    try:
        wait_for(lambda: _settled(world.hub, total), timeout=180, what="every entry settled")
    except AssertionError as error:
        statuses = Counter(str(row.status) for row in world.hub.inbox.list(limit=10_000))
        raise AssertionError(f"{error}; inbox: {statuses}") from None
    assert world.kills == [
        "good batch: create held after its effect",
        "mixed batch: create held before its effect",
    ]

    rows = world.hub.inbox.list(limit=10_000)
    ids = {row.id: row.payload["record"]["source_id"] for row in rows}
    failed = sorted(ids[row.id] for row in rows if row.status == InboxStatus.FAILED)
    assert failed == ["bad-refused", "bad-slow"]
    # Each bad entry has its own open exception, naming it; nothing else is open.
    exceptions = [x for x in world.hub.exceptions.list() if x.status == "open"]
    assert sorted(x.record for x in exceptions) == [
        "time:timetracker:bad-refused",
        "time:timetracker:bad-slow",
    ]
    rules = {x.record: (x.kind, x.rule) for x in exceptions}
    assert rules["time:timetracker:bad-slow"][1] == "timeout", rules
    assert rules["time:timetracker:bad-refused"][0] != "transient", rules  # Odoo's refusal
    # Every good entry is one timesheet line in Odoo, by its reference, whatever crashed.
    lines = world.seeded.odoo.search_read("account.analytic.line", [["ref", "!=", False]], ["ref"])
    refs = Counter(line["ref"].split("__time_timetracker_")[1].rsplit("_", 1)[0] for line in lines)
    wanted = Counter(
        str(item["source_id"]).replace("-", "_")
        for item in good + mixed
        if not str(item["source_id"]).startswith("bad-")
    )
    assert refs == wanted, (refs - wanted, wanted - refs)
    # Batched: fewer runs than deliveries (a loaded machine posts slowly and sees some entries
    # linger alone; test_batches.py counts N / size runs with a linger that cannot fire).
    phase_one = {row.workflow_id for row in rows if ids[row.id].startswith("g-")}
    assert len(phase_one) < len(good), phase_one
