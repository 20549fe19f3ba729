"""`handoff-sandbox salesforce`: the Salesforce sandbox on a local HTTPS port."""

from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from handoff_sandbox.salesforce.app import SandboxConfig, create_app
from handoff_sandbox.salesforce.seed import seed_demo
from handoff_sandbox.salesforce.server import generate_tls, uvicorn_config
from handoff_sandbox.salesforce.store import OrgStore


def serve(
    port: int = typer.Option(8092, help="HTTPS port to listen on (127.0.0.1)."),
    db: Path | None = typer.Option(
        None, help="SQLite file for the org's records (default: in memory)."
    ),
    seed: bool = typer.Option(False, help="Load demo accounts, contacts and opportunities."),
    cdc_url: str | None = typer.Option(None, help="POST Change Data Capture events to this URL."),
    cdc_secret: str = typer.Option(
        "handoff-sandbox-relay-secret",
        envvar="HANDOFF_SALESFORCE_RELAY_SECRET",
        help="Shared secret signing CDC relay posts (X-Handoff-Relay-Signature).",
    ),
    daily_api_limit: int = typer.Option(100_000, help="Daily API request limit enforced."),
    tls_dir: Path | None = typer.Option(
        None, help="Where to write the generated CA and certificate."
    ),
) -> None:
    """Run a Salesforce-compatible sandbox over TLS (self-signed CA generated at start)."""
    directory = tls_dir or (db.parent if db else Path.cwd()) / ".handoff-salesforce-tls"
    tls = generate_tls(directory)
    store = OrgStore(db)
    if seed:
        seed_demo(store)
    config = SandboxConfig(cdc_url=cdc_url, cdc_secret=cdc_secret, daily_api_limit=daily_api_limit)
    app = create_app(config, store)
    typer.echo(f"Salesforce sandbox: https://127.0.0.1:{port}  (trust CA: {tls.ca_path})")
    typer.echo(
        f"  username={config.username} password={config.password} "
        f"security_token={config.security_token}"
    )
    typer.echo(f"  consumer_key={config.consumer_key} consumer_secret={config.consumer_secret}")
    typer.echo(
        f"  simple-salesforce: domain='127.0.0.1:{port}/login', session.verify='{tls.ca_path}'"
    )
    uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, tls)).run()
