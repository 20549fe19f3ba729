"""Run the Odoo sandbox in a background thread for tests and benchmarks.

with running_odoo_sandbox() as odoo:
    httpx.post(f"{odoo.url}/jsonrpc", json={...})
    odoo.set_faults(latency_ms=10, fail_next=2, fail_status=503)
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .auth import SEED_API_KEY
from .faults import FaultInjector, FaultSettings, FaultState
from .orm import Database
from .series import Series
from .series import series as odoo_series
from .server import build_app


class RunningSandbox:
    """A live sandbox: where it listens, how to log in, and its fault controls."""

    db = "psa"
    login = "admin"
    password = "admin"
    uid = 2
    api_key = SEED_API_KEY

    def __init__(
        self,
        url: str,
        server: uvicorn.Server,
        thread: threading.Thread,
        faults: FaultInjector,
        database: Database,
        series: Series,
    ) -> None:
        self.url = url
        self.series = series
        self._server = server
        self._thread = thread
        self.faults = faults
        self.database = database

    def set_faults(self, **settings: Any) -> FaultState:
        """Same keys as `POST /sandbox/control`: latency_ms, fail_next, fail_status, fail_kind,
        reset."""
        return self.faults.configure(FaultSettings(**settings))

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def start_odoo_sandbox(
    db_path: str | None = None,
    latency_ms: float = 0.0,
    host: str = "127.0.0.1",
    port: int | None = None,
    series: str | int = 18,
) -> RunningSandbox:
    """``series=19`` claims Odoo 19.0 and serves JSON-2; 18 (default) is the recorded server."""
    chosen = odoo_series(series)
    database = Database(db_path)
    faults = FaultInjector(latency_ms)
    database.faults = faults
    app = build_app(database, faults, chosen)
    port = port or free_port(host)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"odoo-sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the Odoo sandbox did not start on {host}:{port}")
        time.sleep(0.01)
    return RunningSandbox(f"http://{host}:{port}", server, thread, faults, database, chosen)


@contextmanager
def running_odoo_sandbox(
    db_path: str | None = None, latency_ms: float = 0, series: str | int = 18
) -> Iterator[RunningSandbox]:
    sandbox = start_odoo_sandbox(db_path, latency_ms, series=series)
    try:
        yield sandbox
    finally:
        sandbox.stop()


__all__ = ["RunningSandbox", "free_port", "running_odoo_sandbox", "start_odoo_sandbox"]
