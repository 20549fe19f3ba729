"""Defect 3 of issue 10: one signed time entry with a 5 MB description froze the hub (redact()'s
quadratic URL-password regex holding the interpreter lock). A description that long is refused
at the edge, naming the field, and /healthz keeps answering while such requests are in flight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from api.ingress_support import (
    ROUTES,
    SECRETS,
    encode,
    ingress_settings,
    post,
    rejected_total,
    serving_ingress,
    stored_rows,
)
from handoff.engine.runtime import Hub

DEAL = "hubspot:1234"


def time_entry(source_id: str, description: str) -> dict[str, object]:
    return {
        "kind": "time",
        "source_id": source_id,
        "consultant": "ada@firm.example",
        "deal_ref": DEAL,
        "date": "2026-11-02",
        "hours": 4,
        "approval": "approved",
        "description": description,
    }


@pytest.fixture
def hub_api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with serving_ingress(ingress_settings(store_url)) as running:
        yield running


def test_a_5_mb_description_is_refused_naming_the_field_and_health_answers_meanwhile(
    hub_api: tuple[str, Hub],
) -> None:
    base, hub = hub_api
    route = ROUTES["time"]
    # No URL in it: the words a hostile tracker (or a paste gone wrong) would send.
    body = encode([time_entry("T-big", "a" * 5_000_000)])
    before = rejected_total(base, "timetracker")

    answers: list[httpx.Response] = []
    failures: list[BaseException] = []

    def send() -> None:
        try:
            answers.append(post(base, route, body, timeout=120))
        except BaseException as error:  # reported by the assertions below
            failures.append(error)

    senders = [threading.Thread(target=send) for _ in range(3)]
    for sender in senders:
        sender.start()
    health_waits: list[float] = []
    while any(sender.is_alive() for sender in senders):
        started = time.monotonic()
        # Raises (and fails the test) when /healthz does not answer within a second.
        assert httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
        health_waits.append(time.monotonic() - started)
        time.sleep(0.05)
    for sender in senders:
        sender.join()

    assert failures == []
    assert health_waits, "no health check ran while the requests were in flight"
    for answer in answers:
        assert answer.status_code == 422, answer.text[:300]
        [problem] = answer.json()["items"]
        assert problem["column"] == "description"
        assert "at most 10000" in problem["problem"]
        assert len(answer.content) < 2000  # the refusal does not echo the 5 MB back
    assert rejected_total(base, "timetracker") == before + 3
    assert stored_rows(hub) == 0


def test_a_long_but_reasonable_description_with_urls_is_accepted_whole(
    hub_api: tuple[str, Hub],
) -> None:
    base, hub = hub_api
    text = ("see https://wiki.example/page and postgresql://ops:hunter2@db/x " * 120)[
        :9_999
    ].strip()
    answer = post(base, ROUTES["time"], encode([time_entry("T-ok", text)]))
    assert answer.status_code == 202, answer.text[:300]
    [event] = hub.inbox.list(source="timetracker")
    assert event.payload["record"]["description"] == text


@pytest.mark.parametrize("field", ["source_id", "consultant", "deal_ref", "revision"])
def test_every_capped_time_field_is_refused_past_its_limit(
    hub_api: tuple[str, Hub], field: str
) -> None:
    base, hub = hub_api
    item = {**time_entry("T-1", "workshop"), field: "x" * 300}
    answer = post(base, ROUTES["time"], encode([item]))
    assert answer.status_code == 422, answer.text[:300]
    assert [p["column"] for p in answer.json()["items"]] == [field]
    assert stored_rows(hub) == 0
