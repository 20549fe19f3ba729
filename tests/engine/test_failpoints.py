"""Failpoints: a process told to die at a named point dies there (exit code 86), once when asked
with a marker file, and never when HANDOFF_FAILPOINTS is unset."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from handoff.engine.failpoints import CRASH_EXIT_CODE, ENV_VAR, INBOX_ACCEPTED

PROGRAM = (
    "from handoff.engine import failpoints\n"
    "failpoints.reached(failpoints.INBOX_ACCEPTED)\n"
    "print('passed')\n"
)


def _run(points: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    if points is not None:
        env[ENV_VAR] = points
    return subprocess.run([sys.executable, "-c", PROGRAM], env=env, capture_output=True,
                          text=True, timeout=60)  # fmt: skip


def test_a_process_dies_at_the_failpoint_it_was_given() -> None:
    died = _run(f"other.point=exit,{INBOX_ACCEPTED}=exit")
    assert died.returncode == CRASH_EXIT_CODE and "passed" not in died.stdout


def test_without_the_variable_or_for_another_point_it_goes_on() -> None:
    for points in (None, "", "other.point=exit"):
        went_on = _run(points)
        assert went_on.returncode == 0 and "passed" in went_on.stdout, went_on.stderr


def test_exit_once_dies_the_first_time_only(tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    assert _run(f"{INBOX_ACCEPTED}=exit-once={marker}").returncode == CRASH_EXIT_CODE
    assert marker.exists()
    assert _run(f"{INBOX_ACCEPTED}=exit-once={marker}").returncode == 0
