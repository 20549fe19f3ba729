"""The hub's processes around a running demo stack, for the end-to-end runs: a real `handoff api`
subprocess, and an in-process hub that only reads the shared store (it runs no flows)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from handoff.config import load_settings
from handoff.engine import flows
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from handoff_sandbox.stack import Stack
from support.waiting import wait_for


@contextmanager
def running_api(
    stack: Stack, folder: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``env``: variables on top of the stack's (e.g. a failpoint for crash tests)."""
    log = (folder / "api.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "handoff.cli.main", "api", "--port", str(stack.hub_port)],
        env={**os.environ, **stack.env, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=folder,
    )
    try:
        wait_for(lambda: ready(stack.hub_url), timeout=60, what="handoff api")
        yield process
    finally:
        process.terminate()
        process.wait(20)


def ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        time.sleep(0.1)
        return False


@contextmanager
def reading_hub(stack: Stack) -> Iterator[Hub]:
    hub = start_hub(load_settings(stack.config_path))
    try:
        yield hub
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)
