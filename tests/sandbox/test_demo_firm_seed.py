"""Seeding the demo firm into an Odoo: what a real Odoo 18 refused, now done its way.

Runs against a fresh Odoo sandbox, or against a real server when HANDOFF_TEST_ODOO_* are set
(the seed is idempotent, so a database seeded before is fine).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from contract.odoo.conftest import live_or_sandbox_adapter
from handoff.connectors.odoo import OdooAdapter
from handoff_sandbox import demo_firm, odoo_firm


@pytest.fixture(scope="module")
def odoo() -> Iterator[OdooAdapter]:
    with live_or_sandbox_adapter() as adapter:
        yield adapter


@pytest.fixture(scope="module")
def seeded(odoo: OdooAdapter) -> odoo_firm.OdooSeed:
    return odoo_firm.seed_odoo(odoo)


def test_seeding_twice_changes_nothing(odoo: OdooAdapter, seeded: odoo_firm.OdooSeed) -> None:
    assert odoo_firm.seed_odoo(odoo) == seeded
    names = [entity.name for entity in demo_firm.LEGAL_ENTITIES]
    companies = odoo.search_read("res.company", [["name", "in", names]], ["name"])
    assert sorted(row["name"] for row in companies) == sorted(names), "one company each"


def test_every_legal_entity_can_invoice(odoo: OdooAdapter, seeded: odoo_firm.OdooSeed) -> None:
    """A company created over RPC without its localisation gets no chart, hence no sale journal
    (hub_calls_refused_by_real_odoo.json #3): the seed loads one."""
    ids = sorted(seeded.companies.values())
    charts = odoo.read("res.company", ids, ["chart_template"])
    assert all(row["chart_template"] for row in charts), charts
    journals = odoo.search_read(
        "account.journal", [["type", "=", "sale"], ["company_id", "in", ids]], ["company_id"]
    )
    assert {row["company_id"][0] for row in journals} == set(ids)


def test_taxes_use_a_tax_group_of_their_own_country(
    odoo: OdooAdapter, seeded: odoo_firm.OdooSeed
) -> None:
    """Odoo refuses a tax whose group is of another country (tax_group_country_mismatch.json)."""
    ids = sorted(seeded.companies.values())
    taxes = odoo.search_read(
        "account.tax", [["company_id", "in", ids], ["type_tax_use", "=", "sale"]],
        ["country_id", "tax_group_id"],
    )  # fmt: skip
    groups = {
        row["id"]: row["country_id"][0]
        for row in odoo.read(
            "account.tax.group", sorted({t["tax_group_id"][0] for t in taxes}), ["country_id"]
        )
    }
    assert taxes
    assert all(groups[t["tax_group_id"][0]] == t["country_id"][0] for t in taxes)


def test_a_company_created_without_a_partner_gets_one(odoo: OdooAdapter) -> None:
    """res.company.create makes the company's partner itself (it carries the company's country)."""
    [company] = odoo.search_read("res.company", [["name", "=", "Probe Holdings"]], ["id"]) or [
        {"id": odoo.create("res.company", {"name": "Probe Holdings", "currency_id": 1})}
    ]
    [row] = odoo.read("res.company", [company["id"]], ["partner_id"])
    assert row["partner_id"] and row["partner_id"][1] == "Probe Holdings"
