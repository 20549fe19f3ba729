"""Worker processes for crash and multi-worker tests: real `handoff worker` subprocesses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
TEST_FLOWS = "support.flows"  # the engine tests' flows, for worker processes to know


def write_config(folder: Path, store_url: str, ledger_url: str) -> Path:
    path = folder / "handoff.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "store": {"url": store_url},
                "systems": {"ledger": {"kind": "http", "url": ledger_url, "concurrency": 16}},
                "retry": {"max_attempts": 6, "initial_delay_seconds": 0.05, "max_delay_seconds": 2},
                "runtime": {"flow_modules": [TEST_FLOWS]},
            }
        )
    )
    return path


class Worker:
    def __init__(self, config: Path, executor_id: str, log_dir: Path) -> None:
        self.config = config
        self.executor_id = executor_id
        self.log_path = log_dir / f"{executor_id}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *, ready_timeout: float = 60.0) -> Worker:
        env = {
            **os.environ,
            "HANDOFF_CONFIG": str(self.config),
            "PYTHONPATH": os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")]),
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "handoff.cli.main", "worker", "--executor-id", self.executor_id],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.config.parent,
        )
        deadline = time.monotonic() + ready_timeout
        while time.monotonic() < deadline:
            if "executor " + self.executor_id in self.log_path.read_text(errors="replace"):
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.log_path.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"worker not ready in {ready_timeout}s:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
