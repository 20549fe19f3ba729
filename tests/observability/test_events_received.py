"""Time entries count in handoff_events_received_total like every other event (issue 10, defect
11: /webhooks/time stored them through its own intake, which counted nothing)."""

from __future__ import annotations

from prometheus_client import REGISTRY

from timesheets.desk import Desk, desk, entry  # noqa: F401  (the fixture)


def _received(duplicate: str) -> float:
    labels = {"source": "timetracker", "duplicate": duplicate}
    return REGISTRY.get_sample_value("handoff_events_received_total", labels) or 0.0


def test_time_entries_are_counted_in_events_received(desk: Desk) -> None:  # noqa: F811
    fresh, repeated = _received("false"), _received("true")
    items = [entry("T-1"), entry("T-2", hours=2)]
    assert desk.post(items).status_code == 202
    assert desk.post(items).status_code == 202  # delivered again: duplicates
    assert _received("false") - fresh == 2
    assert _received("true") - repeated == 2
