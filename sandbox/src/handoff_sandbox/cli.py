"""``handoff-sandbox odoo|hubspot|salesforce``: serve one emulator on a port, for trials and tests.
Each emulator package owns its ``serve`` command; nothing here imports the hub."""

from __future__ import annotations

import typer

from handoff_sandbox.hubspot.cli import serve as serve_hubspot
from handoff_sandbox.odoo.cli import serve as serve_odoo
from handoff_sandbox.salesforce.cli import serve as serve_salesforce

app = typer.Typer(
    name="handoff-sandbox",
    help="Run a local emulator of a real system (for trials, tests, demos).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("odoo")(serve_odoo)
app.command("hubspot")(serve_hubspot)
app.command("salesforce")(serve_salesforce)

if __name__ == "__main__":
    app()
