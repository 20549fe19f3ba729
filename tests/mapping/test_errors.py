"""Mapping failures: a record that cannot be mapped becomes a business-rule error that names the
mapping, field, source path and value and says what to fix; a broken file says what is wrong."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from handoff.canonical.errors import BusinessRuleError, ErrorKind
from handoff.mapping import (
    Mapper,
    MappingError,
    MappingFileError,
    load_mapping_file,
    shipped_mappings,
)


def test_missing_required_values_name_every_field_and_path() -> None:
    mapper = Mapper(shipped_mappings()["salesforce_deal"])
    with pytest.raises(MappingError) as raised:
        mapper.values({"Id": "006X", "Name": "  "[:0]})
    error = raised.value
    assert isinstance(error, BusinessRuleError) and error.kind is ErrorKind.BUSINESS_RULE
    assert error.rule == "missing_required" and error.mapping == "salesforce_deal"
    assert error.field == "name" and error.path == "Name" and error.record_id == "006X"
    assert error.message == (
        "salesforce_deal v3: Salesforce Opportunity 006X lacks required name (from Name)."
    )
    assert error.suggested_fix and "replay" in error.suggested_fix
    assert error.context == {
        "mapping": "salesforce_deal",
        "version": 3,
        "record": "006X",
        "field": "name",
        "path": "Name",
    }


def test_a_value_that_does_not_convert_names_field_path_and_value() -> None:
    mapper = Mapper(shipped_mappings()["salesforce_deal"])
    with pytest.raises(MappingError) as raised:
        mapper.values({"Id": "006Y", "Name": "Deal", "CloseDate": "next Tuesday"})
    error = raised.value
    assert error.rule == "invalid_value" and error.value == "next Tuesday"
    assert (error.field, error.path) == ("close_date", "CloseDate")
    assert (
        "salesforce_deal v3" in error.message
        and "'next Tuesday' is not a valid date" in error.message
    )
    assert error.suggested_fix is not None and "`CloseDate`" in error.suggested_fix


def test_a_record_the_canonical_model_refuses_is_a_mapping_error_too() -> None:
    mapper = Mapper(shipped_mappings()["hubspot_line_item"])
    with pytest.raises(MappingError) as raised:
        mapper.to_canonical({"id": "3", "properties": {"quantity": "2", "name": ["not", "text"]}})
    assert raised.value.rule == "canonical_validation"
    assert raised.value.field == "name" and raised.value.path == "properties.name"


def test_mapping_errors_survive_pickling_for_durable_steps() -> None:
    mapper = Mapper(shipped_mappings()["salesforce_deal"])
    with pytest.raises(MappingError) as raised:
        mapper.values({"Id": "006Z", "Name": "Deal", "Amount": "lots"})
    copy = pickle.loads(pickle.dumps(raised.value))
    assert isinstance(copy, MappingError)
    assert (copy.rule, copy.field, copy.path, copy.value, copy.message) == (
        "invalid_value",
        "amount",
        "Amount",
        "lots",
        raised.value.message,
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "name: x\nversion: 1\nsource: hubspot\nobject: deals\ncanonical: Deal\nfields:\n  colour: c\n",
            "colour",
        ),
        (
            "name: x\nversion: 0\nsource: hubspot\nobject: deals\ncanonical: Deal\nfields: {}\n",
            "version",
        ),
        (
            "name: x\nversion: 1\nsource: hubspot\nobject: deals\ncanonical: Invoice\nfields: {}\n",
            "Invoice",
        ),
        (
            "name: x\nversion: 1\nsource: hubspot\nobject: deals\ncanonical: Deal\nfields:\n  name: {from: a, transform: rot13}\n",
            "rot13",
        ),
        (
            "name: x\nversion: 1\nsource: hubspot\nobject: deals\ncanonical: Deal\nfields:\n  name: {from: a, type: money}\n",
            "money",
        ),
        ("name: x\nversion: 1\nobject: deals\ncanonical: Deal\nfields: {}\n", "source"),
        (
            "name: x\nversion: 1\nsource: hubspot\nobject: deals\ncanonical: Deal\nfields: {}\nextra: 1\n",
            "extra",
        ),
        ("- just\n- a list\n", "must be a YAML mapping"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_invalid_mapping_files_say_what_is_wrong(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(MappingFileError) as raised:
        load_mapping_file(path)
    assert problem in raised.value.message and str(path) in raised.value.message
    assert raised.value.rule in ("mapping_invalid", "mapping_unreadable")


def test_an_unreadable_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(MappingFileError) as raised:
        load_mapping_file(tmp_path / "missing.yaml")
    assert raised.value.rule == "mapping_unreadable" and "missing.yaml" in raised.value.message
