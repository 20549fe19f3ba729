"""Alerts: conditions a person must hear about, sent to handoff.yaml's ``alerts.channels``.

Two conditions are watched, each checked every ``runtime.alerts_seconds`` by the scheduler:

- ``open_exceptions`` (error): open exceptions reached ``alerts.open_exceptions_threshold``;
- ``circuit_open`` (critical): the circuit to a system is open (calls to it are held back).

An alert is sent when its condition starts, not on every check while it lasts; once the
condition clears it is sent again the next time it starts. A channel gets the alerts whose
severity is at least its ``min_severity``. ``log`` writes one line to its logger (``target``, else
``handoff.alerts``); ``webhook`` POSTs the alert as a small JSON object to its URL, bounded by
``alerts.webhook_timeout_seconds``. A channel that fails is logged and never stops the others or
the hub: alerting must not be what takes the hub down.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from handoff.config import SEVERITIES, AlertChannel, AlertsConfig, Severity
from handoff.engine.runtime import Hub
from handoff.observability.logging import get_logger
from handoff.store.models import CircuitState

DEFAULT_LOGGER = "handoff.alerts"
_LOG_LEVELS = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
log = get_logger(DEFAULT_LOGGER)


class Alert(BaseModel):
    """What a webhook channel receives (as JSON) and a log channel writes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alert: str  # the condition: open_exceptions, circuit_open
    key: str  # the condition and what it is about: circuit_open:odoo
    severity: Severity
    summary: str
    details: dict[str, Any] = {}


def current_alerts(hub: Hub) -> list[Alert]:
    """The alert conditions that hold now."""
    config = hub.settings.alerts
    found: list[Alert] = []
    open_count = hub.exceptions.count_open()
    if open_count >= config.open_exceptions_threshold:
        found.append(
            Alert(
                alert="open_exceptions",
                key="open_exceptions",
                severity="error",
                summary=(
                    f"{open_count} open exceptions (threshold {config.open_exceptions_threshold}):"
                    " see `handoff exceptions list`"
                ),
                details={"open": open_count, "threshold": config.open_exceptions_threshold},
            )
        )
    for circuit in hub.breakers.all():
        if circuit.state != CircuitState.OPEN:
            continue
        until = circuit.opened_until.isoformat() if circuit.opened_until else None
        found.append(
            Alert(
                alert="circuit_open",
                key=f"circuit_open:{circuit.system}",
                severity="critical",
                summary=(
                    f"calls to {circuit.system} are held back: its circuit is open after "
                    f"{circuit.consecutive_failures} failures (until {until or 'its probe'})"
                ),
                details={
                    "system": circuit.system,
                    "failures": circuit.consecutive_failures,
                    "open_until": until,
                    "last_error": circuit.last_error,
                },
            )
        )
    return found


def wants(channel: AlertChannel, alert: Alert) -> bool:
    return SEVERITIES.index(alert.severity) >= SEVERITIES.index(channel.min_severity)


def send(alert: Alert, config: AlertsConfig, *, client: httpx.Client | None = None) -> list[str]:
    """Send ``alert`` to every channel that wants it; returns the problems (one per failed
    channel), each also logged. Nothing raises."""
    problems = []
    for index, channel in enumerate(config.channels):
        if not wants(channel, alert):
            continue
        try:
            if channel.kind == "log":
                get_logger(channel.target or DEFAULT_LOGGER).log(
                    _LOG_LEVELS[alert.severity], "alert %s: %s", alert.key, alert.summary
                )
            else:
                _post(channel, alert, config.webhook_timeout_seconds, client)
        except Exception as error:  # any failure of one channel: said, never raised
            problem = f"alerts.channels[{index}] ({channel.kind}): {type(error).__name__}"
            if isinstance(error, httpx.HTTPStatusError):
                problem += f" {error.response.status_code}"
            log.warning("alert %s not sent: %s", alert.key, problem)
            problems.append(problem)
    return problems


def _post(channel: AlertChannel, alert: Alert, timeout: float, client: httpx.Client | None) -> None:
    url = channel.target_value()
    assert url is not None  # required for kind webhook (config validation)
    body = alert.model_dump(mode="json")
    if client is not None:
        client.post(url, json=body, timeout=timeout).raise_for_status()
        return
    with httpx.Client(timeout=timeout) as own:
        own.post(url, json=body).raise_for_status()


class Alerter:
    """Sends each condition once when it starts (per process); ``check`` is the scheduled job."""

    def __init__(self, client: httpx.Client | None = None) -> None:
        self.client = client
        self.firing: set[str] = set()

    def check(self, hub: Hub) -> list[Alert]:
        """Send the conditions that started since the last check; returns them."""
        now = current_alerts(hub)
        started = [alert for alert in now if alert.key not in self.firing]
        for alert in started:
            send(alert, hub.settings.alerts, client=self.client)
        self.firing = {alert.key for alert in now}
        return started
