"""The shared mapping engine: paths, types, maps, transforms, defaults, constants, lines, hooks."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from handoff.canonical.crm import BillingModel, Deal, DealLine, DealMilestone
from handoff.mapping import (
    Mapper,
    MappingError,
    hooks_for,
    parse_mapping,
    register_hook,
    shipped_mappings,
)


def spec(fields: dict[str, Any], **extra: Any) -> Any:
    return parse_mapping(
        {
            "name": "test_deal",
            "version": 1,
            "source": "testcrm",
            "object": "deal",
            "canonical": "Deal",
            "constants": {"source": "testcrm"},
            "fields": {
                "external_id": {"from": "id", "type": "str", "required": True},
                "name": "title",
                **fields,
            },
            **extra,
        }
    )


def test_rules_read_paths_convert_types_and_keep_money_exact() -> None:
    mapper = Mapper(
        spec(
            {
                "amount": {"from": "money.total", "type": "decimal"},
                "close_date": {"from": "closes", "type": "date"},
                "updated_at": {"from": "modified", "type": "datetime"},
                "is_won": {"from": "won", "type": "bool"},
                "currency": {"from": "currency", "transform": "upper"},
                "owner_id": {"from": "owner", "type": "str"},
            }
        )
    )
    deal = mapper.to_canonical(
        {
            "id": 7,
            "title": "Rollout",
            "money": {"total": 0.1},  # a float from JSON: must not become 0.1000000000000000055…
            "closes": "2026-03-31T23:30:00+02:00",
            "modified": "1767225600000",  # epoch milliseconds, as HubSpot sends some datetimes
            "won": "true",
            "currency": " eur ",
            "owner": 42,
        }
    )
    assert isinstance(deal, Deal)
    assert deal.external_id == "7" and deal.source == "testcrm"
    assert deal.amount == Decimal("0.1") and deal.currency == "EUR" and deal.owner_id == "42"
    assert deal.close_date == date(2026, 3, 31)
    assert deal.updated_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert deal.is_won is True


def test_empty_values_take_defaults_and_unmapped_fields_keep_model_defaults() -> None:
    mapper = Mapper(
        spec(
            {
                "is_closed": {"from": "closed", "type": "bool", "default": False},
                "stage": {"from": "stage", "default": "new"},
                "amount": {"from": "amount", "type": "decimal"},
            }
        )
    )
    deal = mapper.to_canonical({"id": "1", "title": "x", "stage": "", "amount": None})
    assert deal.stage == "new" and deal.is_closed is False and deal.amount is None
    assert deal.lines == [] and deal.milestones == []


def test_map_translates_source_codes_and_refuses_unknown_ones() -> None:
    shipped = shipped_mappings()["salesforce_deal"]
    mapper = Mapper(shipped)
    base = {"Id": "006A", "Name": "Deal"}
    for code, model in [
        ("Time and Materials", BillingModel.TIME_AND_MATERIALS),
        ("Fixed Fee", BillingModel.FIXED_FEE),
        ("Milestone", BillingModel.MILESTONE),
        ("Retainer", BillingModel.RETAINER),
    ]:
        deal = mapper.to_canonical({**base, "Handoff_Contract_Type__c": code})
        assert deal.billing_model is model
    assert mapper.to_canonical(base).billing_model is None
    with pytest.raises(MappingError) as unknown:
        mapper.to_canonical({**base, "Handoff_Contract_Type__c": "Subscription"})
    assert unknown.value.rule == "invalid_value" and unknown.value.value == "Subscription"
    assert "'Retainer'" in unknown.value.message  # lists what it accepts


def test_milestones_transform_parses_the_json_plan() -> None:
    mapper = Mapper(shipped_mappings()["hubspot_deal"], run_hooks=False)
    values = mapper.values(
        {
            "id": "9",
            "properties": {
                "dealname": "Portal",
                "handoff_contract_type": "milestone",
                "handoff_milestones": '[{"name": "Design", "percentage": 30, "due_date": "2026-02-01"},'
                ' {"name": "Go-live", "amount": "7000.50"}]',
            },
        }
    )
    assert values["billing_model"] == "milestone"
    assert values["milestones"] == [
        DealMilestone(name="Design", percentage=Decimal(30), due_date=date(2026, 2, 1)),
        DealMilestone(name="Go-live", amount=Decimal("7000.50")),
    ]


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not a valid json"),
        ('{"name": "x"}', "must be a JSON list"),
        ('[{"name": "Design"}]', "neither amount nor percentage"),
        ('[{"name": "Design", "percentage": 130}]', "percentage"),
        ('[{"amount": 5}]', "name"),
    ],
)
def test_bad_milestones_are_mapping_errors(raw: str, reason: str) -> None:
    mapper = Mapper(shipped_mappings()["hubspot_deal"], run_hooks=False)
    with pytest.raises(MappingError) as error:
        mapper.values({"id": "9", "properties": {"dealname": "P", "handoff_milestones": raw}})
    assert error.value.field == "milestones" and error.value.path == "properties.handoff_milestones"
    assert reason in error.value.message and error.value.value == raw


def test_country_code_transform_takes_codes_and_common_names() -> None:
    mapper = Mapper(shipped_mappings()["salesforce_customer"])
    codes = [
        mapper.to_canonical({"Id": "001", "Name": "A", "BillingCountry": country}).country_code
        for country in ("Switzerland", "de", "The Netherlands", "Atlantis")
    ]
    assert codes == ["CH", "DE", "NL", None]


def test_lines_are_mapped_with_the_named_line_mapping() -> None:
    specs = shipped_mappings()
    deal = Mapper(specs["salesforce_deal"], specs).to_canonical(
        {
            "Id": "006A",
            "Name": "Deal",
            "OpportunityLineItems": [
                {"Id": "00k1", "Name": "Workshop", "Quantity": 2.0, "UnitPrice": 4500.0},
                {"Id": "00k2", "Name": "Day", "Quantity": None, "TotalPrice": 950.0},
            ],
        }
    )
    assert deal.lines == [
        DealLine(
            external_id="00k1", name="Workshop", quantity=Decimal(2), unit_price=Decimal(4500)
        ),
        DealLine(external_id="00k2", name="Day", quantity=Decimal(1), amount=Decimal(950)),
    ]


def test_hooks_are_registered_per_source_and_declare_what_they_read() -> None:
    def region(record: dict[str, Any], values: dict[str, Any], context: Any) -> None:
        values["state"] = f"{record['geo']['region']}/{context}"

    register_hook("testcrm", "region", region, reads=("geo.region",))
    assert "region" in hooks_for("testcrm") and "region" not in hooks_for("salesforce")
    with_hook = spec({}, hooks=["region"])
    assert with_hook.source_paths() == ["id", "title", "geo.region"]
    assert (
        Mapper(with_hook).values({"id": "1", "title": "t", "geo": {"region": "EU"}}, "ctx")["state"]
        == "EU/ctx"
    )
    with pytest.raises(ValueError, match="unknown hook"):
        spec({}, hooks=["pipeline_stage"])  # HubSpot's hook is not testcrm's


def test_hubspot_requests_only_the_properties_its_mapping_reads() -> None:
    deal = shipped_mappings()["hubspot_deal"]
    properties = deal.properties()
    assert {"dealname", "handoff_contract_type", "handoff_milestones"} <= set(properties)
    assert {"pipeline", "dealstage"} <= set(properties)  # read by the pipeline_stage hook
    assert len(properties) == len(set(properties))
