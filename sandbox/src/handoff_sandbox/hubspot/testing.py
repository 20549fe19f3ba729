"""Run the HubSpot sandbox on a free loopback port for tests, benchmarks and demos.

with running_hubspot_sandbox(seed=True) as sandbox:
    httpx.get(f"{sandbox.url}/crm/v3/objects/deals", headers={"Authorization": f"Bearer {sandbox.token}"})
    sandbox.configure(ten_secondly_max=5)
"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from handoff_sandbox.hubspot.app import create_app
from handoff_sandbox.hubspot.config import SandboxSettings


@dataclass
class RunningHubSpotSandbox:
    url: str
    token: str
    settings: SandboxSettings
    db_path: Path

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = httpx.request(method, f"{self.url}/_sandbox{path}", timeout=120, **kwargs)
        response.raise_for_status()
        return response.json()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change limits or webhook behaviour of the running sandbox (see SettingsPatch)."""
        if "retry_after_seconds" in changes and changes["retry_after_seconds"] is None:
            changes.pop("retry_after_seconds")
            changes["clear_retry_after"] = True
        return self._control("POST", "/settings", json=changes)

    def fail_next(self, method: str, path: str, *, status: int = 503, times: int = 1) -> None:
        """Answer the next ``times`` ``method path`` requests with ``status`` (429: HubSpot's
        ten-secondly rate-limit answer, not counted as a call; 5xx: an internal error, counted)."""
        self._control(
            "POST",
            "/faults",
            json={"method": method, "path": path, "status": status, "times": times},
        )

    def clear_faults(self) -> None:
        self._control("DELETE", "/faults")

    def reset_limits(self) -> None:
        self._control("POST", "/limits/reset")

    def stats(self) -> dict[str, Any]:
        return self._control("GET", "/stats")

    def reset_stats(self) -> None:
        self._control("POST", "/stats/reset")

    def flush_webhooks(self) -> dict[str, Any]:
        return self._control("POST", "/webhooks/flush")

    def deliveries(self) -> list[dict[str, Any]]:
        return self._control("GET", "/webhooks/deliveries")["deliveries"]

    def issue_refresh_token(self) -> dict[str, str]:
        """A refresh token as if a user had installed the OAuth app, with the client credentials."""
        return self._control("POST", "/oauth/refresh-token")

    def expire_access_tokens(self) -> None:
        self._control("POST", "/oauth/expire-all")

    def bulk_load(
        self,
        object_type: str,
        count: int,
        *,
        modified_from_ms: int,
        modified_to_ms: int,
        **properties: str,
    ) -> int:
        return self._control(
            "POST",
            f"/bulk/{object_type}",
            json={
                "count": count,
                "modified_from_ms": modified_from_ms,
                "modified_to_ms": modified_to_ms,
                "properties": properties,
            },
        )["inserted"]

    def touch(self, object_type: str, ids: list[str | int], modified_ms: int) -> int:
        return self._control(
            "POST", f"/touch/{object_type}", json={"ids": ids, "modified_ms": modified_ms}
        )["touched"]


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app_in_thread(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port; yield its base URL."""
    sock = _free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def running_hubspot_sandbox(
    *,
    seed: bool = False,
    db_path: Path | None = None,
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
    **settings: Any,
) -> Iterator[RunningHubSpotSandbox]:
    """A HubSpot sandbox with its own SQLite (temporary unless `db_path`), stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="hubspot-sandbox-") as scratch:
        path = db_path or Path(scratch) / "hubspot.sqlite"
        config = SandboxSettings(webhook_url=webhook_url, webhook_secret=webhook_secret, **settings)
        app = create_app(path, config, seed=seed)
        with serve_app_in_thread(app) as url:
            yield RunningHubSpotSandbox(url=url, token=config.token, settings=config, db_path=path)
