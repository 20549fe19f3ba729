"""An event's inbox row and its run's enqueue commit in one transaction (issue 11): a process that
dies anywhere between storing events and enqueueing their runs leaves neither, on SQLite (the
engine's tables in the store's file) and on PostgreSQL; the redelivery stores and runs each
event once."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.conftest import engine_settings
from engine.test_flows import events
from handoff import services
from handoff.config import StoreConfig
from handoff.engine import failpoints, flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.models import InboxStatus
from support.ledger import Ledger
from support.waiting import wait_for

TESTS = Path(__file__).resolve().parents[1]
# A process that stores three events of one delivery the way the API does (flows.submit).
SUBMITTER = """
import json, sys
from engine.conftest import engine_settings
from engine.test_flows import events
from handoff.engine import flows
from handoff.engine.runtime import start_hub
store_url, ledger_url, flow = sys.argv[1], sys.argv[2], sys.argv[3]
hub = start_hub(engine_settings(store_url, ledger_url))
results = flows.submit(hub, "test", events(ledger_url, 3, prefix="cut", flow=flow))
print(json.dumps([r.duplicate for r in results]))
"""


def _submit_in_a_process(
    store_url: str, ledger_url: str, failpoint: str | None, flow: str = "ledger_steps"
) -> int:
    env = {k: v for k, v in os.environ.items() if k != failpoints.ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    if failpoint is not None:
        env[failpoints.ENV_VAR] = f"{failpoint}=exit"
    done = subprocess.run([sys.executable, "-c", SUBMITTER, store_url, ledger_url, flow], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode in (0, failpoints.CRASH_EXIT_CODE), done.stderr
    if done.returncode == 0:
        assert json.loads(done.stdout.splitlines()[-1]) == [False] * 3
    return done.returncode


def _runs(hub: Hub) -> int:
    table = "dbos.workflow_status" if hub.store.dialect == "postgresql" else "workflow_status"
    with hub.store.engine.connect() as connection:
        return int(connection.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


@pytest.mark.parametrize("failpoint", [failpoints.INBOX_ACCEPTED, failpoints.FIRST_ENQUEUED])
def test_a_process_dying_inside_submit_leaves_nothing_and_the_redelivery_runs_once(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger], store_url: str, failpoint: str
) -> None:
    url, book = ledger
    hub = launch()
    assert _submit_in_a_process(store_url, url, failpoint) == failpoints.CRASH_EXIT_CODE
    assert hub.inbox.list(limit=10) == [] and _runs(hub) == 0, "nothing stored, nothing enqueued"

    # The source redelivers: every event is new, each runs once.
    results = flows.submit(hub, "test", events(url, 3, prefix="cut"))
    assert [r.duplicate for r in results] == [False] * 3
    wait_for(lambda: [e.status for e in hub.inbox.list(limit=10)] == [InboxStatus.DONE] * 3,
             what="the redelivered events done")  # fmt: skip
    assert len(book.entries()) == 9  # three steps each
    assert len(services.list_flow_runs(hub, flow="ledger_steps")) == 3


def test_a_process_dying_while_it_dispatches_a_full_batch_leaves_nothing(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger], store_url: str
) -> None:
    # Three events of a flow that takes batches of three: the delivery fills the group, whose
    # run is enqueued in the same transaction; the process dies once the group is claimed.
    url, book = ledger
    hub = launch()
    failpoint = failpoints.BATCH_CLAIMED
    assert _submit_in_a_process(store_url, url, failpoint, "ledger_batch") == (
        failpoints.CRASH_EXIT_CODE
    )
    assert hub.inbox.list(limit=10) == [] and _runs(hub) == 0, "nothing stored, nothing enqueued"

    results = flows.submit(hub, "test", events(url, 3, prefix="cut", flow="ledger_batch"))
    assert [r.duplicate for r in results] == [False] * 3
    wait_for(lambda: [e.status for e in hub.inbox.list(limit=10)] == [InboxStatus.DONE] * 3,
             what="the redelivered events done")  # fmt: skip
    assert sorted(entry["seq"] for entry in book.entries()) == [0, 1, 2]  # once each
    rows = hub.inbox.list(limit=10)
    assert len({row.workflow_id for row in rows}) == 1  # one run for the three
    assert len(services.list_flow_runs(hub, flow="ledger_batch")) == 1


def test_events_stored_by_another_process_are_queued_with_their_runs(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger], store_url: str
) -> None:
    url, book = ledger
    hub = launch()
    assert _submit_in_a_process(store_url, url, None) == 0
    rows = hub.inbox.list(limit=10)
    assert {row.status for row in rows} <= {InboxStatus.QUEUED, InboxStatus.DONE}
    assert all(row.workflow_id for row in rows)
    wait_for(lambda: len(book.entries()) == 9, what="the three runs")


def test_on_sqlite_the_engine_tables_are_in_the_store_file(tmp_path: Path) -> None:
    settings = engine_settings(f"sqlite:///{tmp_path / 'handoff.db'}", "http://127.0.0.1:1")
    assert settings.system_store_url() == settings.store_url()
    hub = start_hub(settings)
    try:
        with hub.store.engine.connect() as connection:
            tables = set(connection.execute(
                sa.text("SELECT name FROM sqlite_master WHERE type='table'")).scalars())  # fmt: skip
            mode = connection.execute(sa.text("PRAGMA journal_mode")).scalar_one()
    finally:
        hub.shutdown()
        set_current_hub(None)
    assert {"inbox", "alembic_version", "workflow_status", "dbos_migrations"} <= tables
    assert mode == "wal"
    files = sorted(p.name for p in tmp_path.iterdir())
    assert [name for name in files if not name.startswith("handoff.db")] == [], files
    assert {stat.S_IMODE(os.stat(tmp_path / name).st_mode) for name in files} == {0o600}


def test_a_system_url_naming_another_database_is_refused(tmp_path: Path) -> None:
    settings = engine_settings(f"sqlite:///{tmp_path / 'handoff.db'}", "http://127.0.0.1:1")
    settings = settings.model_copy(update={"store": StoreConfig(
        url=settings.store_url(), system_url=f"sqlite:///{tmp_path / 'engine.db'}")})  # fmt: skip
    with pytest.raises(ValueError, match=r"store\.system_url must name the store's own database"):
        start_hub(settings)
