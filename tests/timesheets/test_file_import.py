"""`handoff import time FILE` / `handoff import expenses FILE`: a bad row -> a per-row report, a
non-zero exit and nothing imported; a good file -> timesheets on the project, task and sale line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from handoff.cli.time_cmd import import_app
from handoff.engine.runtime import set_current_hub
from support.waiting import wait_for
from timesheets.desk import DEAL, Desk

runner = CliRunner()
HEADER = "source_id,revision,consultant,deal_ref,task_ref,date,hours,billable,approval,description"


def _import(desk: Desk, kind: str, path: Path) -> tuple[int, str]:
    result = runner.invoke(
        import_app, [kind, str(path), "--config", str(desk.config)], env={"COLUMNS": "200"}
    )
    set_current_hub(desk.hub)  # the command built its own hub on the same store
    return result.exit_code, result.output


def test_a_bad_row_is_reported_and_nothing_is_imported(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "week45.csv"
    path.write_text(
        "\n".join(
            [
                HEADER,
                f"C-1,1,ada@firm.example,{DEAL},Build,2026-11-02,4,true,approved,Workshop",
                f"C-2,1,ada@firm.example,{DEAL},Build,2026-11-03,four,true,approved,Modelling",
                "C-3,1,ada@firm.example,,Build,2026-11-04,2,true,approved,No project",
                f"C-4,1,ada@firm.example,{DEAL},Build,2026-11-05,3,maybe,approved,Review",
            ]
        )
        + "\n"
    )
    code, output = _import(desk, "time", path)
    assert code == 1
    assert "3 bad row(s), nothing imported" in output
    for expected in ("four", "hours", "project_ref/deal_ref", "billable", "maybe"):
        assert expected in output
    assert desk.hub.inbox.list(limit=100) == []
    assert desk.timesheets() == []


def test_unreadable_files_are_refused(desk: Desk, tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text("[{")
    code, output = _import(desk, "time", path)
    assert code == 2 and "invalid JSON" in output
    assert desk.hub.inbox.list(limit=100) == []


def test_a_good_file_becomes_timesheets_on_the_project_task_and_sale_line(
    desk: Desk, tmp_path: Path
) -> None:
    path = tmp_path / "week45.csv"
    rows = [
        f"C-{i},1,{who},{DEAL},{task},2026-11-0{i},{hours},true,approved,Work {i}"
        for i, (who, task, hours) in enumerate(
            [
                ("ada@firm.example", "Build", 4),
                ("Grace Hopper", "Discovery", 2.5),
                ("grace@firm.example", "Build", 7.25),
                ("ada@firm.example", "", 1),
            ],
            start=1,
        )
    ]
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    code, output = _import(desk, "time", path)
    assert code == 0, output
    assert "4 time entries submitted" in output
    wait_for(desk.settled(4), timeout=60, what="4 time entry flows")
    assert desk.hub.exceptions.list() == []
    sheets = desk.timesheets()
    assert sorted(s["unit_amount"] for s in sheets) == [1.0, 2.5, 4.0, 7.25]
    assert {s["so_line"][0] for s in sheets} == {desk.order_line_id}
    by_name = {s["name"]: s for s in sheets}
    assert by_name["Work 2"]["task_id"][0] == desk.tasks["Discovery"]
    assert by_name["Work 2"]["employee_id"][0] == desk.employees["grace@firm.example"]
    assert desk.delivered() == 14.75

    # The same file dropped again is recognised: nothing new.
    code, output = _import(desk, "time", path)
    assert code == 0 and "4 already received" in output
    assert len(desk.timesheets()) == 4


def test_expenses_are_re_invoiced_on_the_deal_order(desk: Desk, tmp_path: Path) -> None:
    desk.odoo.create(
        "product.product",
        {
            "name": "Travel",
            "default_code": "TRAVEL",
            "type": "service",
            "can_be_expensed": True,
            "expense_policy": "cost",
            "list_price": 0.0,
        },
    )
    path = tmp_path / "expenses.json"
    path.write_text(
        json.dumps(
            [
                {
                    "source_id": "E-1",
                    "revision": "1",
                    "consultant": "ada@firm.example",
                    "deal_ref": DEAL,
                    "date": "2026-11-03",
                    "amount": "412.80",
                    "currency": "USD",
                    "category": "TRAVEL",
                    "approval": "approved",
                    "description": "Train to client site",
                },
                {
                    "source_id": "E-2",
                    "revision": "1",
                    "consultant": "ada@firm.example",
                    "deal_ref": DEAL,
                    "date": "2026-11-03",
                    "amount": "30",
                    "currency": "USD",
                    "category": "TRAVEL",
                    "approval": "submitted",
                    "description": "Taxi",
                },
            ]
        )
    )
    code, output = _import(desk, "expenses", path)
    assert code == 0, output
    wait_for(desk.settled(2), timeout=60, what="2 expense flows")
    assert desk.hub.exceptions.list() == []
    expenses = desk.odoo.search_read(
        "hr.expense", [], ["name", "total_amount_currency", "sale_order_id", "employee_id"]
    )
    assert [(e["name"], e["total_amount_currency"], e["sale_order_id"][0]) for e in expenses] == [
        ("Train to client site", 412.8, desk.order_id)
    ]
    lines = desk.odoo.search_read(
        "sale.order.line", [["order_id", "=", desk.order_id]], ["name", "price_unit"]
    )
    # Odoo names the re-invoiced line "<employee>: <expense>" (hr.expense _get_move_line_name)
    assert ("Ada Lovelace: Train to client site", 412.8) in [
        (ln["name"], ln["price_unit"]) for ln in lines
    ]
