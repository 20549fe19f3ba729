"""handoff.yaml's ``alerts`` reaches people: open exceptions past the threshold and open circuits
are sent once when they start, to each channel whose min_severity they meet; a webhook channel
gets a JSON POST over real HTTP; a dead or slow receiver never stops the hub. The scheduler checks
every ``runtime.alerts_seconds``."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from handoff.canonical.errors import BusinessRuleError
from handoff.config import AlertChannel, AlertsConfig, RuntimeConfig, Settings, StoreConfig
from handoff.engine import launcher
from handoff.engine.alerts import Alert, Alerter, send
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from support.servers import serving
from support.waiting import wait_for


class Receiver:
    """A chat webhook stand-in: records what is POSTed to /hook; /slow answers after 5 s,
    /broken with a 500."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            self.received.append(await request.json())
            return Response(status_code=204)

        async def slow(request: Request) -> Response:
            await asyncio.sleep(5)
            return Response(status_code=204)

        async def broken(request: Request) -> Response:
            return Response(status_code=500)

        return Starlette(
            routes=[
                Route("/hook", hook, methods=["POST"]),
                Route("/slow", slow, methods=["POST"]),
                Route("/broken", broken, methods=["POST"]),
            ]
        )


@pytest.fixture
def receiver() -> Iterator[tuple[str, Receiver]]:
    found = Receiver()
    with serving(found.app()) as base:
        yield base, found


def hub_for(store_url: str, alerts: AlertsConfig, **runtime: float) -> Hub:
    return start_hub(
        Settings(store=StoreConfig(url=store_url), alerts=alerts, runtime=RuntimeConfig(**runtime))
    )


@pytest.fixture
def cleanup() -> Iterator[list[Hub]]:
    hubs: list[Hub] = []
    yield hubs
    for hub in hubs:
        hub.shutdown()
    set_current_hub(None)


def open_exception(hub: Hub, record: str) -> None:
    hub.exceptions.raise_for(
        BusinessRuleError(f"{record} is broken", rule="broken"),
        flow="deal_to_delivery",
        record=record,
    )


def open_circuit(hub: Hub, system: str) -> None:
    for _ in range(hub.breakers.policy(system).failure_threshold):
        hub.breakers.record_failure(system, "ConnectError")


def test_conditions_reach_the_channels_their_severity_meets_once_each(
    store_url: str,
    receiver: tuple[str, Receiver],
    cleanup: list[Hub],
    caplog: pytest.LogCaptureFixture,
) -> None:
    base, got = receiver
    alerts = AlertsConfig(
        channels=[
            AlertChannel(kind="webhook", target=f"{base}/hook", min_severity="error"),
            AlertChannel(kind="log", target="ops.pager", min_severity="critical"),
        ],
        open_exceptions_threshold=2,
    )
    hub = hub_for(store_url, alerts)
    cleanup.append(hub)
    alerter = Alerter()

    open_exception(hub, "hubspot:deal:1")
    assert alerter.check(hub) == []  # one open exception, threshold two
    open_exception(hub, "hubspot:deal:2")
    open_circuit(hub, "odoo")
    with caplog.at_level(logging.INFO, logger="ops.pager"):
        sent = alerter.check(hub)
    assert sorted(a.key for a in sent) == ["circuit_open:odoo", "open_exceptions"]
    assert sorted(body["key"] for body in got.received) == ["circuit_open:odoo", "open_exceptions"]
    circuit = next(body for body in got.received if body["alert"] == "circuit_open")
    assert circuit["severity"] == "critical" and circuit["details"]["system"] == "odoo"
    assert circuit["details"]["failures"] == 5
    # The log channel takes critical only: the circuit, not the exceptions.
    logged = [r.getMessage() for r in caplog.records if r.name == "ops.pager"]
    assert len(logged) == 1 and "alert circuit_open:odoo" in logged[0]

    # Still open: nothing is sent again.
    assert alerter.check(hub) == []
    assert len(got.received) == 2
    # Closed, then open again: sent again.
    hub.breakers.record_success("odoo")
    assert alerter.check(hub) == []
    open_circuit(hub, "odoo")
    assert [a.key for a in alerter.check(hub)] == ["circuit_open:odoo"]
    assert len(got.received) == 3


def test_a_slow_or_failing_receiver_is_reported_never_raised(
    receiver: tuple[str, Receiver],
) -> None:
    base, got = receiver
    alert = Alert(alert="circuit_open", key="circuit_open:odoo", severity="critical",
                  summary="calls to odoo are held back")  # fmt: skip
    config = AlertsConfig(
        channels=[
            AlertChannel(kind="webhook", target=f"{base}/slow"),
            AlertChannel(kind="webhook", target=f"{base}/broken"),
            AlertChannel(kind="webhook", target="http://127.0.0.1:9/unreachable"),
            AlertChannel(kind="webhook", target=f"{base}/hook"),
        ],
        webhook_timeout_seconds=0.5,
    )
    started = time.monotonic()
    problems = send(alert, config)
    # The slow receiver answers after 5 s; the timeout gave up long before.
    assert time.monotonic() - started < 4
    assert problems == [
        "alerts.channels[0] (webhook): ReadTimeout",
        "alerts.channels[1] (webhook): HTTPStatusError 500",
        "alerts.channels[2] (webhook): ConnectError",
    ]
    assert [body["key"] for body in got.received] == [
        "circuit_open:odoo"
    ]  # the others still got it


def test_a_webhook_target_may_be_a_secret_reference(
    receiver: tuple[str, Receiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, got = receiver
    monkeypatch.setenv("TEST_ALERT_URL", f"{base}/hook")
    config = AlertsConfig(channels=[AlertChannel(kind="webhook", target="${TEST_ALERT_URL}")])
    alert = Alert(alert="open_exceptions", key="open_exceptions", severity="error", summary="x")
    assert send(alert, config) == []
    assert [body["summary"] for body in got.received] == ["x"]


def test_the_alerts_schedule_checks_every_runtime_alerts_seconds_and_sends_once(
    store_url: str, receiver: tuple[str, Receiver], cleanup: list[Hub]
) -> None:
    from handoff import services
    from handoff.engine.schedules import SCHEDULED_WORKFLOW, install
    from handoff.flows.polling import hub_schedules

    base, got = receiver
    alerts = AlertsConfig(
        channels=[AlertChannel(kind="webhook", target=f"{base}/hook")], open_exceptions_threshold=1
    )
    hub = hub_for(store_url, alerts, alerts_seconds=1)
    cleanup.append(hub)
    schedules = hub_schedules(hub.settings)
    assert [s.what for s in schedules] == ["alerts every 1s"]
    launcher.launch(hub, executor_id="alerts-test")
    install(schedules)
    open_exception(hub, "hubspot:deal:9")
    # With the default (60 s) nothing would arrive within this wait.
    wait_for(lambda: len(got.received) == 1, timeout=15, what="the alert of the schedule")
    assert got.received[0]["alert"] == "open_exceptions"

    def ticks() -> int:
        runs = services.list_flow_runs(hub, flow=SCHEDULED_WORKFLOW, status="success", limit=100)
        return len(runs)

    # Later ticks find the condition already sent (kept in the store, whichever worker ran the
    # tick before) and send nothing.
    seen = ticks()
    wait_for(lambda: ticks() >= seen + 3, timeout=15, what="three more ticks")
    assert len(got.received) == 1
