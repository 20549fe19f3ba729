"""The hub's schedules are the engine's scheduled workflows (issue 11): two `handoff worker`
processes on one PostgreSQL both register the HubSpot deal poll, and each tick polls HubSpot
once — counted by the HubSpot sandbox's own request statistics against the engine's runs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from handoff.config import load_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox
from support.waiting import wait_for
from support.workers import Worker

TOKEN_VARIABLE = "TEST_SCHEDULE_HUBSPOT_TOKEN"
POLL = "handoff.poll.deal_poll"  # the schedule's name in the engine


@pytest.fixture
def hubspot() -> Iterator[RunningHubSpotSandbox]:
    with running_hubspot_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
def config(
    tmp_path: Path, store_url: str, hubspot: RunningHubSpotSandbox, monkeypatch: pytest.MonkeyPatch
) -> Path:
    monkeypatch.setenv(TOKEN_VARIABLE, hubspot.token)  # the workers inherit it
    path = tmp_path / "handoff.yaml"
    path.write_text(yaml.safe_dump({
        "version": 1,
        "store": {"url": store_url},
        "systems": {"hubspot": {"kind": "hubspot", "url": hubspot.url,
                                "credentials": {"token": f"${{{TOKEN_VARIABLE}}}"}}},
        "flows": {"deal_poll": {"trigger": {"poll": {"system": "hubspot",
                                                     "interval_seconds": 1}}}},
    }))  # fmt: skip
    return path


@pytest.fixture
def reader(config: Path) -> Iterator[Hub]:
    hub = start_hub(load_settings(config))
    yield hub
    flows.close_clients()
    hub.shutdown()
    set_current_hub(None)


def poll_runs(hub: Hub) -> Counter[tuple[str, str]]:
    """The poll's runs in the engine, by (status, executor)."""
    with hub.store.engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT status, executor_id FROM dbos.workflow_status "
                    "WHERE workflow_uuid LIKE :prefix"),
            {"prefix": f"sched-{POLL}-%"},
        ).all()  # fmt: skip
    return Counter((str(status), str(executor)) for status, executor in rows)


def searches(hubspot: RunningHubSpotSandbox) -> int:
    return sum(n for call, n in hubspot.stats()["calls"].items() if "search" in call)


@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_two_workers_poll_once_per_tick(
    tmp_path: Path, config: Path, reader: Hub, hubspot: RunningHubSpotSandbox
) -> None:
    workers = [Worker(config, f"w{i}", tmp_path).start() for i in range(2)]
    try:
        ticked = lambda: sum(n for (s, _), n in poll_runs(reader).items() if s == "SUCCESS")  # noqa: E731
        wait_for(lambda: ticked() >= 8, timeout=90, what="eight poll ticks")
    finally:
        for worker in workers:
            worker.stop()
    runs = poll_runs(reader)
    done = sum(n for (status, _), n in runs.items() if status == "SUCCESS")
    unfinished = sum(n for (status, _), n in runs.items() if status != "SUCCESS")
    polled = searches(hubspot)
    print(f"\npoll runs by (status, executor): {dict(runs)}; HubSpot searches: {polled}")
    # One search per tick that ran (a tick cut by the workers' stop may or may not have called).
    assert done <= polled <= done + unfinished, (polled, runs)
    assert {executor for (status, executor) in runs if status == "SUCCESS"} <= {"w0", "w1"}
