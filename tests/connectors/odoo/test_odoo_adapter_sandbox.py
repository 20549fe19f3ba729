"""The adapter over real HTTP against the Odoo sandbox: batching, paging, polling, upsert, crash."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.connectors.odoo import (
    OdooAdapter,
    OdooClient,
    SchemaViolation,
    WriteDateCursor,
    external_id_name,
)

testing = pytest.importorskip("handoff_sandbox.odoo.testing")

CHILD = Path(__file__).with_name("upsert_crash_child.py")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with testing.running_odoo_sandbox() as running:
        yield running


@pytest.fixture
def client(sandbox: Any) -> Iterator[OdooClient]:
    with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as odoo:
        odoo.login()  # version + authenticate now, so call counts below are the adapter's
        yield odoo


@pytest.fixture
def adapter(client: OdooClient) -> OdooAdapter:
    return OdooAdapter(client)


def server_calls(sandbox: Any) -> int:
    """RPC calls the sandbox has served, from its control endpoint."""
    return httpx.get(f"{sandbox.url}/sandbox/control").json()["calls"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def project_with_employee(adapter: OdooAdapter) -> tuple[int, int]:
    project = adapter.create(
        "project.project", {"name": unique("Bench project"), "allow_timesheets": True}
    )
    employee = adapter.search_read("hr.employee", [["user_id", "=", 2]], ["id"], limit=1)[0]["id"]
    return project, employee


def test_create_many_sends_one_call_per_batch(sandbox: Any, adapter: OdooAdapter) -> None:
    project, employee = project_with_employee(adapter)
    adapter.schema.schema("account.analytic.line")  # fields_get once, outside the count
    tag = unique("ts")
    rows = [
        {
            "project_id": project,
            "employee_id": employee,
            "name": f"{tag} {i}",
            "unit_amount": 0.25,
            "date": "2026-11-22",
        }
        for i in range(2500)
    ]
    before = server_calls(sandbox)
    ids = adapter.create_many("account.analytic.line", rows, batch_size=1000)
    assert server_calls(sandbox) - before == 3
    assert len(ids) == len(set(ids)) == 2500
    back = adapter.read("account.analytic.line", [ids[0], ids[1234], ids[-1]], ["name"])
    assert [r["name"] for r in back] == [f"{tag} 0", f"{tag} 1234", f"{tag} 2499"]


def test_schema_violation_sends_nothing(sandbox: Any, adapter: OdooAdapter) -> None:
    adapter.schema.schema("res.partner")
    before = server_calls(sandbox)
    with pytest.raises(SchemaViolation) as caught:
        adapter.create_many(
            "res.partner",
            [{"name": "ok"}, {"email": "x@example.com"}, {"name": "bad", "type": "nope"}],
        )
    assert server_calls(sandbox) == before
    assert [(v.row, v.field) for v in caught.value.violations] == [(1, "name"), (2, "type")]


def test_write_many_groups_identical_values(sandbox: Any, adapter: OdooAdapter) -> None:
    ids = adapter.create_many("res.partner", [{"name": unique("w")} for _ in range(6)])
    updates = {
        ids[0]: {"comment": "<p>a</p>"},
        ids[1]: {"comment": "<p>b</p>"},
        ids[2]: {"comment": "<p>a</p>"},
        ids[3]: {"comment": "<p>b</p>"},
        ids[4]: {"comment": "<p>a</p>"},
        ids[5]: {"comment": "<p>a</p>"},
    }
    before = server_calls(sandbox)
    assert adapter.write_many("res.partner", updates) == 2
    assert server_calls(sandbox) - before == 2
    rows = adapter.read("res.partner", ids, ["comment"])
    assert {r["id"]: r["comment"] for r in rows} == {i: v["comment"] for i, v in updates.items()}


def test_search_read_pages_by_id(adapter: OdooAdapter) -> None:
    tag = unique("page")
    ids = adapter.create_many("res.partner", [{"name": f"{tag} {i}"} for i in range(25)])
    pages = list(
        adapter.search_read_pages("res.partner", [["name", "like", tag]], ["name"], page_size=10)
    )
    assert [len(p) for p in pages] == [10, 10, 5]
    assert [r["id"] for p in pages for r in p] == ids


def test_poll_changes_resumes_after_ties_and_sees_later_writes(adapter: OdooAdapter) -> None:
    tag = unique("poll")
    ids = adapter.create_many("res.partner", [{"name": f"{tag} {i}"} for i in range(5)])
    domain = [["name", "like", tag]]
    seen: list[int] = []
    cursor: WriteDateCursor | None = None
    for _ in range(4):
        page = adapter.poll_changes(
            "res.partner", ["name"], cursor=cursor, domain=domain, page_size=2
        )
        seen += [r["id"] for r in page.records]
        cursor = page.cursor
        if not page.more:
            break
    assert seen == ids  # five rows, most sharing one write_date second: none lost, none repeated
    assert adapter.poll_changes("res.partner", ["name"], cursor=cursor, domain=domain).records == []
    time.sleep(1.1)  # write_date has one-second resolution
    adapter.write("res.partner", [ids[1]], {"name": f"{tag} renamed"})
    page = adapter.poll_changes("res.partner", ["name"], cursor=cursor, domain=domain)
    assert [(r["id"], r["name"]) for r in page.records] == [(ids[1], f"{tag} renamed")]


def test_poll_changes_settle_window_holds_back_the_newest_second(adapter: OdooAdapter) -> None:
    tag = unique("settle")
    [record] = adapter.create_many("res.partner", [{"name": tag}])
    domain = [["name", "=", tag]]
    held = adapter.poll_changes("res.partner", ["name"], domain=domain, settle_seconds=1.0)
    assert held.records == [] and held.cursor is None
    time.sleep(2.05)
    page = adapter.poll_changes("res.partner", ["name"], domain=domain, settle_seconds=1.0)
    assert [r["id"] for r in page.records] == [record]


def test_read_group(adapter: OdooAdapter) -> None:
    project, employee = project_with_employee(adapter)
    adapter.create_many(
        "account.analytic.line",
        [
            {
                "project_id": project,
                "employee_id": employee,
                "name": "a",
                "unit_amount": h,
                "date": "2026-11-22",
            }
            for h in (1.0, 2.5, 0.5)
        ],
    )
    groups = adapter.read_group(
        "account.analytic.line", [["project_id", "=", project]], ["unit_amount:sum"], ["project_id"]
    )
    assert len(groups) == 1
    assert groups[0]["project_id"][0] == project
    assert groups[0]["unit_amount"] == pytest.approx(4.0)
    assert groups[0]["__count"] == 3


def test_upsert_creates_then_updates_then_skips(sandbox: Any, adapter: OdooAdapter) -> None:
    key = unique("hubspot-company")
    first = adapter.upsert("res.partner", "hubspot", key, {"name": "Acme", "is_company": True})
    assert first.created
    assert first.xmlid == f"handoff.{external_id_name('hubspot', 'res.partner', key)}"
    second = adapter.upsert("res.partner", "hubspot", key, {"name": "Acme Ltd", "is_company": True})
    assert (second.id, second.created, second.updated_fields) == (first.id, False, ["name"])
    before = server_calls(sandbox)
    third = adapter.upsert("res.partner", "hubspot", key, {"name": "Acme Ltd", "is_company": True})
    assert (third.id, third.created, third.updated_fields) == (first.id, False, [])
    assert server_calls(sandbox) - before == 2  # find binding, read current values: no write
    data = adapter.search_read(
        "ir.model.data", [["module", "=", "handoff"], ["res_id", "=", first.id]], ["model", "name"]
    )
    assert data == [
        {
            "id": data[0]["id"],
            "model": "res.partner",
            "name": external_id_name("hubspot", "res.partner", key),
        }
    ]


def test_upsert_many_is_one_load_for_new_rows(sandbox: Any, adapter: OdooAdapter) -> None:
    rows = [
        (unique("c"), {"name": unique("contact"), "email": f"{i}@example.com"}) for i in range(50)
    ]
    adapter.schema.schema("res.partner")
    before = server_calls(sandbox)
    results = adapter.upsert_many("res.partner", "crm", rows)
    assert server_calls(sandbox) - before == 2  # one ir.model.data search + one load
    assert all(r.created for r in results)
    again = adapter.upsert_many("res.partner", "crm", rows)
    assert [r.id for r in again] == [r.id for r in results]
    assert not any(r.created for r in again)


def test_upsert_recreates_when_the_record_was_deleted(adapter: OdooAdapter) -> None:
    key = unique("gone")
    first = adapter.upsert("res.partner", "crm", key, {"name": "Gone Co"})
    adapter.call("res.partner", "unlink", [[first.id]])
    again = adapter.upsert("res.partner", "crm", key, {"name": "Gone Co"})
    assert again.created and again.id != first.id


def test_crash_between_create_and_binding_does_not_duplicate(
    sandbox: Any, adapter: OdooAdapter
) -> None:
    key = unique("deal-crash")
    name = unique("Crash Co")
    child = subprocess.run(
        [
            sys.executable,
            str(CHILD),
            sandbox.url,
            sandbox.db,
            sandbox.login,
            sandbox.password,
            key,
            name,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "created, killing myself" in child.stdout
    # The record exists in Odoo although the process died before it could record anything.
    assert len(adapter.search_read("res.partner", [["name", "=", name]], ["id"])) == 1
    rerun = adapter.upsert("res.partner", "crm", key, {"name": name, "is_company": True})
    assert rerun.created is False
    assert adapter.search_read("res.partner", [["name", "=", name]], ["id"]) == [{"id": rerun.id}]
