"""``handoff import time FILE`` / ``handoff import expenses FILE`` (and ``handoff time import``):
a file drop of time entries or expenses, validated as a whole, then submitted in one go."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from handoff.config import load_settings, resolve_config_path
from handoff.engine.runtime import start_hub
from handoff.timesheets.files import FileFormatError, parse_file
from handoff.timesheets.intake import submit_records
from handoff.timesheets.records import TIMETRACKER_SYSTEM, ItemError, ItemKind

console = Console()
time_app = typer.Typer(help="Time entries and expenses from a time tracker.", no_args_is_help=True)
import_app = typer.Typer(help="Import files of delivery records.", no_args_is_help=True)

FILE_ARGUMENT = typer.Argument(
    ...,
    exists=True,
    dir_okay=False,
    readable=True,
    help="CSV with a header row, or JSON (a list of items)",
)
SOURCE_OPTION = typer.Option(TIMETRACKER_SYSTEM, help="the source system the rows come from")
CONFIG_OPTION = typer.Option(None, "--config", "-c", help="handoff.yaml (default: discovered)")
CHECK_OPTION = typer.Option(False, "--check", help="validate only, import nothing")


def _report(path: Path, errors: list[ItemError]) -> None:
    table = Table(
        title=f"{path.name}: {len({e.row for e in errors})} bad row(s), nothing imported",
        caption="row = data row from 1 (in a CSV, line = row + 1)",
    )
    for column in ("row", "column", "value", "problem"):
        table.add_column(column, overflow="fold")
    for error in errors:
        table.add_row(str(error.row), error.column, error.value, error.problem)
    console.print(table)


def run_import(path: Path, kind: ItemKind, source: str, config: Path | None, check: bool) -> None:
    try:
        parsed = parse_file(path, kind, source=source, config=config)
    except FileFormatError as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    if not parsed.ok:
        _report(path, parsed.errors)
        raise typer.Exit(1)
    what = "time entries" if kind == "time" else "expenses"
    if check:
        console.print(f"{path.name}: {len(parsed.records)} {what}, all valid (nothing imported)")
        return
    hub = start_hub(load_settings(resolve_config_path(config)) if config else None)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        transient=False,
    ) as progress:
        task = progress.add_task(f"submitting {what}", total=len(parsed.records))
        results = submit_records(
            hub,
            parsed.records,
            source=source,
            on_started=lambda n: progress.advance(task, n),
        )
        progress.update(task, completed=len(parsed.records))
    duplicates = sum(r.duplicate for r in results)
    console.print(
        f"{path.name}: {len(results) - duplicates} {what} submitted"
        + (f", {duplicates} already received (unchanged)" if duplicates else "")
    )


@import_app.command("time")
def import_time(
    path: Path = FILE_ARGUMENT,
    source: str = SOURCE_OPTION,
    config: Path | None = CONFIG_OPTION,
    check: bool = CHECK_OPTION,
) -> None:
    """Time entries: consultant, project_ref or deal_ref, date, hours, billable, approval..."""
    run_import(path, "time", source, config, check)


@import_app.command("expenses")
def import_expenses(
    path: Path = FILE_ARGUMENT,
    source: str = SOURCE_OPTION,
    config: Path | None = CONFIG_OPTION,
    check: bool = CHECK_OPTION,
) -> None:
    """Expenses: consultant, project_ref or deal_ref, date, amount, currency, category..."""
    run_import(path, "expense", source, config, check)


@time_app.command("import")
def time_import(
    path: Path = FILE_ARGUMENT,
    kind: str = typer.Option("time", help="time | expense"),
    source: str = SOURCE_OPTION,
    config: Path | None = CONFIG_OPTION,
    check: bool = CHECK_OPTION,
) -> None:
    """Import a file of time entries (--kind time) or expenses (--kind expense)."""
    if kind not in ("time", "expense"):
        raise typer.BadParameter("time or expense", param_hint="--kind")
    run_import(path, "time" if kind == "time" else "expense", source, config, check)
