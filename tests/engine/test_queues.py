"""Queues come from handoff.yaml: one per target system, with its concurrency and rate limit."""

from __future__ import annotations

from handoff.config import parse_settings
from handoff.engine import flows
from support import flows as _test_flows  # noqa: F401

CONFIG = """
version: 1
systems:
  ledger: {kind: http, url: "http://127.0.0.1:9", concurrency: 3,
           rate_limit: {calls: 10, per_seconds: 1.5}}
  slow: {kind: http, url: "http://127.0.0.1:9", concurrency: 1}
flows:
  ledger_steps: {queue: slow}
"""


def test_each_system_queue_carries_its_configured_limits() -> None:
    default = parse_settings(CONFIG.replace("queue: slow", ""))
    specs = {spec.name: spec for spec in flows.queue_specs(default)}
    assert specs["ledger"].concurrency == 3
    assert specs["ledger"].limiter == {"limit": 10, "period": 1.5}
    assert "default" in specs


def test_a_flow_can_be_moved_to_another_systems_queue_by_configuration() -> None:
    settings = parse_settings(CONFIG)
    spec = flows.registered()["ledger_steps"]
    assert flows.queue_of(spec, settings) == "slow"
    specs = {s.name: s for s in flows.queue_specs(settings)}
    assert specs["slow"].concurrency == 1 and specs["slow"].limiter is None


def test_a_system_can_be_spread_over_workers_with_a_per_worker_limit() -> None:
    spread = parse_settings(
        CONFIG.replace("concurrency: 3,", "concurrency: 6, worker_concurrency: 2,")
    )
    specs = {spec.name: spec for spec in flows.queue_specs(spread)}
    assert (specs["ledger"].concurrency, specs["ledger"].worker_concurrency) == (6, 2)
    # Unset: one worker may take the whole system, as before.
    assert (specs["slow"].concurrency, specs["slow"].worker_concurrency) == (1, 1)
    # A per-worker limit above the system's own is the system's.
    capped = parse_settings(
        CONFIG.replace("concurrency: 3,", "concurrency: 2, worker_concurrency: 5,")
    )
    assert {s.name: s for s in flows.queue_specs(capped)}["ledger"].worker_concurrency == 2
