"""handoff.yaml's `mappings:` replaces shipped defaults by name; versions say which is which."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.config import parse_settings
from handoff.connectors.salesforce.mapping import load_object_mapping, load_writeback_mapping
from handoff.mapping import (
    SHIPPED_MAPPINGS,
    Mapper,
    MappingFileError,
    diff_mappings,
    effective_mappings,
    load_effective,
    shipped_mappings,
)

COMPANY_V2 = """\
name: hubspot_company
version: 2
source: hubspot
object: companies
canonical: Customer
constants: {source: hubspot}
fields:
  external_id: {from: id, required: true}
  name: {from: properties.legal_name, required: true}
  vat: {from: properties.vat_number, transform: upper}
"""


def settings_with(tmp_path: Path, mappings: dict[str, str]) -> object:
    lines = ["mappings:", *(f"  {name}: {file}" for name, file in mappings.items())]
    return parse_settings("\n".join(lines) + "\n", base_dir=tmp_path)


def test_without_overrides_the_shipped_defaults_apply() -> None:
    effective = effective_mappings(parse_settings(""))
    assert effective == shipped_mappings()
    assert set(effective) == {p.stem for p in SHIPPED_MAPPINGS.glob("*.yaml")} - {
        "salesforce_writeback"  # a write-back mapping, read by its connector
    }
    for name, spec in effective.items():
        assert spec.name == name and spec.version >= 1 and spec.source in ("hubspot", "salesforce")


def test_an_override_replaces_the_default_by_name(tmp_path: Path) -> None:
    (tmp_path / "company.yaml").write_text(COMPANY_V2)
    settings = settings_with(tmp_path, {"hubspot_company": "company.yaml"})  # relative to config
    effective = effective_mappings(settings)  # type: ignore[arg-type]
    assert effective["hubspot_company"].version == 2
    assert effective["hubspot_deal"] == shipped_mappings()["hubspot_deal"]  # others untouched
    customer = Mapper(effective["hubspot_company"]).to_canonical(
        {
            "id": "5",
            "properties": {"legal_name": "Acme GmbH", "name": "Acme", "vat_number": "de123"},
        }
    )
    assert (customer.name, customer.vat, customer.city) == ("Acme GmbH", "DE123", None)
    loaded = load_effective(settings.mappings)  # type: ignore[attr-defined]
    assert (
        loaded["hubspot_company"].overridden
        and loaded["hubspot_company"].path == tmp_path / "company.yaml"
    )
    assert loaded["hubspot_company"].shipped == shipped_mappings()["hubspot_company"]
    assert not loaded["hubspot_deal"].overridden


def test_an_override_inherits_name_and_source_but_not_a_different_shape(tmp_path: Path) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text(
        "version: 3\nobject: Account\ncanonical: Customer\nfields:\n  external_id: Id\n  name: Name\n"
    )
    spec = effective_mappings(settings_with(tmp_path, {"salesforce_customer": "bare.yaml"}))[  # type: ignore[arg-type]
        "salesforce_customer"
    ]
    assert (spec.name, spec.source, spec.version) == ("salesforce_customer", "salesforce", 3)

    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        COMPANY_V2.replace("canonical: Customer", "canonical: Contact")
        .replace("  vat: {from: properties.vat_number, transform: upper}\n", "")
        .replace("  name: {from: properties.legal_name, required: true}\n", "")
    )
    with pytest.raises(MappingFileError) as mismatch:
        effective_mappings(settings_with(tmp_path, {"hubspot_company": "wrong.yaml"}))  # type: ignore[arg-type]
    assert mismatch.value.rule == "mapping_mismatch" and "'Contact'" in mismatch.value.message
    assert mismatch.value.suggested_fix and "canonical: Customer" in mismatch.value.suggested_fix


def test_an_override_of_an_unknown_mapping_is_refused(tmp_path: Path) -> None:
    (tmp_path / "company.yaml").write_text(COMPANY_V2)
    with pytest.raises(MappingFileError) as unknown:
        effective_mappings(settings_with(tmp_path, {"hubspot_companies": "company.yaml"}))  # type: ignore[arg-type]
    assert unknown.value.rule == "mapping_unknown"
    assert unknown.value.suggested_fix and "hubspot_company" in unknown.value.suggested_fix


def test_salesforce_reads_its_overrides_through_the_same_loader(tmp_path: Path) -> None:
    line = tmp_path / "line.yaml"
    line.write_text(
        (SHIPPED_MAPPINGS / "salesforce_deal_line.yaml")
        .read_text()
        .replace("version: 1", "version: 2")
        .replace("  description: Description\n", "  description: Product2.Description\n")
    )
    mapping = load_object_mapping("salesforce_deal", {"salesforce_deal_line": line})
    assert mapping.lines is not None and mapping.lines.spec.version == 2
    assert "Product2.Description" in mapping.line_soql_fields()
    assert mapping.line_soql_fields()[:2] == ["Id", "OpportunityId"]
    assert "Handoff_Contract_Type__c" in mapping.soql_fields()
    writeback = tmp_path / "writeback.yaml"
    writeback.write_text(
        (SHIPPED_MAPPINGS / "salesforce_writeback.yaml")
        .read_text()
        .replace("version: 1", "version: 4")
    )
    assert load_writeback_mapping(overrides={"salesforce_writeback": writeback}).version == 4
    # A write-back override is not a canonical mapping: the engine leaves it to the connector.
    assert "salesforce_writeback" not in load_effective({"salesforce_writeback": writeback})


def test_diff_asks_for_a_version_bump_and_shows_what_records_would_change() -> None:
    current = shipped_mappings()["salesforce_customer"]
    same_version = current.model_copy(
        update={"fields": {**current.fields, "name": current.fields["website"]}}
    )
    changes = diff_mappings(
        current, same_version, [{"Id": "001", "Name": "Acme", "Website": "acme.example"}]
    )
    assert changes[0] == "version stays 1 although the mapping changed: bump it"
    assert "changed name <- Name (required)  =>  name <- Website" in changes
    assert "record 001: name 'Acme' -> 'acme.example'" in changes
    bumped = same_version.model_copy(update={"version": 2})
    assert diff_mappings(current, bumped)[0] == "version 1 -> 2"
    assert diff_mappings(bumped, current)[0] == "version goes down from 2 to 1"
    assert diff_mappings(current, current.model_copy()) == []
