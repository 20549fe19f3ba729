"""`handoff-sandbox hubspot` as a user runs it: its own process, its own SQLite file, seeded."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from handoff_sandbox.hubspot.config import DEFAULT_TOKEN


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_cli_serves_a_seeded_sandbox_that_persists(tmp_path: Path) -> None:
    port = _free_port()
    db = tmp_path / "hubspot.sqlite"
    sandbox = Path(sys.executable).with_name("handoff-sandbox")
    command = [str(sandbox), "hubspot", "--port", str(port), "--db", str(db), "--seed"]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy()
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/_sandbox/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "sandbox did not start"
            time.sleep(0.1)
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        deals = httpx.get(f"{base}/crm/v3/objects/deals", params={"limit": 100}, headers=headers)
        assert deals.status_code == 200 and len(deals.json()["results"]) == 12
        products = httpx.get(f"{base}/crm/v3/objects/products", headers=headers).json()["results"]
        assert {p["properties"]["name"] for p in products} >= {"Consulting day (senior)"}
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert db.exists() and db.stat().st_size > 0
