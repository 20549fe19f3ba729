"""Systems by name in handoff.yaml: each source says which Odoo it feeds (``systems.<src>.odoo``),
the only Odoo by default, and a clear error when that is ambiguous; runs resolve their target,
queue and adapter from it (``handoff.engine.targets``)."""

from __future__ import annotations

import pytest

from handoff.config import ConfigError, UnknownSystemError, parse_settings
from handoff.connectors.registry import MissingSystem, connectors_for
from handoff.engine.targets import odoo_target, running, systems_for, target_of

TWO = """
systems:
  erp_eu: {kind: odoo, url: "http://127.0.0.1:1", database: eu, username: u}
  erp_us: {kind: odoo, url: "http://127.0.0.1:2", database: us, username: u}
  hubspot_eu: {kind: hubspot, url: "http://127.0.0.1:3", odoo: erp_eu}
  hubspot_us: {kind: hubspot, url: "http://127.0.0.1:4", odoo: erp_us}
  stripe: {kind: stripe, url: "http://127.0.0.1:5", odoo: erp_us}
  docusign: {kind: docusign, url: "http://127.0.0.1:6"}
"""


def test_each_source_resolves_its_own_odoo_by_name() -> None:
    settings = parse_settings(TWO)
    assert settings.systems_of_kind("odoo") == ["erp_eu", "erp_us"]
    assert settings.odoo_for("hubspot_eu") == "erp_eu"
    assert settings.odoo_for("hubspot_us") == "erp_us"
    assert settings.odoo_for("stripe") == "erp_us"
    assert settings.odoo_for("erp_eu") == "erp_eu"  # an Odoo's own events (its invoice poll)
    with pytest.raises(UnknownSystemError, match=r"2 systems of kind 'odoo'.*ambiguous"):
        settings.odoo_for("billing")  # no configured source: which Odoo is not said


def test_a_flow_declaring_a_kind_runs_on_the_queue_of_its_sources_system() -> None:
    settings = parse_settings(TWO)
    assert target_of(settings, "odoo", "hubspot_eu") == "erp_eu"
    assert target_of(settings, "odoo", "hubspot_us") == "erp_us"
    assert target_of(settings, "odoo", "hubspot_eu", configured="erp_us") == "erp_us"
    assert target_of(settings, "ledger", "anything") == "ledger"  # a plain queue name
    assert target_of(settings, "salesforce", "x") == "salesforce"  # a kind nobody configured
    assert systems_for(settings, "odoo") == ["erp_eu", "erp_us"]
    with running("erp_us"):
        assert odoo_target(settings) == "erp_us"
    with pytest.raises(UnknownSystemError):
        odoo_target(settings)  # outside a run, with two Odoo systems


def test_the_only_odoo_is_the_default_whatever_its_name() -> None:
    settings = parse_settings(
        """
systems:
  erp: {kind: odoo, url: "http://127.0.0.1:1", database: db, username: u}
  hubspot: {kind: hubspot, url: "http://127.0.0.1:3"}
  timetracker: {kind: http, url: "http://127.0.0.1:4"}
"""
    )
    assert settings.odoo_for("hubspot") == "erp"
    assert settings.odoo_for("timetracker") == "erp"
    assert settings.odoo_for("billing") == "erp"
    assert target_of(settings, "odoo", "hubspot") == "erp"
    assert odoo_target(settings) == "erp"
    name, system = connectors_for(settings).system_of_kind("odoo")
    assert (name, system.database) == ("erp", "db")


def test_two_odoos_and_a_source_that_does_not_say_which_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        parse_settings(
            """
systems:
  erp_eu: {kind: odoo, url: "http://127.0.0.1:1", database: eu, username: u}
  erp_us: {kind: odoo, url: "http://127.0.0.1:2", database: us, username: u}
  hubspot: {kind: hubspot, url: "http://127.0.0.1:3"}
  docusign: {kind: docusign, url: "http://127.0.0.1:6"}
"""
        )
    text = str(raised.value)
    assert "systems.hubspot.odoo: required" in text and "erp_eu, erp_us" in text
    assert "docusign" not in text  # it starts no Odoo flow


@pytest.mark.parametrize(
    ("system", "expected"),
    [
        ("hubspot: {kind: hubspot, url: 'http://h', odoo: nowhere}", "unknown system 'nowhere'"),
        ("hubspot: {kind: hubspot, url: 'http://h', odoo: other}", "'other' is a hubspot system"),
        (
            "erp2: {kind: odoo, url: 'http://h', database: d, odoo: erp}",
            "an Odoo system feeds no other Odoo",
        ),
    ],
)
def test_a_wrong_odoo_reference_is_reported_where_it_is(system: str, expected: str) -> None:
    text = f"""
systems:
  erp: {{kind: odoo, url: "http://127.0.0.1:1", database: db, username: u}}
  other: {{kind: hubspot, url: "http://127.0.0.1:2"}}
  {system}
"""
    with pytest.raises(ConfigError, match=expected):
        parse_settings(text)


def test_adapters_are_addressed_by_name() -> None:
    settings = parse_settings(TWO)
    connectors = connectors_for(settings)
    assert connectors.system_of_kind("odoo", "erp_us")[1].database == "us"
    with pytest.raises(MissingSystem, match=r"2 \(erp_eu, erp_us\)"):
        connectors.system_of_kind("odoo")
    with pytest.raises(MissingSystem, match="a hubspot system, not odoo"):
        connectors.system_of_kind("odoo", "hubspot_eu")
