"""``OdooAdapter.create_bound_many`` over real HTTP against the Odoo sandbox: one ``create`` and one
``ir.model.data`` ``create`` for new rows, idempotent on re-run, and a process SIGKILLed between
the two leaves exactly one record per key after the re-run (found by its reference)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.connectors.odoo import OdooAdapter, OdooClient, external_id_name

testing = pytest.importorskip("handoff_sandbox.odoo.testing")

CHILD = Path(__file__).with_name("create_bound_crash_child.py")
MODEL = "account.analytic.line"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with testing.running_odoo_sandbox() as running:
        yield running


@pytest.fixture
def adapter(sandbox: Any) -> Iterator[OdooAdapter]:
    with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as odoo:
        odoo.login()
        yield OdooAdapter(odoo)


def server_calls(sandbox: Any) -> int:
    return httpx.get(f"{sandbox.url}/sandbox/control").json()["calls"]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def project_and_employee(adapter: OdooAdapter) -> tuple[int, int]:
    project = adapter.create(
        "project.project", {"name": unique("Project"), "allow_timesheets": True}
    )
    employee = adapter.search_read("hr.employee", [["user_id", "=", 2]], ["id"], limit=1)[0]["id"]
    return project, employee


def rows(keys: list[str], project: int, employee: int, hours: float = 1.5) -> list[Any]:
    return [
        (
            key,
            {
                "name": f"work {key}",
                "project_id": project,
                "employee_id": employee,
                "unit_amount": hours,
                "date": "2026-11-02",
            },
        )
        for key in keys
    ]


def test_new_rows_are_one_create_and_one_binding_call(sandbox: Any, adapter: OdooAdapter) -> None:
    project, employee = project_and_employee(adapter)
    keys = [unique("T") for _ in range(40)]
    adapter.schema.schema(MODEL)
    before = server_calls(sandbox)
    results = adapter.create_bound_many(MODEL, "timetracker", rows(keys, project, employee), "ref")
    # ir.model.data search, reference search, create, ir.model.data create
    assert server_calls(sandbox) - before == 4
    assert all(r.created for r in results) and len({r.id for r in results}) == 40
    sheets = adapter.read(MODEL, [r.id for r in results], ["ref", "unit_amount"])
    assert [s["ref"] for s in sheets] == [
        f"handoff.{external_id_name('timetracker', MODEL, key)}" for key in keys
    ]
    assert adapter.find_external_ids("timetracker", MODEL, keys) == {
        key: r.id for key, r in zip(keys, results, strict=True)
    }

    again = adapter.create_bound_many(
        MODEL, "timetracker", rows(keys, project, employee, 2.0), "ref"
    )
    assert [r.id for r in again] == [r.id for r in results]
    assert not any(r.created for r in again)
    assert {tuple(r.updated_fields) for r in again} == {("unit_amount",)}
    assert adapter.call(MODEL, "search_count", [[["project_id", "=", project]]]) == 40


def test_the_reference_field_is_the_methods_own(adapter: OdooAdapter) -> None:
    project, employee = project_and_employee(adapter)
    [(key, values)] = rows([unique("T")], project, employee)
    with pytest.raises(ValueError, match="ref is set by create_bound_many"):
        adapter.create_bound_many(MODEL, "timetracker", [(key, {**values, "ref": "x"})], "ref")


def test_crash_between_create_and_binding_leaves_one_record_each(
    sandbox: Any, adapter: OdooAdapter
) -> None:
    project, employee = project_and_employee(adapter)
    keys = [unique("crash") for _ in range(3)]
    child = subprocess.run(
        [
            sys.executable,
            str(CHILD),
            sandbox.url,
            sandbox.db,
            sandbox.login,
            sandbox.password,
            str(project),
            str(employee),
            *keys,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert "created, killing myself" in child.stdout
    # Created in Odoo, never bound: the process died before the ir.model.data create.
    assert adapter.call(MODEL, "search_count", [[["project_id", "=", project]]]) == 3
    assert adapter.find_external_ids("timetracker", MODEL, keys) == {}

    results = adapter.create_bound_many(MODEL, "timetracker", rows(keys, project, employee), "ref")
    assert not any(r.created for r in results)
    sheets = adapter.search_read(MODEL, [["project_id", "=", project]], ["id"], order="id asc")
    assert [s["id"] for s in sheets] == sorted(r.id for r in results)
    assert adapter.find_external_ids("timetracker", MODEL, keys) == {
        key: r.id for key, r in zip(keys, results, strict=True)
    }
