"""The production wheel carries the hub and nothing else: no emulator, no demo firm, no console
script of theirs. The sandboxes are a distribution of their own (sandbox/pyproject.toml) whose
wheel carries what they need to run (the Odoo fields recorded from a real server included).
Both wheels are built here with the same backend pip uses (hatchling), offline."""

from __future__ import annotations

import zipfile
from pathlib import Path

from hatchling.builders.wheel import WheelBuilder

REPO = Path(__file__).resolve().parents[1]


def _wheel(project: Path, into: Path) -> zipfile.ZipFile:
    [path] = WheelBuilder(str(project)).build(directory=str(into), versions=["standard"])
    return zipfile.ZipFile(path)


def _entry_points(wheel: zipfile.ZipFile) -> str:
    [name] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    return wheel.read(name).decode()


def test_the_production_wheel_holds_only_the_hub(tmp_path: Path) -> None:
    wheel = _wheel(REPO, tmp_path)
    names = wheel.namelist()
    assert {name.split("/")[0] for name in names} == {"handoff", "handoff-0.1.0.dist-info"}
    assert "handoff/cli/main.py" in names and "handoff/api/app.py" in names
    emulators = [n for n in names if "sandbox" in n.split("/")[1] or "demo" in n.split("/")[-1]]
    assert emulators == []
    scripts = _entry_points(wheel)
    assert "handoff = handoff.cli.main:app" in scripts
    assert "handoff-demo" not in scripts and "handoff-sandbox" not in scripts
    # What only an emulator needs (the Salesforce sandbox's throw-away TLS CA) is not installed
    # with the hub.
    [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
    assert "Requires-Dist: trustme" not in wheel.read(metadata).decode()


def test_the_sandbox_wheel_holds_the_emulators_and_the_demo(tmp_path: Path) -> None:
    wheel = _wheel(REPO / "sandbox", tmp_path)
    names = set(wheel.namelist())
    assert {name.split("/")[0] for name in names} == {
        "handoff_sandbox",
        "handoff_sandbox-0.1.0.dist-info",
    }
    assert {
        "handoff_sandbox/odoo/server.py",
        "handoff_sandbox/hubspot/app.py",
        "handoff_sandbox/salesforce/app.py",
        "handoff_sandbox/signing.py",
        "handoff_sandbox/demo.py",
        "handoff_sandbox/odoo/data/fields/sale.order.json",
    } <= names
    scripts = _entry_points(wheel)
    assert "handoff-demo = handoff_sandbox.demo:main" in scripts
    assert "handoff-sandbox = handoff_sandbox.cli:app" in scripts
