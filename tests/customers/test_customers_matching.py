"""The matcher's decisions: order of rules, ambiguity, conflicts, and the exception a person reads."""

from __future__ import annotations

from typing import Any

import pytest

from handoff.canonical.crm import Customer
from handoff.canonical.errors import BusinessRuleError, ErrorKind
from handoff.customers.matching import (
    AMBIGUOUS_RULE,
    CustomerMatch,
    PartnerCandidate,
    ambiguous_error,
    match_customer,
)


def customer(**values: Any) -> Customer:
    defaults: dict[str, Any] = {"source": "hubspot", "external_id": "901", "name": "GLOBEX corp."}
    return Customer(**(defaults | values))


def partner(id: int, name: str, **values: Any) -> dict[str, Any]:
    """A res.partner as Odoo's search_read answers it: False for empty fields."""
    record: dict[str, Any] = {
        "id": id,
        "name": name,
        "vat": False,
        "website": False,
        "email": False,
        "company_registry": False,
        "is_company": True,
        "parent_id": False,
    }
    return record | values


def ids(match: CustomerMatch) -> list[int]:
    return [c.id for c in match.candidates]


def test_binding_wins_over_everything() -> None:
    match = match_customer(
        customer(vat="DE123456789"), [partner(1, "Globex", vat="DE123456789")], bound_partner_id=77
    )
    assert (match.outcome, match.partner_id, match.rule) == ("bound", 77, "binding")


def test_slightly_different_name_is_matched() -> None:
    match = match_customer(customer(), [partner(5, "Globex Corporation"), partner(6, "Initech")])
    assert (match.outcome, match.partner_id, match.rule) == ("matched", 5, "name")
    assert match.candidates[0].evidence == ["name"]


def test_nothing_alike_is_new() -> None:
    match = match_customer(customer(), [partner(6, "Initech"), partner(7, "Globex Holdings")])
    assert (match.outcome, match.partner_id, match.rule, match.candidates) == (
        "new",
        None,
        "none",
        [],
    )


def test_vat_decides_before_name() -> None:
    match = match_customer(
        customer(name="Globex", vat="123 456 789", country_code="DE"),
        [partner(1, "Globex GmbH"), partner(2, "Umbrella Trading", vat="DE 123.456.789")],
    )
    assert (match.outcome, match.partner_id, match.rule) == ("matched", 2, "vat")


def test_registry_number_matches() -> None:
    match = match_customer(
        customer(name="Globex"),
        [partner(3, "Other name", company_registry="HRB 4711"), partner(4, "Globex Ltd")],
        company_registry="hrb4711",
    )
    assert (match.outcome, match.partner_id, match.rule) == ("matched", 3, "company_registry")


def test_domain_from_contact_emails_and_website() -> None:
    candidates = [
        partner(8, "GX Industries", website="https://www.globex.com/en"),
        partner(9, "Globex Holdings"),
    ]
    by_email = match_customer(
        customer(name="Globex International"), candidates, contact_emails=["hank@GLOBEX.com"]
    )
    by_site = match_customer(
        customer(name="Globex International", website="globex.com"), candidates
    )
    for match in (by_email, by_site):
        assert (match.outcome, match.partner_id, match.rule) == ("matched", 8, "domain")


def test_partner_email_domain_counts() -> None:
    match = match_customer(
        customer(name="X", domain="globex.com"), [partner(8, "Y", email="billing@globex.com")]
    )
    assert (match.outcome, match.partner_id, match.rule) == ("matched", 8, "domain")


def test_free_mail_is_no_evidence() -> None:
    match = match_customer(
        customer(name="Tiny Studio"),
        [partner(8, "Someone else", email="owner@gmail.com")],
        contact_emails=["me@gmail.com"],
    )
    assert match.outcome == "new"


def test_two_candidates_at_the_deciding_level_are_ambiguous() -> None:
    match = match_customer(customer(), [partner(12, "Globex Corp"), partner(11, "GLOBEX, Inc.")])
    assert (match.outcome, match.partner_id, match.rule, ids(match)) == (
        "ambiguous",
        None,
        "name",
        [11, 12],
    )


def test_two_domain_matches_are_ambiguous_even_when_one_name_matches() -> None:
    match = match_customer(
        customer(domain="globex.com"),
        [
            partner(1, "Globex Corp", website="globex.com"),
            partner(2, "Globex Services", email="a@globex.com"),
        ],
    )
    assert (match.outcome, match.rule, ids(match)) == ("ambiguous", "domain", [1, 2])


def test_two_partners_with_the_same_vat_are_ambiguous() -> None:
    match = match_customer(
        customer(vat="DE123456789"),
        [partner(1, "Globex", vat="DE123456789"), partner(2, "Globex (old)", vat="de 123 456 789")],
    )
    assert (match.outcome, match.rule, ids(match)) == ("ambiguous", "vat", [1, 2])


def test_vat_says_a_domain_says_b_is_a_conflict() -> None:
    match = match_customer(
        customer(vat="DE123456789", domain="globex.com"),
        [
            partner(1, "Umbrella", vat="DE123456789"),
            partner(2, "Globex", website="https://globex.com"),
        ],
    )
    assert (match.outcome, match.partner_id, match.rule, ids(match)) == (
        "ambiguous",
        None,
        "conflict",
        [1, 2],
    )
    assert "#1" in match.reason and "#2" in match.reason


def test_vat_and_domain_agreeing_is_a_match() -> None:
    match = match_customer(
        customer(vat="DE123456789", domain="globex.com"),
        [partner(1, "Globex", vat="DE123456789", website="globex.com"), partner(2, "Globex Corp")],
    )
    assert (match.outcome, match.partner_id, match.rule) == ("matched", 1, "vat")
    assert match.candidates[0].evidence == ["vat", "domain", "name"]


def test_different_vat_means_a_different_legal_entity() -> None:
    # Same group, same domain, same name: but Odoo's partner is the German entity.
    match = match_customer(
        customer(name="Globex SAS", vat="FR AB 123456789", domain="globex.com"),
        [partner(1, "Globex GmbH", vat="DE123456789", website="globex.com")],
    )
    assert (match.outcome, match.rule) == ("new", "none")
    assert "#1" in match.reason and "different tax" in match.reason


def test_partners_marked_different_are_left_out() -> None:
    candidates = [partner(11, "Globex Corp"), partner(12, "GLOBEX, Inc.")]
    match = match_customer(customer(), candidates, different_from=[11])
    assert (match.outcome, match.partner_id) == ("matched", 12)
    none_left = match_customer(customer(), candidates, different_from=[11, 12])
    assert none_left.outcome == "new" and "[11, 12]" in none_left.reason


def test_individuals_are_never_candidates() -> None:
    match = match_customer(
        customer(), [partner(3, "Globex Corp", is_company=False, parent_id=[9, "Someone"])]
    )
    assert match.outcome == "new"


def test_company_with_a_parent_company_is_a_candidate() -> None:
    match = match_customer(customer(), [partner(3, "Globex Corp", parent_id=[9, "Globex Group"])])
    assert (match.outcome, match.partner_id) == ("matched", 3)


def test_duplicate_candidate_rows_count_once() -> None:
    match = match_customer(customer(), [partner(5, "Globex Corporation")] * 3)
    assert (match.outcome, match.partner_id) == ("matched", 5)


def test_bare_partner_vat_needs_its_country() -> None:
    bare = partner(4, "Renamed GmbH", vat="123456789")
    crm = customer(name="Globex", vat="DE123456789")
    assert match_customer(crm, [bare]).outcome == "new"
    located = PartnerCandidate.from_odoo(bare | {"country_code": "DE"})
    assert match_customer(crm, [located]).partner_id == 4


def test_ambiguous_error_is_actionable() -> None:
    crm = customer()
    match = match_customer(crm, [partner(12, "Globex Corp"), partner(11, "GLOBEX, Inc.")])
    error = ambiguous_error(match, crm)
    assert isinstance(error, BusinessRuleError) and error.kind is ErrorKind.BUSINESS_RULE
    assert error.rule == AMBIGUOUS_RULE
    assert error.value == [11, 12]
    assert "hubspot customer 901 'GLOBEX corp.'" in error.message
    assert "rule: name" in error.message
    assert "#11 'GLOBEX, Inc.'" in error.message and "#12 'Globex Corp'" in error.message
    assert error.suggested_fix is not None
    assert "handoff customers bind hubspot 901 --partner 11" in error.suggested_fix
    assert "handoff customers mark-different hubspot 901 --partner 11 --partner 12" in (
        error.suggested_fix
    )
    assert error.context["candidates"][0] == {
        "id": 11,
        "name": "GLOBEX, Inc.",
        "evidence": ["name"],
    }


def test_ambiguous_error_refuses_a_decided_match() -> None:
    crm = customer()
    with pytest.raises(ValueError, match="matched"):
        ambiguous_error(match_customer(crm, [partner(5, "Globex")]), crm)
