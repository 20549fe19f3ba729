"""`handoff api` + `handoff worker` on one config: the API's /metrics shows the counters of the
flows the worker ran (issue 10, defect 11: each process counted for itself, so a separate worker's
flow, step and retry counters were invisible)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from handoff.config import load_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff.store.inbox import IncomingEvent
from support import flows as _test_flows  # noqa: F401  (registers the flow for submitting)
from support.ledger import Ledger, running_ledger
from support.stack_processes import ready
from support.waiting import wait_for
from support.workers import REPO, Worker, write_config

FLOWS = 3


@pytest.fixture
def ledger() -> Iterator[tuple[str, Ledger]]:
    with running_ledger() as running:
        yield running


@pytest.fixture
def driver(tmp_path: Path, ledger: tuple[str, Ledger]) -> Iterator[Hub]:
    config = write_config(tmp_path, f"sqlite:///{tmp_path}/data/handoff.db", ledger[0])
    hub = start_hub(load_settings(config))
    yield hub
    flows.close_clients()
    hub.shutdown()
    set_current_hub(None)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _value(text: str, sample: str) -> float:
    match = re.search(rf"^{re.escape(sample)} ([0-9.e+]+)$", text, re.MULTILINE)
    assert match, f"{sample} not in /metrics:\n{text[:4000]}"
    return float(match.group(1))


def test_api_metrics_show_the_worker_processes_flow_step_and_retry_counters(
    tmp_path: Path, driver: Hub, ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    book.fail_next(1, 503)  # one transient failure: one retry
    config = driver.settings.source
    assert config is not None
    port = _free_port()
    env = {
        **os.environ,
        "HANDOFF_CONFIG": str(config),
        "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    api_log = (tmp_path / "api.log").open("wb")
    api = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "api", "--port", str(port)],
        env=env, stdout=api_log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    worker = Worker(config, "metrics-worker", tmp_path)
    try:
        wait_for(lambda: ready(f"http://127.0.0.1:{port}"), timeout=60, what="handoff api")
        worker.start()
        flows.submit(
            driver,
            "test",
            [
                IncomingEvent(
                    source_event_id=f"m{i}",
                    entity_key=f"entry-{i}",
                    kind="test.append",
                    flow="ledger_steps",
                    payload={"ledger": url, "seq": i, "steps": 2},
                )
                for i in range(FLOWS)
            ],
        )
        wait_for(lambda: len(book.entries()) == FLOWS * 2, timeout=60, what="the flows' effects")
        metrics = ""

        def counted() -> bool:
            nonlocal metrics
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            return f'handoff_flows_succeeded_total{{flow="ledger_steps"}} {FLOWS}.0' in metrics

        wait_for(counted, timeout=30, what="the worker's counters in the API's /metrics")
    finally:
        worker.stop()
        api.terminate()
        api.wait(20)

    assert _value(metrics, 'handoff_flows_started_total{flow="ledger_steps"}') == FLOWS
    assert _value(metrics, 'handoff_retries_total{system="ledger"}') >= 1
    assert _value(metrics, 'handoff_calls_total{operation="append",system="ledger"}') >= FLOWS * 2
    assert re.search(r'^handoff_step_seconds_count\{.*system="ledger"', metrics, re.MULTILINE)
    # The hub's state gauges are still read from the store at scrape time.
    assert "handoff_open_exceptions 0.0" in metrics
