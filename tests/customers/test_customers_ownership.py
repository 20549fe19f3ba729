"""Field ownership: which partner fields a source may write, and contact values."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.canonical.crm import Contact, Customer
from handoff.canonical.errors import BusinessRuleError
from handoff.config import OwnershipConfig
from handoff.customers.ownership import (
    GROUP_OF_FIELD,
    PARTNER_FIELD_GROUPS,
    contact_values,
    partner_fields_to_read,
    partner_values_to_write,
)

COUNTRIES = {"DE": 57, "US": 233}
STATES = {("US", "CA"): 13, ("US", "California"): 13}


def country_id_of(code: str) -> int | None:
    return COUNTRIES.get(code)


def state_id_of(country: str, state: str) -> int | None:
    return STATES.get((country, state))


def crm_customer(**values: Any) -> Customer:
    defaults: dict[str, Any] = {
        "source": "hubspot",
        "external_id": "901",
        "name": "Globex Corporation",
        "vat": "DE 123 456 789",
        "country_code": "DE",
        "street": "Hauptstr. 1",
        "city": "Berlin",
        "zip": "10115",
        "phone": "+49 30 1234",
        "website": "https://globex.de",
    }
    return Customer(**(defaults | values))


def odoo_partner(**values: Any) -> dict[str, Any]:
    """An existing partner as Odoo reads it: False for empty, [id, name] for many2one."""
    record: dict[str, Any] = {field: False for field in partner_fields_to_read()}
    return record | {"id": 5} | values


def test_every_field_belongs_to_exactly_one_group() -> None:
    fields = [field for group in PARTNER_FIELD_GROUPS.values() for field in group]
    assert len(fields) == len(set(fields)) == len(GROUP_OF_FIELD)
    assert set(PARTNER_FIELD_GROUPS) == {"identity", "address", "contact", "billing"}


def test_new_partner_gets_every_known_value() -> None:
    values = partner_values_to_write(
        crm_customer(), None, OwnershipConfig(), "hubspot", country_id_of=country_id_of
    )
    assert values == {
        "name": "Globex Corporation",
        "vat": "DE123456789",
        "street": "Hauptstr. 1",
        "city": "Berlin",
        "zip": "10115",
        "country_id": 57,
        "phone": "+49 30 1234",
        "website": "https://globex.de",
        "is_company": True,
    }


def test_owner_overwrites_and_non_owner_only_fills_gaps() -> None:
    existing = odoo_partner(
        name="Globex Corp (old)",
        vat="DE123456789",
        city="Hamburg",
        street=False,
        country_id=[57, "Germany"],
        phone="+49 40 999",
    )
    # CRM owns customers, except the address, which Odoo (accounting) owns.
    ownership = OwnershipConfig(customer="hubspot", field_groups={"customer.address": "odoo"})
    values = partner_values_to_write(
        crm_customer(), existing, ownership, "hubspot", country_id_of=country_id_of
    )
    assert values == {
        "name": "Globex Corporation",  # identity: hubspot owns it -> overwritten
        "street": "Hauptstr. 1",  # address owned by odoo, but empty in Odoo -> filled
        "zip": "10115",  # same
        "phone": "+49 30 1234",  # contact group falls back to the domain owner: hubspot
        "website": "https://globex.de",
    }  # city stays Hamburg (odoo owns it); vat and country unchanged -> not written


def test_without_an_owner_nothing_is_overwritten() -> None:
    existing = odoo_partner(name="Globex Corp", phone="+1", website="globex.com")
    values = partner_values_to_write(
        crm_customer(), existing, OwnershipConfig(), "hubspot", country_id_of=country_id_of
    )
    assert "name" not in values and "phone" not in values and "website" not in values
    assert values["vat"] == "DE123456789" and values["country_id"] == 57


def test_other_system_owning_the_domain_blocks_overwrites() -> None:
    existing = odoo_partner(name="Globex Corp")
    ownership = OwnershipConfig(customer="salesforce")
    values = partner_values_to_write(crm_customer(), existing, ownership, "hubspot")
    assert "name" not in values


def test_unchanged_customer_writes_nothing() -> None:
    existing = odoo_partner(
        name="Globex Corporation",
        vat="DE123456789",
        street="Hauptstr. 1",
        city="Berlin",
        zip="10115",
        country_id=[57, "Germany"],
        phone="+49 30 1234",
        website="https://globex.de",
    )
    assert (
        partner_values_to_write(
            crm_customer(),
            existing,
            OwnershipConfig(customer="hubspot"),
            "hubspot",
            country_id_of=country_id_of,
        )
        == {}
    )


def test_blank_in_the_crm_never_erases_odoo() -> None:
    existing = odoo_partner(phone="+49 40 999", city="Hamburg")
    values = partner_values_to_write(
        crm_customer(phone=None, city="  "),
        existing,
        OwnershipConfig(customer="hubspot"),
        "hubspot",
    )
    assert "phone" not in values and "city" not in values


def test_domain_becomes_the_website_when_there_is_none() -> None:
    values = partner_values_to_write(
        crm_customer(website=None, domain="globex.de"), None, OwnershipConfig(), "hubspot"
    )
    assert values["website"] == "https://globex.de"


def test_state_resolution() -> None:
    values = partner_values_to_write(
        crm_customer(country_code="US", vat=None, state="CA"),
        None,
        OwnershipConfig(),
        "hubspot",
        country_id_of=country_id_of,
        state_id_of=state_id_of,
    )
    assert (values["country_id"], values["state_id"]) == (233, 13)


def test_unknown_country_is_a_clear_error() -> None:
    with pytest.raises(BusinessRuleError) as caught:
        partner_values_to_write(
            crm_customer(country_code="XX"),
            None,
            OwnershipConfig(),
            "hubspot",
            country_id_of=country_id_of,
        )
    assert caught.value.rule == "unknown_country" and caught.value.value == "XX"
    assert "hubspot customer 901" in caught.value.message


def test_unknown_state_is_a_clear_error() -> None:
    with pytest.raises(BusinessRuleError) as caught:
        partner_values_to_write(
            crm_customer(country_code="US", state="Atlantis"),
            None,
            OwnershipConfig(),
            "hubspot",
            country_id_of=country_id_of,
            state_id_of=state_id_of,
        )
    assert caught.value.rule == "unknown_state" and "Atlantis" in caught.value.message


def test_contact_values() -> None:
    contact = Contact(
        source="hubspot",
        external_id="c1",
        first_name=" Hank ",
        last_name="Scorpio",
        email="hank@globex.com",
        phone="+1 555",
        job_title="CEO",
    )
    assert contact_values(contact, 5) == {
        "type": "contact",
        "is_company": False,
        "parent_id": 5,
        "name": "Hank Scorpio",
        "email": "hank@globex.com",
        "phone": "+1 555",
        "function": "CEO",
    }


def test_contact_without_a_name_is_named_by_email_or_refused() -> None:
    by_email = Contact(source="hubspot", external_id="c2", email="ap@globex.com")
    assert contact_values(by_email, 5) == {
        "type": "contact",
        "is_company": False,
        "parent_id": 5,
        "name": "ap@globex.com",
        "email": "ap@globex.com",
    }
    with pytest.raises(BusinessRuleError, match="c3 has neither a name nor an e-mail"):
        contact_values(Contact(source="hubspot", external_id="c3"), 5)


def test_the_same_vat_or_website_written_differently_is_not_rewritten() -> None:
    existing = odoo_partner(vat="DE 123 456 789", website="http://globex.de/")
    values = partner_values_to_write(
        crm_customer(), existing, OwnershipConfig(customer="hubspot"), "hubspot"
    )
    assert "vat" not in values and "website" not in values
    changed = partner_values_to_write(
        crm_customer(vat="DE999999999", website="https://globex.com"),
        existing,
        OwnershipConfig(customer="hubspot"),
        "hubspot",
    )
    assert changed["vat"] == "DE999999999" and changed["website"] == "https://globex.com"
