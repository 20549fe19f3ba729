"""`handoff mappings show|diff` through the real `handoff` app."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from handoff.cli.main import app
from handoff.config import CONFIG_ENV_VAR
from handoff.mapping import SHIPPED_MAPPINGS

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_ambient_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(CONFIG_ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)


def write_override(tmp_path: Path, name: str, edit: dict[str, str]) -> Path:
    text = (SHIPPED_MAPPINGS / f"{name}.yaml").read_text()
    for old, new in edit.items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    return path


def test_show_lists_every_effective_mapping() -> None:
    result = runner.invoke(app, ["mappings", "show"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 8
    deal = next(line for line in lines if line.startswith("salesforce_deal "))
    assert "v3" in deal and "Opportunity -> Deal" in deal and "[default:" in deal


def test_show_one_mapping_field_by_field() -> None:
    result = runner.invoke(app, ["mappings", "show", "hubspot_deal"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines()[0] == "hubspot_deal v1: hubspot deals -> Deal"
    assert f"file: shipped default {SHIPPED_MAPPINGS / 'hubspot_deal.yaml'}" in out
    assert re.search(r"^  name +<- properties\.dealname  \(strip, required\)$", out, re.M)
    assert re.search(
        r"^  milestones +<- properties\.handoff_milestones  \(as json, milestones\)$", out, re.M
    )
    assert re.search(r"^  source +\= 'hubspot' \(constant\)$", out, re.M)
    assert "  hook: pipeline_stage" in out
    assert re.search(r"^  lines +<- line_items via hubspot_line_item$", out, re.M)


def test_show_marks_overrides_and_stale_versions(tmp_path: Path) -> None:
    override = write_override(tmp_path, "salesforce_deal", {"version: 3": "version: 1"})
    config = tmp_path / "handoff.yaml"
    config.write_text(f"mappings:\n  salesforce_deal: {override.name}\n")
    result = runner.invoke(app, ["mappings", "show", "salesforce_deal", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert f"file: overridden by {override} (shipped default is v3)" in result.output
    assert "WARNING: the override predates the shipped version" in result.output
    as_json = runner.invoke(
        app, ["mappings", "show", "salesforce_deal", "-c", str(config), "--json"]
    )
    shown = json.loads(as_json.output)[0]
    assert shown["overridden"] is True and shown["version"] == 1 and shown["shipped_version"] == 3
    assert {"field": "close_date", "from": "CloseDate", "type": "date", "map": None,
            "transform": None, "default": None, "required": False} in shown["fields"]  # fmt: skip


def test_show_unknown_name_and_bad_override_fail_clearly(tmp_path: Path) -> None:
    unknown = runner.invoke(app, ["mappings", "show", "odoo_invoice"])
    assert unknown.exit_code == 1 and "no mapping named 'odoo_invoice'" in unknown.output
    config = tmp_path / "handoff.yaml"
    config.write_text("mappings:\n  hubspot_deal: missing.yaml\n")
    broken = runner.invoke(app, ["mappings", "show", "-c", str(config)])
    assert broken.exit_code == 1
    assert "missing.yaml" in broken.output


def test_diff_lists_rule_and_version_changes(tmp_path: Path) -> None:
    changed = write_override(
        tmp_path,
        "salesforce_deal",
        {
            "version: 3": "version: 4",
            "  stage_label: StageName\n": "",
            "  owner_id: OwnerId\n": "  owner_id: OwnerId\n  currency: {from: CurrencyIsoCode, default: EUR}\n",
            "amount: {from: Amount, type: decimal}": "amount: {from: ExpectedRevenue, type: decimal}",
        },
    )
    result = runner.invoke(app, ["mappings", "diff", str(changed)])
    assert result.exit_code == 0, result.output
    lines = [line.strip() for line in result.output.splitlines()]
    assert lines[0].endswith(
        "against salesforce_deal v3 [default: "
        + str(SHIPPED_MAPPINGS / "salesforce_deal.yaml")
        + "]"
    )
    assert lines[1:] == [
        "version 3 -> 4",
        "changed amount <- Amount (as decimal)  =>  amount <- ExpectedRevenue (as decimal)",
        "removed stage_label <- StageName",
        "added currency <- CurrencyIsoCode (default 'EUR')",
    ]


def test_diff_with_a_sample_shows_the_canonical_record_before_and_after(tmp_path: Path) -> None:
    changed = write_override(
        tmp_path,
        "salesforce_deal",
        {
            "  legal_entity: Handoff_Legal_Entity__c\n": "  legal_entity: {from: Handoff_Legal_Entity__c, transform: upper}\n"
        },
    )
    sample = tmp_path / "opportunity.json"
    sample.write_text(
        json.dumps(
            {
                "Id": "006A",
                "Name": "Portal",
                "Amount": 1200.5,
                "Handoff_Contract_Type__c": "Retainer",
                "Handoff_Legal_Entity__c": "Handoff Demo B.V.",
            }
        )
    )
    result = runner.invoke(app, ["mappings", "diff", str(changed), "--sample", str(sample)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "version stays 3 although the mapping changed: bump it" in out
    assert (
        '"legal_entity": "Handoff Demo B.V."' in out
        and '"legal_entity": "HANDOFF DEMO B.V."' in out
    )
    assert '"billing_model": "retainer"' in out and '"amount": "1200.5"' in out
    assert 'legal_entity: "Handoff Demo B.V." -> "HANDOFF DEMO B.V."' in out


def test_diff_sample_of_a_hubspot_deal_runs_rules_without_live_pipelines(tmp_path: Path) -> None:
    changed = write_override(tmp_path, "hubspot_deal", {"version: 1": "version: 2"})
    sample = tmp_path / "deal.json"
    sample.write_text(json.dumps({"id": "9", "properties": {"dealname": "X", "amount": "lots"}}))
    result = runner.invoke(app, ["mappings", "diff", str(changed), "--sample", str(sample)])
    assert result.exit_code == 0, result.output
    assert (
        "before: ERROR hubspot_deal v1: HubSpot deals 9: amount from properties.amount: 'lots' is not a valid decimal"
        in result.output
    )
    sample.write_text(
        json.dumps({"id": "9", "properties": {"dealname": "X", "dealstage": "closedwon"}})
    )
    preview = runner.invoke(
        app,
        ["mappings", "diff", str(changed), "--against", "hubspot_deal", "--sample", str(sample)],
    )
    assert "note: code hooks not run (pipelines_unavailable" in preview.output
    assert '"stage": "closedwon"' in preview.output and "changed: none" in preview.output


def test_diff_refuses_files_it_cannot_place(tmp_path: Path) -> None:
    nameless = tmp_path / "x.yaml"
    nameless.write_text("version: 1\nobject: deals\ncanonical: Deal\nfields: {}\n")
    result = runner.invoke(app, ["mappings", "diff", str(nameless)])
    assert result.exit_code == 1 and "has no `name`: pass --against NAME" in result.output
    other_shape = runner.invoke(
        app, ["mappings", "diff", str(nameless), "--against", "hubspot_contact"]
    )
    assert other_shape.exit_code == 1 and "canonical 'Deal'" in other_shape.output
    bad_sample = tmp_path / "s.json"
    bad_sample.write_text("[1, 2]")
    shipped = SHIPPED_MAPPINGS / "hubspot_contact.yaml"
    refused = runner.invoke(app, ["mappings", "diff", str(shipped), "--sample", str(bad_sample)])
    assert refused.exit_code == 1 and "must hold a source record" in refused.output
