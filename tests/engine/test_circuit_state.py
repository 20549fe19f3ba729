"""One effective circuit state for every reader: an open circuit whose open-until has passed is
half-open for the breaker, `handoff circuits list`, the API and the metrics (issue 10, defect 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from typer.testing import CliRunner

from handoff import services
from handoff.api.state_metrics import register_state_collector, unregister_state_collector
from handoff.cli.main import app
from handoff.config import CONFIG_ENV_VAR
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.store.models import Circuit, CircuitState


def test_an_open_circuit_past_its_open_until_reads_half_open_everywhere(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "handoff.yaml"
    config.write_text(f"store:\n  url: {store_url}\n")
    monkeypatch.setenv(CONFIG_ENV_VAR, str(config))
    hub = start_hub()
    past = datetime.now(UTC) - timedelta(minutes=3)
    future = datetime.now(UTC) + timedelta(minutes=3)
    with hub.store.session() as session:
        session.add_all(
            [
                Circuit(system="odoo", state="open", consecutive_failures=5, opened_until=past),
                Circuit(system="crm", state="open", consecutive_failures=5, opened_until=future),
                # A probe took the circuit a moment ago and has not reported yet.
                Circuit(system="erp", state="half_open", consecutive_failures=5, opened_until=past),
            ]
        )
    try:
        states = {c.system: c.state for c in services.circuits(hub)}
        assert states == {
            "odoo": CircuitState.HALF_OPEN,
            "crm": CircuitState.OPEN,
            "erp": CircuitState.HALF_OPEN,
        }

        register_state_collector(hub)
        metrics = generate_latest().decode()
        assert 'handoff_circuit_state{system="odoo"} 1.0' in metrics
        assert 'handoff_circuit_state{system="crm"} 2.0' in metrics

        listed = CliRunner().invoke(app, ["circuits", "list"], terminal_width=200)
        assert listed.exit_code == 0, listed.output
        odoo = next(line for line in listed.stdout.splitlines() if " odoo " in line)
        crm = next(line for line in listed.stdout.splitlines() if " crm " in line)
        assert "half_open" in odoo and " open " not in odoo
        assert " open " in crm
        # The open-until cell wraps over lines: read each circuit's row block as one text.
        blocks = _row_blocks(listed.stdout)
        assert "next call probes" in blocks["odoo"]  # cool-down over, nobody probing yet
        assert "probe in flight since" in blocks["erp"]
        assert "next call probes" not in blocks["erp"]
    finally:
        unregister_state_collector(hub)
        hub.shutdown()
        set_current_hub(None)


def _row_blocks(table: str) -> dict[str, str]:
    """Each row of a rich table by its first cell, its wrapped lines' cells joined with spaces."""
    blocks: dict[str, list[list[str]]] = {}
    current = None
    for line in table.splitlines():
        if "│" not in line:
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("│").split("│")]
        if cells[0]:
            current = cells[0]
            blocks[current] = []
        if current is not None:
            blocks[current].append(cells)
    return {
        name: " ".join(" ".join(c for c in column if c) for column in zip(*rows, strict=True))
        for name, rows in blocks.items()
    }
