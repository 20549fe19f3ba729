"""`handoff config check|show` and `handoff init`: write, validate and display handoff.yaml.

Output is plain text (not Rich markup) so problem paths like `alerts.channels[0]` print as
written and each problem stays on one line, whatever the terminal width.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
import yaml

from handoff.config import (
    CONFIG_ENV_VAR,
    DEFAULT_CONFIG_FILE,
    ConfigError,
    Settings,
    effective_config,
    load_settings,
    resolve_config_path,
    secret_references,
    starter_config_text,
)
from handoff.flows.routing import startable_flows

config_app = typer.Typer(
    help="Check and show the configuration (handoff.yaml).", no_args_is_help=True
)

FILE_HELP = (
    f"Configuration file. Default: ${CONFIG_ENV_VAR}, else ./{DEFAULT_CONFIG_FILE} if present, "
    "else the embedded defaults."
)


def _load_or_exit(file: Path | None) -> Settings:
    """Load the settings, or print every problem to stderr and exit with status 1."""
    try:
        return load_settings(resolve_config_path(file), startable_flows=startable_flows())
    except ConfigError as error:
        for problem in error.problems:
            typer.echo(problem.format(error.source), err=True)
        count = len(error.problems)
        typer.echo(
            f"{error.source}: invalid ({count} problem{'s' if count != 1 else ''})", err=True
        )
        raise typer.Exit(1) from None


@config_app.command("check")
def check(file: Path | None = typer.Argument(None, help=FILE_HELP)) -> None:
    """Validate the configuration: exit 0 when valid, else list every problem and exit 1."""
    settings = _load_or_exit(file)
    for path, reference in secret_references(settings):
        if not reference.is_available():
            typer.echo(f"warning: {path}: {reference.reference} is not available yet", err=True)
    if settings.source is None:
        typer.echo("No configuration file: the embedded defaults apply (and are valid).")
        return
    typer.echo(
        f"{settings.source}: valid ({len(settings.systems)} systems, {len(settings.flows)} flows, "
        f"{len(settings.mappings)} mappings)"
    )


@config_app.command("show")
def show(
    file: Path | None = typer.Argument(None, help=FILE_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of YAML."),
) -> None:
    """Print the effective configuration, defaults included. Secrets appear only as their
    reference and whether it resolves: `${ODOO_API_KEY} (set)` or `(missing)`."""
    settings = _load_or_exit(file)
    view = effective_config(settings)
    if as_json:
        typer.echo(json.dumps({"source": _source_label(settings), **view}, indent=2))
        return
    typer.echo(f"# source: {_source_label(settings)}")
    typer.echo(yaml.safe_dump(view, sort_keys=False, allow_unicode=True).rstrip())


def _source_label(settings: Settings) -> str:
    return str(settings.source) if settings.source else "embedded defaults"


def init(
    path: Path = typer.Argument(DEFAULT_CONFIG_FILE, help="Where to write the starter file."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented starter handoff.yaml (it passes `handoff config check`)."""
    if path.exists() and not force:
        typer.echo(f"{path} already exists; use --force to overwrite it.", err=True)
        raise typer.Exit(1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(starter_config_text(), encoding="utf-8")
    typer.echo(f"Wrote {path}. Edit it, then run: handoff config check {path}")
