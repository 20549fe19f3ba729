"""Crash tests on the real stack: the demo world's sandboxes, a `handoff api` subprocess, one
`handoff worker` subprocess killed (SIGKILL) at chosen points and restarted, and an in-process hub
that only reads the shared store.

Points are chosen with the Odoo sandbox's *hold* (the k-th RPC call from now waits, before or
after its effect: the worker is killed while it waits), with injected 503s (the worker is killed
while its flows sleep their retry backoff or wait on the open circuit), and with the failpoints
inside the transaction that stores events and enqueues their runs (``HANDOFF_FAILPOINTS``, in the
API process).
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import yaml

from handoff import services
from handoff.engine.failpoints import CRASH_EXIT_CODE, ENV_VAR
from handoff.engine.runtime import Hub
from handoff.store.models import CircuitState, InboxStatus
from handoff_sandbox.stack import Stack, running_stack
from support.servers import free_port
from support.stack_processes import reading_hub, running_api
from support.waiting import wait_for
from support.workers import Worker

HoldMode = Literal["before", "after"]
SETTLED = {InboxStatus.DONE, InboxStatus.FAILED}
# Retries slow enough to kill the worker while its flows sleep a backoff, fast enough for a test;
# a circuit that opens after a few failures and cools down in seconds.
RETRY = {"max_attempts": 8, "initial_delay_seconds": 1.5, "max_delay_seconds": 3.0}
BREAKER = {"failure_threshold": 4, "cooldown_seconds": 3.0}
# Time entries in groups smaller than a delivery (48): the API fills groups and enqueues their runs
# in the transaction that stores them, so its failpoints there are met; the rest linger.
TIME_BATCH = {"size": 16, "linger_ms": 200}
# The Odoo methods that change something: a hold counts only these, so each kill point is a
# write (held before it happens, or after it happened and before the hub heard).
WRITES = ["create", "write", "load", "unlink", "action_confirm", "action_post",
          "action_create_payments", "create_invoices", "refund_moves", "reconcile"]  # fmt: skip


class OdooFaults:
    """The Odoo sandbox's fault controls, over its HTTP control endpoint."""

    def __init__(self, url: str) -> None:
        self.url = f"{url}/sandbox/control"

    def set(self, **settings: Any) -> dict[str, Any]:
        response = httpx.post(self.url, json=settings, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def state(self) -> dict[str, Any]:
        return dict(httpx.get(self.url, timeout=10).json())

    def held(self) -> bool:
        return bool(self.state()["held"])


@dataclass
class CrashWorld:
    """The running world and what a crash test does to it; ``kills`` lists where it killed."""

    stack: Stack
    folder: Path
    reader: Hub
    odoo: OdooFaults
    worker: Worker
    apis: ExitStack
    kills: list[str] = field(default_factory=list)

    def restart_worker(self) -> None:
        self.worker = Worker(self.stack.config_path, "crash-worker", self.folder).start()

    def kill_worker(self, point: str) -> None:
        self.worker.kill()
        self.kills.append(point)

    def kill_at_writes(self, points: list[tuple[int, HoldMode]], finished: Callable[[], bool],
                       what: str, writes: list[str] = WRITES) -> None:  # fmt: skip
        """For each (k, mode): hold the (k+1)-th Odoo write from now, kill the worker while it
        is held, let the call go (before: dropped; after: its effect stays), restart. A point
        the work finished before reaching is skipped (the caller asserts on ``kills``).
        ``writes``: the methods (or ``<model>.<method>``) that count."""
        for k, mode in points:
            self.odoo.set(hold_after=k, hold_mode=mode, hold_methods=writes)
            wait_for(lambda: self.odoo.held() or finished(), timeout=120,
                     what=f"{what}: Odoo write {k + 1} held")  # fmt: skip
            state = self.odoo.state()
            if not state["held"]:
                self.odoo.set(release=True)
                return
            self.kill_worker(
                f"{what}: write +{k + 1} ({state['held_call']}) held {mode} its effect"
            )
            self.odoo.set(release=True)
            self.restart_worker()

    def kill_in_backoff(self, failures: int, flow: str, what: str,
                        start: Callable[[], object]) -> None:  # fmt: skip
        """The next ``failures`` Odoo calls answer 503; ``start`` the work: kill the worker once a
        ``flow`` run sleeps its retry backoff (the circuit still closed), restart, Odoo healed."""
        self.odoo.set(fail_next=failures, fail_status=503, fail_kind="http")
        start()
        wait_for(lambda: sleeping_runs(self.reader, flow) > 0, timeout=120,
                 what=f"{what}: a {flow} run sleeping its backoff")  # fmt: skip
        self.kill_worker(f"{what}: retry backoff")
        self.odoo.set(fail_next=0)
        self.restart_worker()

    def kill_in_breaker_wait(self, flow: str, what: str, start: Callable[[], object]) -> None:
        """Odoo answers 503 until the circuit opens; ``start`` the work: kill the worker while
        ``flow`` runs wait on the circuit, heal Odoo, restart at once (the recorded waits are
        slept again)."""
        self.odoo.set(fail_next=10_000, fail_status=503, fail_kind="http")
        start()
        wait_for(lambda: self.reader.breakers.view("odoo", fresh=True).state
                 == CircuitState.OPEN, timeout=120, what=f"{what}: Odoo's circuit open")  # fmt: skip
        wait_for(lambda: sleeping_runs(self.reader, flow) > 0, timeout=60,
                 what=f"{what}: a {flow} run waiting on the circuit")  # fmt: skip
        self.kill_worker(f"{what}: circuit-breaker wait")
        self.odoo.set(fail_next=0)
        self.restart_worker()

    @contextmanager
    def api_dying_at(self, failpoint: str) -> Iterator[subprocess.Popen[bytes]]:
        """Swap the API for one that dies at ``failpoint`` (e.g. events stored, their flows not
        yet enqueued, in the transaction that does both); the normal API serves again
        afterwards."""
        self.apis.close()
        with running_api(self.stack, self.folder, env={ENV_VAR: f"{failpoint}=exit"}) as api:
            yield api
            api.wait(30)
            assert api.returncode == CRASH_EXIT_CODE, (
                f"API exited {api.returncode}, not at the failpoint"
            )
            self.kills.append(f"API: failpoint {failpoint}")
        self.apis.enter_context(running_api(self.stack, self.folder))


def sleeping_runs(hub: Hub, flow: str) -> int:
    """Pending runs of ``flow`` whose last recorded step is a durable sleep (backoff, circuit)."""
    sleeping = 0
    for run in services.list_flow_runs(hub, flow=flow, status="pending", limit=200):
        _, steps = services.show_flow_run(hub, run.workflow_id)
        if steps and steps[-1].name == "DBOS.sleep":
            sleeping += 1
    return sleeping


def settled(hub: Hub, source: str | None = None) -> bool:
    """Every inbox row (of ``source``) that starts a flow is done or failed (an event routed
    to no flow, e.g. the CRM echoing the hub's own write-back, is kept as received)."""
    rows = [row for row in hub.inbox.list(source=source, limit=100_000) if row.flow is not None]
    return bool(rows) and all(row.status in SETTLED for row in rows)


def wait_settled(hub: Hub, source: str | None = None, *, timeout: float, what: str) -> None:
    """Wait for :func:`settled`; on timeout, say which rows are not and where their runs are."""
    try:
        wait_for(lambda: settled(hub, source), timeout=timeout, what=what)
    except AssertionError as timed_out:
        stuck = [row for row in hub.inbox.list(source=source, limit=100_000)
                 if row.flow is not None and row.status not in SETTLED]  # fmt: skip
        runs = {run.workflow_id: run.status for run in services.list_flow_runs(hub, limit=10_000)}
        details = [f"#{row.id} {row.source}/{row.kind} {row.status} run {row.workflow_id}: "
                   f"{runs.get(row.workflow_id or '', 'no run')}" for row in stuck[:20]]  # fmt: skip
        raise AssertionError(
            f"{timed_out}; {len(stuck)} not settled:\n" + "\n".join(details)
        ) from None


def with_store_and_policies(config_path: Path, store_url: str) -> None:
    """Point the stack's handoff.yaml at ``store_url`` with the crash tests' retry, breaker and
    time-entry batches."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    config["store"] = {"url": store_url}
    config["retry"] = RETRY
    config["systems"]["odoo"]["circuit_breaker"] = BREAKER
    config.setdefault("flows", {}).setdefault("time_entry", {})["batch"] = TIME_BATCH
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
                           encoding="utf-8")  # fmt: skip


@contextmanager
def crash_world(folder: Path, store_url: str, *, extra_deals: int = 0) -> Iterator[CrashWorld]:
    with running_stack(folder / "world", hub_port=free_port(), extra_deals=extra_deals) as stack:
        with_store_and_policies(stack.config_path, store_url)
        with ExitStack() as apis, reading_hub(stack) as reader:
            apis.enter_context(running_api(stack, folder))
            world = CrashWorld(stack=stack, folder=folder, reader=reader,
                               odoo=OdooFaults(stack.odoo.url),
                               worker=Worker(stack.config_path, "crash-worker", folder).start(),
                               apis=apis)  # fmt: skip
            try:
                yield world
            finally:
                world.odoo.set(reset=True)
                world.worker.stop()
