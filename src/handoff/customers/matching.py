"""Decide which Odoo partner a CRM customer is, before anything is created.

The rules, in order; the first level with any candidate decides:

1. ``binding``: the hub already bound this customer to a partner (the caller looks it up).
2. ``vat`` / ``company_registry``: same tax or registry number.
3. ``domain``: same company e-mail domain or website (free-mail domains never count).
4. ``name``: same normalised name (legal forms, case, accents, punctuation ignored).

Two or more candidates at the deciding level, or evidence that points two ways (the tax number
says A, the domain says B), give ``ambiguous``: the flow raises ``ambiguous_error`` and a person
decides. A candidate whose tax or registry number *differs* from the customer's is a different legal
entity and never matches by domain or name. The result does not depend on the candidates' order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from handoff.canonical.crm import Customer
from handoff.canonical.errors import BusinessRuleError

from .normalize import (
    TaxId,
    company_domains,
    company_name_keys,
    different_tax_ids,
    normalize_registry_number,
    normalize_tax_id,
    same_tax_id,
)

MatchOutcome = Literal["bound", "matched", "new", "ambiguous"]
MatchRule = Literal["binding", "vat", "company_registry", "domain", "name", "conflict", "none"]
Evidence = Literal["vat", "company_registry", "domain", "name"]

AMBIGUOUS_RULE = "customer_match_ambiguous"


class PartnerCandidate(BaseModel):
    """An Odoo ``res.partner`` as read by the finder (Odoo answers ``False`` for empty fields)."""

    model_config = ConfigDict(extra="ignore")

    id: int
    name: str = ""
    vat: str | None = None
    website: str | None = None
    email: str | None = None
    company_registry: str | None = None
    is_company: bool = True
    parent_id: int | None = None
    country_code: str | None = Field(None, description="When the caller knows it: for bare VATs.")

    @classmethod
    def from_odoo(cls, record: Mapping[str, Any]) -> PartnerCandidate:
        values = {key: (None if value is False else value) for key, value in record.items()}
        parent = values.get("parent_id")
        if isinstance(parent, list | tuple):
            values["parent_id"] = parent[0] if parent else None
        values["name"] = values.get("name") or ""
        values["is_company"] = bool(record.get("is_company", True))
        return cls.model_validate(values)


class MatchCandidate(BaseModel):
    """One partner a decision was about, and why it was considered."""

    id: int
    name: str
    evidence: list[Evidence] = Field(default_factory=list)

    def describe(self) -> str:
        why = f" (same {', '.join(self.evidence)})" if self.evidence else ""
        return f"#{self.id} {self.name!r}{why}"


class CustomerMatch(BaseModel):
    outcome: MatchOutcome
    partner_id: int | None = None
    rule: MatchRule
    candidates: list[MatchCandidate] = Field(default_factory=list)
    reason: str


class CustomerIdentity(BaseModel):
    """What a customer is recognised by, normalised once."""

    model_config = ConfigDict(frozen=True)

    label: str
    tax_id: TaxId | None
    registry: str | None
    domains: frozenset[str]
    name_keys: frozenset[str]

    @classmethod
    def of(
        cls,
        customer: Customer,
        contact_emails: Iterable[str | None] = (),
        *,
        company_registry: str | None = None,
    ) -> CustomerIdentity:
        return cls(
            label=f"{customer.source} customer {customer.external_id} {customer.name!r}",
            tax_id=normalize_tax_id(customer.vat, customer.country_code),
            registry=normalize_registry_number(company_registry),
            domains=company_domains([customer.domain, customer.website, *contact_emails]),
            name_keys=company_name_keys(customer.name),
        )


class _Assessment(BaseModel):
    candidate: PartnerCandidate
    evidence: list[Evidence]
    contradicted: bool  # a tax or registry number that differs: another legal entity

    def summary(self) -> MatchCandidate:
        return MatchCandidate(
            id=self.candidate.id, name=self.candidate.name, evidence=self.evidence
        )


def _assess(identity: CustomerIdentity, candidate: PartnerCandidate) -> _Assessment:
    evidence: list[Evidence] = []
    theirs_tax = normalize_tax_id(candidate.vat, candidate.country_code)
    theirs_registry = normalize_registry_number(candidate.company_registry)
    if same_tax_id(identity.tax_id, theirs_tax):
        evidence.append("vat")
    if identity.registry and identity.registry == theirs_registry:
        evidence.append("company_registry")
    if identity.domains & company_domains([candidate.website, candidate.email]):
        evidence.append("domain")
    if identity.name_keys & company_name_keys(candidate.name):
        evidence.append("name")
    contradicted = different_tax_ids(identity.tax_id, theirs_tax) or bool(
        identity.registry and theirs_registry and identity.registry != theirs_registry
    )
    return _Assessment(candidate=candidate, evidence=evidence, contradicted=contradicted)


def _as_candidates(
    partners: Iterable[PartnerCandidate | Mapping[str, Any]],
) -> list[PartnerCandidate]:
    unique: dict[int, PartnerCandidate] = {}
    for partner in partners:
        candidate = (
            partner
            if isinstance(partner, PartnerCandidate)
            else (PartnerCandidate.from_odoo(partner))
        )
        unique.setdefault(candidate.id, candidate)
    return [unique[key] for key in sorted(unique)]  # order-independent from here on


def _names(assessments: Sequence[_Assessment]) -> str:
    return ", ".join(a.summary().describe() for a in assessments)


def match_customer(
    customer: Customer,
    partners: Iterable[PartnerCandidate | Mapping[str, Any]],
    *,
    contact_emails: Iterable[str | None] = (),
    bound_partner_id: int | None = None,
    different_from: Collection[int] = (),
    company_registry: str | None = None,
) -> CustomerMatch:
    """Which partner ``customer`` is: bound, matched (one, certain), new, or ambiguous.

    ``partners`` are Odoo ``res.partner`` dicts (or ``PartnerCandidate``); individuals
    (``is_company`` false, e.g. contact persons) are ignored. ``different_from`` are partner ids a person declared
    to be another company than this customer.
    """
    if bound_partner_id is not None:
        return CustomerMatch(
            outcome="bound",
            partner_id=bound_partner_id,
            rule="binding",
            reason=f"already bound to partner #{bound_partner_id}",
        )
    identity = CustomerIdentity.of(customer, contact_emails, company_registry=company_registry)
    excluded = set(different_from)
    assessed = [
        _assess(identity, candidate)
        for candidate in _as_candidates(partners)
        if candidate.is_company and candidate.id not in excluded
    ]

    by_number = [a for a in assessed if {"vat", "company_registry"} & set(a.evidence)]
    eligible = [a for a in assessed if not a.contradicted]
    by_domain = [a for a in eligible if "domain" in a.evidence]
    by_name = [a for a in eligible if "name" in a.evidence]

    if by_number:
        rule: MatchRule = (
            "vat" if any("vat" in a.evidence for a in by_number) else ("company_registry")
        )
        if len(by_number) > 1:
            return _ambiguous(
                rule,
                by_number,
                f"{len(by_number)} partners have the same tax/registry number: {_names(by_number)}",
            )
        [chosen] = by_number
        if by_domain and chosen.candidate.id not in {a.candidate.id for a in by_domain}:
            both = sorted([chosen, *by_domain], key=lambda a: a.candidate.id)
            return _ambiguous(
                "conflict",
                both,
                (
                    f"the tax/registry number points to {chosen.summary().describe()} but the "
                    f"domain points to {_names(by_domain)}"
                ),
            )
        return _matched(rule, chosen)
    if by_domain:
        if len(by_domain) > 1:
            return _ambiguous(
                "domain",
                by_domain,
                f"{len(by_domain)} partners share the company domain: {_names(by_domain)}",
            )
        return _matched("domain", by_domain[0])
    if by_name:
        if len(by_name) > 1:
            return _ambiguous(
                "name",
                by_name,
                f"{len(by_name)} partners have the same normalised name: {_names(by_name)}",
            )
        return _matched("name", by_name[0])

    others = [a for a in assessed if a.contradicted and a.evidence]
    reason = "no partner with the same tax number, domain or name"
    if others:
        reason += (
            f"; {_names(others)} look alike but have a different tax/registry number, "
            "so they are other legal entities"
        )
    if excluded:
        reason += f"; partners {sorted(excluded)} were marked as different companies"
    return CustomerMatch(outcome="new", rule="none", reason=reason)


def _matched(rule: MatchRule, chosen: _Assessment) -> CustomerMatch:
    return CustomerMatch(
        outcome="matched",
        partner_id=chosen.candidate.id,
        rule=rule,
        candidates=[chosen.summary()],
        reason=f"same {rule.replace('_', ' ')} as {chosen.summary().describe()}",
    )


def _ambiguous(rule: MatchRule, assessments: Sequence[_Assessment], reason: str) -> CustomerMatch:
    return CustomerMatch(
        outcome="ambiguous",
        rule=rule,
        reason=reason,
        candidates=[a.summary() for a in assessments],
    )


def ambiguous_error(match: CustomerMatch, customer: Customer) -> BusinessRuleError:
    """The exception a person reads: which customer, which rule, which partners, what to do."""
    if match.outcome != "ambiguous":
        raise ValueError(f"ambiguous_error needs an ambiguous match, not {match.outcome!r}")
    listed = "; ".join(c.describe() for c in match.candidates)
    ids = [c.id for c in match.candidates]
    first = ids[0] if ids else "PARTNER_ID"
    record = f"{customer.source} customer {customer.external_id} {customer.name!r}"
    message = (
        f"{record} could match more than one Odoo partner (rule: {match.rule}): {match.reason}. "
        f"Candidates: {listed}. Nothing was created, to avoid a duplicate."
    )
    fix = (
        f"If one of them is this customer, bind it: `handoff customers bind {customer.source} "
        f"{customer.external_id} --partner {first}` (use the right id among {ids}). If none is, "
        f"mark them different: `handoff customers mark-different {customer.source} "
        f"{customer.external_id} " + " ".join(f"--partner {i}" for i in ids) + "`. Or correct the "
        "tax number / domain in the CRM or Odoo. Then `handoff exceptions retry <id>`."
    )
    return BusinessRuleError(
        message,
        rule=AMBIGUOUS_RULE,
        value=ids,
        suggested_fix=fix,
        context={
            "source": customer.source,
            "external_id": customer.external_id,
            "customer_name": customer.name,
            "match_rule": match.rule,
            "candidates": [c.model_dump() for c in match.candidates],
        },
    )


__all__ = [
    "AMBIGUOUS_RULE",
    "CustomerIdentity",
    "CustomerMatch",
    "MatchCandidate",
    "PartnerCandidate",
    "ambiguous_error",
    "match_customer",
]
