"""What the CLI and the logs print from outside is shown, never obeyed; the store is private to
its user; a wrong database URL is one line saying what to check."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handoff.canonical.errors import HandoffError
from handoff.cli import ops
from handoff.cli.main import app
from handoff.config import CONFIG_ENV_VAR, DATABASE_URL_ENV_VAR
from handoff.engine.runtime import start_hub
from handoff.observability import logging as hub_logging

HOSTILE = "acme\x1b[2J\rgotcha\x07\u202e"
runner = CliRunner()


@pytest.fixture
def sqlite_hub_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, f"sqlite:///{tmp_path}/data/handoff.db")
    # A wide terminal, so the table cells hold whole values: rich reads COLUMNS only where no
    # width was fixed, which is not so in every test process.
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.setattr(ops.console, "_width", 250)
    return tmp_path


def _assert_escaped(output: str) -> None:
    for raw in ("\x1b", "\r", "\x07", "\u202e"):
        assert raw not in output
    assert "\\x1b[2J" in output and "\\x0dgotcha" in output and "\\u202e" in output


def test_exception_values_print_escaped_in_list_and_show(sqlite_hub_env: Path) -> None:
    hub = start_hub()
    try:
        exception_id = hub.exceptions.raise_for(
            HandoffError(f"bad name {HOSTILE}", rule="hostile_rule", value=HOSTILE),
            flow="time_entries",
            record=f"timetracker:entry:{HOSTILE}",
        )
    finally:
        hub.shutdown()

    listed = runner.invoke(app, ["exceptions", "list"])
    assert listed.exit_code == 0, listed.output
    assert "hostile_rule" in listed.output
    _assert_escaped(listed.output)

    shown = runner.invoke(app, ["exceptions", "show", str(exception_id)])
    assert shown.exit_code == 0, shown.output
    assert "hostile_rule" in shown.output
    _assert_escaped(shown.output)


def test_log_lines_carry_control_characters_escaped() -> None:
    stream = io.StringIO()
    hub_logging.configure("INFO", stream)
    try:
        with hub_logging.bound_context(record=HOSTILE):
            hub_logging.get_logger("handoff.test").info("event %s", HOSTILE, extra={"id": HOSTILE})
    finally:
        hub_logging.configure("INFO")
    line = json.loads(stream.getvalue())
    # What `jq -r .message` would print: the escapes, not the characters.
    for field in ("message", "record", "id"):
        assert "\x1b" not in line[field] and "\r" not in line[field], field
        assert "\\x1b[2J\\x0dgotcha\\x07\\u202e" in line[field], field


def test_store_files_and_folder_are_private(sqlite_hub_env: Path) -> None:
    hub = start_hub()
    hub.shutdown()
    data = sqlite_hub_env / "data"
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    files = sorted(p.name for p in data.iterdir())
    assert "handoff.db" in files, files  # the engine's tables are in it too
    for name in files:
        assert stat.S_IMODE(os.stat(data / name).st_mode) == 0o600, name


@pytest.mark.parametrize(
    "url",
    ["postgresql://hub:s3cretpw@127.0.0.1:1/handoff", "nosuchdriver://hub:s3cretpw@host/db"],
)
@pytest.mark.parametrize("command", [["run"], ["worker"], ["api"], ["db", "upgrade"]])
def test_a_wrong_database_url_is_one_line_and_exit_2(
    sqlite_hub_env: Path, monkeypatch: pytest.MonkeyPatch, url: str, command: list[str]
) -> None:
    monkeypatch.setenv(DATABASE_URL_ENV_VAR, url)
    result = runner.invoke(app, command)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "cannot open the store at" in lines[0]
    assert "s3cretpw" not in result.output
    assert url.split("://")[0] in lines[0] and "check store.url" in lines[0]
    logging.getLogger("handoff").handlers.clear()
