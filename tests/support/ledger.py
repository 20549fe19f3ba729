"""A small HTTP service that records side effects, one per natural key (a request whose key is
there already changes nothing, like an Odoo create meeting its external id), and can be
told to fail on purpose (timeouts, 500, 429 with Retry-After, 400) or to hold a request."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Ledger:
    effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    requests: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)  # queued behaviours
    hold_seconds: float = 0.0
    hold_step: int | None = None  # hold the first request for this step (to crash mid-flow)
    held: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(
        self, count: int, status: int, *, retry_after: float | None = None, delay: float = 0.0
    ) -> None:
        with self.lock:
            self.failures.extend(
                {"status": status, "retry_after": retry_after, "delay": delay} for _ in range(count)
            )

    def entries(self) -> list[dict[str, Any]]:
        with self.lock:
            return [self.effects[key] for key in self.order]


@contextmanager
def running_ledger() -> Iterator[tuple[str, Ledger]]:
    ledger = Ledger()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._answer(200, {"effects": ledger.entries(), "requests": ledger.requests})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            with ledger.lock:
                ledger.requests += 1
                behaviour = ledger.failures.pop(0) if ledger.failures else None
            if behaviour is not None:
                time.sleep(behaviour["delay"])
                headers = {}
                if behaviour["retry_after"] is not None:
                    headers["Retry-After"] = str(behaviour["retry_after"])
                self._answer(behaviour["status"], {"error": "injected"}, headers)
                return
            key = str(body["key"])
            with ledger.lock:
                duplicate = key in ledger.effects
                if not duplicate:
                    ledger.effects[key] = {**body, "at": time.time()}
                    ledger.order.append(key)
            if ledger.hold_step is not None and body.get("step") == ledger.hold_step:
                with ledger.lock:
                    first = not ledger.held.is_set()
                    ledger.held.set()
                if first:
                    time.sleep(ledger.hold_seconds)
            self._answer(200, {"key": key, "duplicate": duplicate})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", ledger
    finally:
        server.shutdown()
        server.server_close()
