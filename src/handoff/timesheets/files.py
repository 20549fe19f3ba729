"""File drop: a CSV (with a header row) or JSON file of time entries or expenses.

The file is read and every row validated before anything is submitted: one bad row and nothing is
imported. Rows are numbered from 1 (the first data row; in a CSV, line = row + 1).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handoff.config import load_settings, resolve_config_path
from handoff.timesheets.records import TIMETRACKER_SYSTEM, ItemKind, ParsedItems, parse_items

if TYPE_CHECKING:
    from handoff.config import LimitsConfig


class FileFormatError(ValueError):
    """The file as a whole cannot be read (not CSV/JSON, no header, not a list)."""


def read_rows(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileFormatError(f"{path}: not UTF-8 text ({error.reason})") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith(("[", "{")):
        return _json_rows(path, text)
    return _csv_rows(path, text)


def _json_rows(path: Path, text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FileFormatError(f"{path}: invalid JSON at line {error.lineno}: {error.msg}") from None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise FileFormatError(
            f"{path}: a JSON file must hold a list of items (or {{items: [...]}})"
        )
    return data


def _csv_rows(path: Path, text: str) -> list[Any]:
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise FileFormatError(f"{path}: a CSV file needs a header row")
    rows: list[Any] = []
    for row in reader:
        if None in row:  # more cells than header columns
            rows.append(
                {
                    **{k: v for k, v in row.items() if k is not None},
                    "__extra_cells__": ",".join(row[None]),
                }
            )
        else:
            rows.append(row)
    return rows


def parse_file(
    path: Path,
    kind: ItemKind,
    *,
    source: str = TIMETRACKER_SYSTEM,
    limits: LimitsConfig | None = None,
    config: Path | None = None,
) -> ParsedItems:
    """Every row parsed and held to the business limits: ``limits``, else those of the
    handoff.yaml at ``config`` (its ``limits:``), else the defaults."""
    if limits is None and config is not None:
        limits = load_settings(resolve_config_path(config)).limits
    return parse_items(read_rows(path), kind=kind, source=source, limits=limits)
