"""`handoff-sandbox odoo`: serve the Odoo sandbox on a port (registered by handoff_sandbox.cli).

`--series 18` (default) claims 18.0 and has no JSON-2, like the recorded server; `--series 19`
claims 19.0 and serves JSON-2 (`/json/2/<model>/<method>`) with 19's field names."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
import uvicorn

from .faults import FaultInjector
from .orm import Database
from .series import series as odoo_series
from .server import build_app


def serve(
    port: int = typer.Option(8069, help="Port to listen on."),
    db: Optional[Path] = typer.Option(None, help="SQLite file (default: in memory)."),  # noqa: UP045
    latency_ms: float = typer.Option(0.0, help="Latency added to every RPC call."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
    series: str = typer.Option(
        "18", help="Odoo series to claim: 18 (JSON-RPC, XML-RPC) or 19 (adds JSON-2)."
    ),
) -> None:
    """Serve a faithful Odoo sandbox (db "psa", admin/admin): JSON-RPC, XML-RPC, JSON-2 in 19."""
    try:
        chosen = odoo_series(series)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--series") from exc
    database = Database(str(db) if db else None)
    database.faults = FaultInjector(latency_ms)
    app = build_app(database, database.faults, chosen)
    typer.echo(
        f"Odoo {chosen.server_version} sandbox on http://{host}:{port} (db psa, admin/admin)"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
