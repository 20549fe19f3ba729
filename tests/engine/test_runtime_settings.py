"""handoff.yaml's ``runtime`` section reaches the machinery it names (it replaced the
HANDOFF_ENGINE_LOG_LEVEL variable and constants in the CLI): the durable engine's log level."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.conftest import engine_settings
from handoff.config import ConfigError, load_settings
from handoff.engine import flows, launcher
from handoff.engine.runtime import Hub, set_current_hub, start_hub
from support.ledger import Ledger


@pytest.fixture
def hubs() -> Iterator[list[Hub]]:
    started: list[Hub] = []
    yield started
    for hub in started:
        hub.shutdown()
    flows.close_clients()
    set_current_hub(None)


@pytest.mark.parametrize("level", ["ERROR", "DEBUG"])
def test_the_engine_logs_at_runtime_engine_log_level(
    store_url: str, ledger: tuple[str, Ledger], hubs: list[Hub], level: str
) -> None:
    settings = engine_settings(store_url, ledger[0])
    settings = settings.model_copy(
        update={"runtime": settings.runtime.model_copy(update={"engine_log_level": level})}
    )
    hub = start_hub(settings)
    hubs.append(hub)
    launcher.launch(hub, executor_id="log-level")
    assert logging.getLogger("dbos").level == getattr(logging, level)


def test_runtime_flow_modules_are_imported_and_a_missing_one_is_named(
    tmp_path: Path,
) -> None:
    """``runtime.flow_modules`` replaced the HANDOFF_FLOW_MODULES variable: the modules named
    there are imported with the product's flows (a module's import registers its flows); a name
    that does not import is a clear error."""
    config = tmp_path / "handoff.yaml"
    config.write_text("runtime:\n  flow_modules: [flows_plugin_probe]\n", encoding="utf-8")
    # A module that only records it was imported: registering a real flow here would leave it
    # in the registry of every later test of this process.
    (tmp_path / "flows_plugin_probe.py").write_text("IMPORTED = True\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        flows.load_flow_modules(load_settings(config))
        assert sys.modules["flows_plugin_probe"].IMPORTED

        config.write_text("runtime:\n  flow_modules: [no_such_flows_module]\n", encoding="utf-8")
        with pytest.raises(ValueError, match=r"runtime\.flow_modules: no module named 'no_such"):
            flows.load_flow_modules(load_settings(config))
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flows_plugin_probe", None)


def test_a_flow_module_name_that_is_not_a_dotted_name_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "handoff.yaml"
    config.write_text("runtime:\n  flow_modules: ['os; rm -rf /']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"runtime\.flow_modules"):
        load_settings(config)
