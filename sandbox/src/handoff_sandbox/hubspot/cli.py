"""`handoff-sandbox hubspot`: serve the HubSpot sandbox (registered by handoff_sandbox.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from handoff_sandbox.hubspot.config import DEFAULT_TOKEN, SandboxSettings


def serve(
    port: int = typer.Option(8091, help="Port to listen on (127.0.0.1)."),
    db: Optional[Path] = typer.Option(None, help="SQLite file; in memory when omitted."),  # noqa: UP045 - Typer reads Optional
    seed: bool = typer.Option(
        False, help="Load the services-firm demo data into an empty database."
    ),
    webhook_url: Optional[str] = typer.Option(None, help="Deliver signed webhook batches here."),  # noqa: UP045
    webhook_secret: Optional[str] = typer.Option(  # noqa: UP045
        None, envvar="HANDOFF_HUBSPOT_WEBHOOK_SECRET", help="App secret used to sign webhooks."
    ),
    token: str = typer.Option(DEFAULT_TOKEN, help="Static (private app) access token accepted."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind."),
) -> None:
    """Run a local HubSpot CRM v3/v4 emulator with HubSpot's shapes, limits and errors."""
    import uvicorn

    from handoff_sandbox.hubspot.app import create_app

    settings = SandboxSettings(token=token, webhook_url=webhook_url, webhook_secret=webhook_secret)
    app = create_app(db, settings, seed=seed)
    typer.echo(f"HubSpot sandbox on http://{host}:{port}  token: {token}")
    uvicorn.run(app, host=host, port=port, log_level="info")
