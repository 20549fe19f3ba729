"""Prometheus multiprocess mode for the hub's processes: `handoff api`, `handoff worker` and
`handoff run` write their counters to files in one folder per hub, and the API's /metrics sums
them, so a worker's flow, step and retry counters are visible wherever /metrics is read.

prometheus_client reads ``PROMETHEUS_MULTIPROC_DIR`` when it is imported, so ``prepare`` runs
first thing in ``handoff.cli.main``, before anything imports it."""

from __future__ import annotations

import atexit
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from handoff.config import load_settings

MULTIPROC_ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"
PROCESS_COMMANDS = frozenset({"api", "worker", "run"})


def folder_for(store_url: str) -> Path:
    """``metrics/`` next to a SQLite store (the hub's data folder); for a server database, a
    folder in the temporary directory named after the database's URL."""
    from sqlalchemy.engine import make_url

    parsed = make_url(store_url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database).resolve().parent / "metrics"
    digest = hashlib.sha256(parsed.render_as_string(hide_password=True).encode()).hexdigest()
    return Path(tempfile.gettempdir()) / f"handoff-metrics-{digest[:16]}"


def prepare(argv: Sequence[str]) -> Path | None:
    """Set ``PROMETHEUS_MULTIPROC_DIR`` for a process command (unless already set) and create
    the folder (0700). Anything it cannot work out (no valid settings) is left to the command
    itself to report."""
    if os.environ.get(MULTIPROC_ENV_VAR) or not PROCESS_COMMANDS.intersection(argv[1:2]):
        return None
    try:
        folder = folder_for(load_settings().store_url())
        previous = os.umask(0o077)  # the hub's data folder too, when this creates it: 0700
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        finally:
            os.umask(previous)
    except Exception:
        return None
    os.environ[MULTIPROC_ENV_VAR] = str(folder)
    atexit.register(mark_this_process_dead)
    return folder


def mark_this_process_dead() -> None:
    """Drop this process's live gauges from the shared folder (its counters stay counted)."""
    if os.environ.get(MULTIPROC_ENV_VAR):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(os.getpid())
