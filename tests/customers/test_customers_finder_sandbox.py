"""The candidate finder and the matcher over real HTTP against the Odoo sandbox.

Partners are created through the adapter, as the flow creates them; every test uses its own
unique company words so tests sharing the module's sandbox cannot see each other's partners.
"""

from __future__ import annotations

import random
import string
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from handoff.canonical.crm import Contact, Customer
from handoff.canonical.errors import BusinessRuleError
from handoff.config import OwnershipConfig
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.customers import (
    ambiguous_error,
    contact_values,
    find_existing_contacts,
    find_partner_candidates,
    match_customer,
    partner_values_to_write,
)

testing = pytest.importorskip("handoff_sandbox.odoo.testing")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Any]:
    with testing.running_odoo_sandbox() as running:
        yield running


@pytest.fixture(scope="module")
def adapter(sandbox: Any) -> Iterator[OdooAdapter]:
    with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client:
        client.login()
        yield OdooAdapter(client)


@pytest.fixture
def word() -> str:
    """A made-up company word unique to the test ("Globex" would collide across tests)."""
    return "Zy" + "".join(random.choices(string.ascii_lowercase, k=8))


def server_calls(sandbox: Any) -> int:
    return int(httpx.get(f"{sandbox.url}/sandbox/control").json()["calls"])


def crm(name: str, **values: Any) -> Customer:
    return Customer(
        source="hubspot", external_id=values.pop("external_id", "901"), name=name, **values
    )


def company_ids(adapter: OdooAdapter, word: str) -> list[int]:
    found = adapter.search_read(
        "res.partner", [["name", "ilike", word], ["is_company", "=", True]], ["id"]
    )
    return sorted(r["id"] for r in found)


def sync_customer(adapter: OdooAdapter, customer: Customer, emails: list[str] = ()) -> int:
    """What the flow does with these roles: find, match, create only when new."""
    candidates = find_partner_candidates(adapter, customer, emails)
    match = match_customer(customer, candidates, contact_emails=emails)
    if match.outcome == "ambiguous":
        raise ambiguous_error(match, customer)
    if match.partner_id is not None:
        return match.partner_id
    values = partner_values_to_write(customer, None, OwnershipConfig(), customer.source)
    return adapter.create("res.partner", values)


def test_existing_customer_under_a_slightly_different_name_is_matched(
    adapter: OdooAdapter, sandbox: Any, word: str
) -> None:
    existing = adapter.create(
        "res.partner", {"name": f"{word.title()} Corporation", "is_company": True}
    )
    before = server_calls(sandbox)
    candidates = find_partner_candidates(adapter, crm(f"{word.upper()} corp."))
    assert server_calls(sandbox) - before == 1  # one search_read, nothing else
    match = match_customer(crm(f"{word.upper()} corp."), candidates)
    assert (match.outcome, match.partner_id, match.rule) == ("matched", existing, "name")


def test_never_duplicated_across_spellings(adapter: OdooAdapter, word: str) -> None:
    spellings = [
        f"{word.title()} Corporation",
        f"{word.upper()} corp.",
        f"The {word} Corp",
        f"{word}, Inc.",
        f"{word.title()} Incorporated",
    ]
    partner_ids = {
        sync_customer(adapter, crm(name, external_id=str(i))) for i, name in enumerate(spellings)
    }
    assert len(partner_ids) == 1
    assert company_ids(adapter, word) == sorted(partner_ids)


def test_vat_written_with_separators_in_odoo_matches(adapter: OdooAdapter, word: str) -> None:
    number = "".join(random.choices(string.digits, k=9))
    spaced = f"DE {number[:3]} {number[3:6]}.{number[6:]}"
    existing = adapter.create(
        "res.partner", {"name": f"{word} Renamed GmbH", "vat": spaced, "is_company": True}
    )
    customer = crm(f"Totally Different {word}x", vat=number, country_code="DE")
    match = match_customer(customer, find_partner_candidates(adapter, customer))
    assert (match.outcome, match.partner_id, match.rule) == ("matched", existing, "vat")


def test_bare_vat_in_odoo_is_compared_through_the_partner_country(
    adapter: OdooAdapter, sandbox: Any, word: str
) -> None:
    us = adapter.search_read("res.country", [["code", "=", "US"]], ["id"])[0]["id"]
    number = "".join(random.choices(string.digits, k=9))
    existing = adapter.create(
        "res.partner", {"name": f"{word} Labs", "vat": number, "country_id": us, "is_company": True}
    )
    customer = crm(f"Other {word}q", vat=f"US{number}", country_code="US")
    before = server_calls(sandbox)
    candidates = find_partner_candidates(adapter, customer)
    assert server_calls(sandbox) - before == 2  # search_read + one res.country read
    assert [c["country_code"] for c in candidates if c["id"] == existing] == ["US"]
    match = match_customer(customer, candidates)
    assert (match.outcome, match.partner_id, match.rule) == ("matched", existing, "vat")


def test_contact_email_domain_finds_the_website(adapter: OdooAdapter, word: str) -> None:
    existing = adapter.create(
        "res.partner",
        {"name": f"{word} Software", "website": f"https://www.{word}.com/en/", "is_company": True},
    )
    customer = crm("ISW", domain=None)
    emails = [f"bill.lumbergh@{word.upper()}.com", "milton@gmail.com"]
    match = match_customer(
        customer, find_partner_candidates(adapter, customer, emails), contact_emails=emails
    )
    assert (match.outcome, match.partner_id, match.rule) == ("matched", existing, "domain")


def test_partner_email_finds_the_company(adapter: OdooAdapter, word: str) -> None:
    existing = adapter.create(
        "res.partner",
        {"name": "Accounts Payable Dept", "email": f"ap@{word}.de", "is_company": True},
    )
    customer = crm(f"{word} AG", website=f"http://WWW.{word}.de:443/impressum")
    match = match_customer(customer, find_partner_candidates(adapter, customer))
    assert (match.outcome, match.partner_id) == ("matched", existing)


def test_only_active_companies_are_candidates(adapter: OdooAdapter, word: str) -> None:
    company = adapter.create("res.partner", {"name": f"{word} Ltd", "is_company": True})
    adapter.create("res.partner", {"name": f"{word} Limited", "is_company": False})
    archived = adapter.create("res.partner", {"name": f"{word} Inc", "is_company": True})
    adapter.write("res.partner", [archived], {"active": False})
    adapter.create(
        "res.partner",
        {"name": f"Jane at {word}", "parent_id": company, "email": f"jane@{word}.com"},
    )
    found = find_partner_candidates(adapter, crm(word, domain=f"{word}.com"))
    assert [record["id"] for record in found] == [company]


def test_umlaut_name_in_the_crm_finds_both_spellings(adapter: OdooAdapter, word: str) -> None:
    german = adapter.create("res.partner", {"name": f"Mueller {word} GmbH", "is_company": True})
    customer = crm(f"Müller {word}")
    match = match_customer(customer, find_partner_candidates(adapter, customer))
    assert (match.outcome, match.partner_id) == ("matched", german)
    plain = adapter.create("res.partner", {"name": f"Muller {word} SARL", "is_company": True})
    match = match_customer(customer, find_partner_candidates(adapter, customer))
    assert match.outcome == "ambiguous" and [c.id for c in match.candidates] == [german, plain]


def test_two_lookalikes_become_an_exception_not_a_guess(adapter: OdooAdapter, word: str) -> None:
    first = adapter.create("res.partner", {"name": f"{word} Corp", "is_company": True})
    second = adapter.create(
        "res.partner", {"name": f"{word.upper()} Corporation", "is_company": True}
    )
    with pytest.raises(BusinessRuleError) as caught:
        sync_customer(adapter, crm(f"{word} Inc."))
    assert caught.value.value == [first, second]
    assert f"--partner {first} --partner {second}" in (caught.value.suggested_fix or "")
    assert company_ids(adapter, word) == [first, second]  # nothing was created


def test_a_page_full_of_names_still_lets_the_vat_match_in(adapter: OdooAdapter, word: str) -> None:
    for suffix in ("Ltd", "Inc", "GmbH"):
        adapter.create("res.partner", {"name": f"{word} {suffix}", "is_company": True})
    number = "".join(random.choices(string.digits, k=9))
    by_vat = adapter.create(
        "res.partner", {"name": f"Renamed {word}q", "vat": f"FR00{number}", "is_company": True}
    )
    customer = crm(word, vat=f"FR 00 {number}")
    candidates = find_partner_candidates(adapter, customer, limit=2)
    assert by_vat in {record["id"] for record in candidates}
    match = match_customer(customer, candidates)
    assert (match.outcome, match.partner_id, match.rule) == ("matched", by_vat, "vat")


def test_contacts_are_linked_once_to_their_company(adapter: OdooAdapter, word: str) -> None:
    company = sync_customer(adapter, crm(f"{word} GmbH"))
    people = [
        Contact(
            source="hubspot",
            external_id="c1",
            first_name="Jane",
            last_name="Doe",
            email=f"Jane.Doe@{word}.com",
            job_title="CFO",
        ),
        Contact(source="hubspot", external_id="c2", first_name="Jo", email=f"jo_x@{word}.com"),
    ]
    for _replay in range(2):
        existing = find_existing_contacts(adapter, company, [p.email for p in people])
        missing = [p for p in people if (p.email or "").casefold() not in existing]
        adapter.create_many("res.partner", [contact_values(p, company) for p in missing])
    # "jo_x" must not be taken for "joXx": "=ilike" wildcards are filtered out.
    adapter.create(
        "res.partner", {"name": "Other", "parent_id": company, "email": f"joYx@{word}.com"}
    )
    children = adapter.search_read(
        "res.partner",
        [["parent_id", "=", company]],
        ["name", "email", "function", "type", "commercial_partner_id"],
    )
    assert sorted((c["name"], c["email"]) for c in children) == [
        ("Jane Doe", f"Jane.Doe@{word}.com"),
        ("Jo", f"jo_x@{word}.com"),
        ("Other", f"joYx@{word}.com"),
    ]
    assert {c["commercial_partner_id"][0] for c in children} == {company}
    found = find_existing_contacts(adapter, company, [f"JO_X@{word}.com", None, ""])
    assert list(found) == [f"jo_x@{word}.com".casefold()]
