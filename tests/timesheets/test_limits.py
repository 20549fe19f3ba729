"""Business limits of time entries and expenses (issue 10, defect 4).

Hours ``1e400``, ``1e20``, ``25`` in one day, ``1e-30``; dates ``0001-01-01`` / ``9999-12-31``;
an expense of ``1e30``; currency ``ZZZ`` were accepted and pushed to Odoo. Now every edge refuses
them with a 4xx naming the field, and nothing is stored: the time webhook, the file import (its
per-row report) and the generic route's ``time_entry`` payload. The limits are configurable in
handoff.yaml (``limits:``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.config import (
    LimitsConfig,
    SecretRef,
    Settings,
    StoreConfig,
    SystemConfig,
    parse_settings,
)
from handoff.engine.runtime import Hub
from handoff.ingress.events import SIGNATURE_HEADER, sign
from handoff.timesheets.files import parse_file
from handoff.timesheets.records import parse_items
from support.servers import serving_hub
from timesheets.desk import DEAL, Desk, entry
from timesheets.test_file_import import _import

TODAY = dt.date.today()


def expense(source_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "expense",
        "source_id": source_id,
        "consultant": "ada@firm.example",
        "deal_ref": DEAL,
        "date": TODAY.isoformat(),
        "amount": "12.50",
        "currency": "EUR",
        "approval": "approved",
        **extra,
    }


# (item, the field its refusal must name)
ABSURD: list[tuple[dict[str, Any], str]] = [
    ({**entry("A-1", day=TODAY.isoformat()), "hours": "1e400"}, "hours"),
    ({**entry("A-2", day=TODAY.isoformat()), "hours": 1e20}, "hours"),
    ({**entry("A-3", day=TODAY.isoformat()), "hours": 25}, "hours"),
    ({**entry("A-4", day=TODAY.isoformat()), "hours": 1e-30}, "hours"),
    ({**entry("A-5", day=TODAY.isoformat()), "hours": 0}, "hours"),
    (entry("A-6", day="0001-01-01"), "date"),
    (entry("A-7", day="9999-12-31"), "date"),
    (entry("A-8", day=(TODAY - dt.timedelta(days=400)).isoformat()), "date"),
    (entry("A-9", day=(TODAY + dt.timedelta(days=60)).isoformat()), "date"),
    (expense("E-1", amount=1e30), "amount"),
    (expense("E-2", amount="250000"), "amount"),
    (expense("E-3", amount="10.001"), "amount"),
    (expense("E-4", currency="ZZZ"), "currency"),
    (expense("E-5", amount="0"), "amount"),
]


@pytest.mark.parametrize(("item", "field"), ABSURD, ids=[i["source_id"] for i, _ in ABSURD])
def test_the_time_webhook_refuses_an_absurd_value_naming_its_field(
    desk: Desk, item: dict[str, Any], field: str
) -> None:
    response = desk.post([item])
    assert response.status_code == 422, response.text
    [problem] = response.json()["items"]
    assert problem["column"] == field, problem
    assert desk.hub.inbox.list(limit=10) == []
    assert desk.timesheets() == []


def test_a_number_beyond_a_double_is_refused_by_the_body_parser(desk: Desk) -> None:
    body = json.dumps([{**entry("A-1"), "hours": "1e400"}]).encode().replace(b'"1e400"', b"1e400")
    response = desk.post(None, body=body)
    assert response.status_code == 400 and "1e400" in response.json()["detail"]
    assert desk.hub.inbox.list(limit=10) == []


def test_a_consultant_day_holds_at_most_24_hours_across_the_entries_sent_together(
    desk: Desk,
) -> None:
    day = TODAY.isoformat()
    items = [
        entry("D-1", hours=10, day=day),
        entry("D-2", hours=10, day=day),
        entry("D-3", hours=5, day=day),
        entry("D-4", hours=10, day=day, consultant="grace@firm.example"),
    ]
    response = desk.post(items)
    assert response.status_code == 422, response.text
    [problem] = response.json()["items"]
    assert (problem["row"], problem["column"]) == (3, "hours")
    assert "25 hours on" in problem["problem"]
    assert desk.hub.inbox.list(limit=10) == []
    # Two revisions of one entry count once (the later one).
    fine = [
        entry("D-1", hours=20, day=day, revision="1"),
        entry("D-1", hours=4, day=day, revision="2"),
        entry("D-2", hours=20, day=day),
    ]
    assert desk.post(fine).status_code == 202


def test_the_file_import_reports_each_absurd_row_and_imports_nothing(
    desk: Desk, tmp_path: Path
) -> None:
    path = tmp_path / "absurd.json"
    items = [item for item, _ in ABSURD if item["kind"] == "time"]
    path.write_text(json.dumps(items).replace('"1e400"', "1e400"))
    code, output = _import(desk, "time", path)
    assert code == 1, output
    assert f"{len(items)} bad row(s), nothing imported" in output
    assert desk.hub.inbox.list(limit=100) == []
    expenses = tmp_path / "absurd.csv"
    expenses.write_text(
        "\n".join(
            ["source_id,consultant,deal_ref,date,amount,currency,approval"]
            + [
                f"{e['source_id']},ada@firm.example,{DEAL},{e['date']},{e['amount']},{e['currency']},"
                "approved"
                for e, _ in ABSURD
                if e["kind"] == "expense"
            ]
        )
        + "\n"
    )
    parsed = parse_file(expenses, "expense")
    assert {(e.row, e.column) for e in parsed.errors} == {
        (1, "amount"),
        (2, "amount"),
        (3, "amount"),
        (4, "currency"),
        (5, "amount"),
    }
    code, output = _import(desk, "expenses", expenses)
    assert code == 1 and "5 bad row(s), nothing imported" in output
    assert desk.hub.inbox.list(limit=100) == []


def test_the_limits_are_configurable_in_handoff_yaml(tmp_path: Path) -> None:
    settings = parse_settings("""
version: 1
limits: {max_hours_per_entry: 10, max_hours_per_day: 12, hours_decimals: 1,
         max_expense_amount: 500, days_back: 7, days_ahead: 0}
""")
    limits = settings.limits
    assert limits == LimitsConfig(
        max_hours_per_entry=10,
        max_hours_per_day=12,
        hours_decimals=1,
        max_expense_amount=500,
        days_back=7,
        days_ahead=0,
    )
    day = TODAY.isoformat()
    items = [
        entry("C-1", hours=11, day=day),
        entry("C-2", hours=1.25, day=day),
        entry("C-3", day=(TODAY - dt.timedelta(days=8)).isoformat()),
        entry("C-4", day=(TODAY + dt.timedelta(days=1)).isoformat()),
        entry("C-5", hours=8, day=day),
        entry("C-6", hours=5, day=day),
        expense("E-1", amount="501"),
    ]
    parsed = parse_items(items, limits=limits)
    assert [(e.row, e.column) for e in parsed.errors] == [
        (1, "hours"),
        (2, "hours"),
        (3, "date"),
        (4, "date"),
        (7, "amount"),
        (6, "hours"),
    ]
    assert "limits.max_hours_per_entry" in parsed.errors[0].problem
    # The defaults take all of these.
    assert parse_items(items[:2] + items[3:5] + items[6:]).ok
    with pytest.raises(Exception, match=r"limits\.max_hours_per_entry"):
        parse_settings("version: 1\nlimits: {max_hours_per_entry: 25}\n")


# -- the generic route ---------------------------------------------------------------------------


@pytest.fixture
def psa(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    monkeypatch.setenv("LIMITS_PSA_SECRET", "psa-secret")
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "psa": SystemConfig(
                kind="http",
                url="http://127.0.0.1:9/",
                webhook_secret=SecretRef("${LIMITS_PSA_SECRET}"),
                allowed_flows=["time_entry"],
            )
        },
    )
    with serving_hub(settings) as running:
        yield running


@pytest.mark.parametrize(
    ("item", "field"), [pytest.param(i, f, id=i["source_id"]) for i, f in ABSURD]
)
def test_the_generic_route_refuses_an_absurd_time_entry_naming_its_field(
    psa: tuple[str, Hub], item: dict[str, Any], field: str
) -> None:
    base, hub = psa
    payload = {k: v for k, v in item.items() if k != "source"}
    body = json.dumps(
        {
            "events": [
                {
                    "id": "ev-1",
                    "entity": "e-1",
                    "kind": "time_entry",
                    "flow": "time_entry",
                    "payload": payload,
                }
            ]
        }
    ).encode()
    response = httpx.post(
        f"{base}/webhooks/events/psa",
        content=body,
        headers={SIGNATURE_HEADER: sign("psa-secret", body)},
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]  # events[0].payload.<time|expense>.<field>: ...
    assert f".{item['kind']}.{field}: " in detail, detail
    assert hub.inbox.list(limit=10) == []
