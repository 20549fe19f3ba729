"""Serve an ASGI app on a free loopback port in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(app: Any, **options: Any) -> Iterator[str]:
    """``app`` under uvicorn on a free loopback port; ``options`` go to ``uvicorn.Config``."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           **{"log_level": "warning", **options}))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def serving_hub(settings: Any) -> Iterator[tuple[str, Any]]:
    """The hub's API for ``settings`` on a free port: (base URL, hub); torn down on exit."""
    from handoff.api.app import create_app
    from handoff.engine import flows
    from handoff.engine.runtime import set_current_hub, start_hub

    hub = start_hub(settings)
    try:
        with serving(create_app(hub)) as base:
            yield base, hub
    finally:
        flows.close_clients()
        hub.shutdown()
        set_current_hub(None)
