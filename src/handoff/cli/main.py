"""The `handoff` command: one Typer app whose sub-commands call the same services as the API."""

from __future__ import annotations

import sys

from handoff.cli import metrics_dir

metrics_dir.prepare(sys.argv)  # before prometheus_client is imported (its multiprocess mode)

import typer  # noqa: E402

app = typer.Typer(
    name="handoff",
    help="Handoff: governed CRM <-> Odoo synchronisation for professional-services firms.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

from handoff.cli import ops, processes  # noqa: E402
from handoff.cli.billing_cmd import billing_app, monitors_app  # noqa: E402
from handoff.cli.config_cmd import config_app, init  # noqa: E402
from handoff.cli.mappings_cmd import mappings_app  # noqa: E402
from handoff.cli.time_cmd import import_app  # noqa: E402

app.command("init")(init)
app.add_typer(config_app, name="config")
app.add_typer(mappings_app, name="mappings")

app.command()(processes.run)
app.command()(processes.worker)
app.command()(processes.api)
db_app = typer.Typer(help="The hub's own database.", no_args_is_help=True)
db_app.command("upgrade")(processes.db_upgrade)
app.add_typer(db_app, name="db")
app.add_typer(ops.flows_app, name="flows")
app.add_typer(ops.exceptions_app, name="exceptions")
app.add_typer(ops.inbox_app, name="inbox")
app.add_typer(ops.audit_app, name="audit")
app.add_typer(ops.circuits_app, name="circuits")
app.add_typer(ops.approvals_app, name="approvals")
app.add_typer(ops.customers_app, name="customers")
app.add_typer(billing_app, name="billing")
app.add_typer(monitors_app, name="monitors")
app.add_typer(import_app, name="import")


if __name__ == "__main__":
    app()
