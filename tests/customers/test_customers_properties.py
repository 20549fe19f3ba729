"""Properties: normalisation is idempotent, matching does not depend on the candidates' order."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from handoff.canonical.crm import Customer
from handoff.customers.matching import match_customer
from handoff.customers.normalize import (
    company_name_keys,
    normalize_company_name,
    normalize_domain,
    normalize_registry_number,
    normalize_tax_id,
)

# Names built from pieces real names are made of, plus arbitrary text.
NAME_PARTS = [
    "Acme",
    "Globex",
    "the",
    "The",
    "&",
    "and",
    "Co.",
    "Inc",
    "GmbH",
    "S.A.",
    "A/S",
    "Müller",
    "Société",
    "ß",
    "Ltd",
    "Pty",
    "Sp. z o.o.",
    ",",
    "-",
    "O'Brien",
    "  ",
]
names = st.one_of(
    st.text(max_size=40), st.lists(st.sampled_from(NAME_PARTS), max_size=6).map(" ".join)
)


@given(names)
def test_name_normalisation_is_idempotent(name: str) -> None:
    once = normalize_company_name(name)
    assert normalize_company_name(once) == once
    for key in company_name_keys(name):
        assert normalize_company_name(key) == key


@given(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(
            r"(https?://)?(www\.)?[a-zA-Zäü]{1,8}\.(com|de)(:\d{2,4})?(/[a-z]*)?", fullmatch=True
        ),
    )
)
def test_domain_normalisation_is_idempotent(value: str) -> None:
    once = normalize_domain(value)
    if once is not None:
        assert normalize_domain(once) == once


@given(st.text(max_size=24), st.sampled_from([None, "DE", "GR", "CH", "FR"]))
def test_tax_id_normalisation_is_idempotent(value: str, country: str | None) -> None:
    once = normalize_tax_id(value, country)
    if once is not None:
        assert normalize_tax_id(str(once), country) == once
    registry = normalize_registry_number(value)
    if registry is not None:
        assert normalize_registry_number(registry) == registry


CANDIDATE_NAMES = ["Globex Corporation", "GLOBEX, Inc.", "Globex Holdings", "Initech", "Umbrella"]
VATS = [False, "DE123456789", "DE 999 999 999", "123456789"]
SITES = [False, "https://globex.com", "www.initech.com", "globex.com/about"]


@st.composite
def candidate_lists(draw: st.DrawFn) -> list[dict[str, Any]]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [
        {
            "id": number + 1,
            "name": draw(st.sampled_from(CANDIDATE_NAMES)),
            "vat": draw(st.sampled_from(VATS)),
            "website": draw(st.sampled_from(SITES)),
            "email": False,
            "company_registry": False,
            "is_company": draw(st.booleans()),
            "parent_id": False,
        }
        for number in range(count)
    ]


@settings(max_examples=200)
@given(
    candidate_lists(),
    st.randoms(use_true_random=False),
    st.sampled_from([None, "DE123456789", "123456789"]),
    st.sampled_from([None, "globex.com"]),
)
def test_matching_is_symmetric_in_candidate_order(
    candidates: list[dict[str, Any]], random: Any, vat: str | None, domain: str | None
) -> None:
    crm = Customer(
        source="hubspot",
        external_id="1",
        name="Globex corp.",
        vat=vat,
        country_code="DE",
        domain=domain,
    )
    shuffled = list(candidates)
    random.shuffle(shuffled)
    assert match_customer(crm, shuffled) == match_customer(crm, candidates)
