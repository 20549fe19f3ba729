"""Serving the sandbox over TLS: a certificate authority and a loopback certificate generated
at start (``trustme``), and uvicorn running the app on a background thread or in the foreground."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import trustme
import uvicorn
from fastapi import FastAPI

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class TlsFiles:
    ca_path: Path  # trust this (requests `verify=`, httpx `verify=`) to talk to the sandbox
    cert_path: Path  # server certificate chain
    key_path: Path


def generate_tls(directory: Path, names: tuple[str, ...] = LOOPBACK_NAMES) -> TlsFiles:
    """A fresh self-signed CA and a server certificate for the loopback names, as PEM files."""
    directory.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA(organization_name="Handoff Salesforce sandbox")
    certificate = authority.issue_cert(*names)
    files = TlsFiles(
        ca_path=directory / "salesforce-sandbox-ca.pem",
        cert_path=directory / "salesforce-sandbox-cert.pem",
        key_path=directory / "salesforce-sandbox-key.pem",
    )
    authority.cert_pem.write_to_path(str(files.ca_path))
    for blob in certificate.cert_chain_pems:
        blob.write_to_path(str(files.cert_path), append=blob is not certificate.cert_chain_pems[0])
    certificate.private_key_pem.write_to_path(str(files.key_path))
    files.key_path.chmod(0o600)
    return files


def uvicorn_config(app: FastAPI, host: str, port: int, tls: TlsFiles) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        ssl_certfile=str(tls.cert_path),
        ssl_keyfile=str(tls.key_path),
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
    )


class BackgroundServer:
    """uvicorn on a daemon thread; `port` is the real one even when asked for port 0."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, name="salesforce-sandbox", daemon=True
        )

    def start(self, timeout: float = 15.0) -> int:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Salesforce sandbox did not start")
            time.sleep(0.02)
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    def stop(self) -> None:
        self.server.should_exit = True
        # Clients keep connections alive; a test sandbox need not wait for them to hang up.
        self.server.force_exit = True
        self.thread.join(timeout=10)
