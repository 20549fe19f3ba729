"""`handoff sandbox odoo`: serve the Odoo 18 sandbox on a port (registered by handoff.cli.main)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import uvicorn

from .faults import FaultInjector
from .orm import Database
from .server import build_app


def serve(
    port: int = typer.Option(8069, help="Port to listen on."),
    db: Optional[Path] = typer.Option(None, help="SQLite file (default: in memory)."),  # noqa: UP045
    latency_ms: float = typer.Option(0.0, help="Latency added to every RPC call."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
) -> None:
    """Serve a faithful Odoo 18 sandbox (db "psa", admin/admin) over JSON-RPC, XML-RPC, JSON-2."""
    database = Database(str(db) if db else None)
    database.faults = FaultInjector(latency_ms)
    app = build_app(database, database.faults)
    typer.echo(f"Odoo sandbox on http://{host}:{port} (db psa, admin/admin)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
