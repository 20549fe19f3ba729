"""Fetch the Odoo partners that could be a given CRM customer, in one ``search_read``.

The search is deliberately wide (any separators inside a tax number, the domain anywhere in the
website or after the ``@`` of the e-mail, the name's normalised words in order with anything
between them) and the matcher is strict: a false candidate costs nothing, a missed one costs a
duplicate partner. Only active companies are fetched.

Calls: one ``search_read`` on ``res.partner``; a second one (identifiers only) when the first was
cut at ``limit``; one ``read`` on ``res.country`` when a candidate's VAT has no country prefix, so
a bare number can still be compared with the customer's prefixed one.

Known limit: Odoo's ``ilike`` does not fold accents (unless the server runs ``unaccent``), so an
accented name in Odoo ("Müller") is found from an unaccented CRM name only through the tax number
or the domain; the reverse direction works (the CRM name's spellings are all searched).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import idna

from handoff.canonical.crm import Customer
from handoff.connectors.odoo import OdooAdapter

from .normalize import (
    company_domains,
    company_name_keys,
    normalize_company_name,
    normalize_registry_number,
    normalize_tax_id,
)

PARTNER_MODEL = "res.partner"
PARTNER_MATCH_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "vat",
    "website",
    "email",
    "company_registry",
    "is_company",
    "parent_id",
    "country_id",
)
DEFAULT_CANDIDATE_LIMIT = 200
_NAME_FILLER = frozenset({"and"})  # "&" in Odoo, "and" once normalised: let the wildcard cover it

Leaf = list[Any]


def _loose(text: str) -> str:
    """An ``=ilike`` pattern matching ``text`` with any separators between its characters."""
    return "%" + "%".join(text) + "%"


def _domain_spellings(domain: str) -> list[str]:
    spellings = [domain]
    try:
        unicode_form = idna.decode(domain)
    except (idna.IDNAError, UnicodeError):
        unicode_form = domain
    if unicode_form != domain:
        spellings.append(unicode_form)
    return spellings


def _name_patterns(name: str) -> list[str]:
    """``=ilike`` patterns for every spelling of the name's core words, accents kept and folded."""
    spellings = set(company_name_keys(name))
    core_words = {word for key in spellings for word in key.split()}
    # The CRM's own accented words ("müller"), so an Odoo name typed with the accent is found too.
    accented = [
        word
        for word in re.split(r"[^\w]+", name.casefold())
        if word and normalize_company_name(word) in core_words and not word.isascii()
    ]
    if accented:
        spellings.add(" ".join(accented))
    patterns = []
    for spelling in sorted(spellings):
        words = [w for w in spelling.split() if w not in _NAME_FILLER]
        if words:
            patterns.append("%" + "%".join(words) + "%")
    return list(dict.fromkeys(patterns))


def candidate_leaves(
    customer: Customer,
    contact_emails: Iterable[str | None] = (),
    *,
    company_registry: str | None = None,
    include_name: bool = True,
) -> list[Leaf]:
    """The OR-ed conditions a partner must meet one of to be a candidate (pure, for tests)."""
    leaves: list[Leaf] = []
    if tax_id := normalize_tax_id(customer.vat, customer.country_code):
        leaves.append(["vat", "=ilike", _loose(tax_id.number)])
    if registry := normalize_registry_number(company_registry):
        leaves.append(["company_registry", "=ilike", _loose(registry)])
    for domain in sorted(company_domains([customer.domain, customer.website, *contact_emails])):
        for spelling in _domain_spellings(domain):
            leaves.append(["website", "=ilike", f"%{spelling}%"])
            leaves.append(["email", "=ilike", f"%@{spelling}%"])
    if include_name:
        leaves.extend(["name", "=ilike", pattern] for pattern in _name_patterns(customer.name))
    return leaves


def candidate_domain(leaves: Sequence[Leaf]) -> list[Any]:
    """Active companies meeting any of ``leaves`` (Odoo prefix notation for the OR)."""
    return [
        ["is_company", "=", True],
        ["active", "=", True],
        *(["|"] * (len(leaves) - 1)),
        *leaves,
    ]


def find_partner_candidates(
    adapter: OdooAdapter,
    customer: Customer,
    contact_emails: Iterable[str | None] = (),
    *,
    company_registry: str | None = None,
    limit: int = DEFAULT_CANDIDATE_LIMIT,
) -> list[dict[str, Any]]:
    """Partners (``PARTNER_MATCH_FIELDS`` plus ``country_code``) that could be ``customer``."""
    emails = list(contact_emails)
    leaves = candidate_leaves(customer, emails, company_registry=company_registry)
    if not leaves:
        return []
    fields = list(PARTNER_MATCH_FIELDS)
    found = adapter.search_read(
        PARTNER_MODEL, candidate_domain(leaves), fields, order="id asc", limit=limit
    )
    if len(found) >= limit:
        # A very common name filled the page: make sure the selective identifiers still get in.
        narrow = candidate_leaves(
            customer, emails, company_registry=company_registry, include_name=False
        )
        if narrow:
            found += adapter.search_read(
                PARTNER_MODEL, candidate_domain(narrow), fields, order="id asc", limit=limit
            )
    unique = {record["id"]: record for record in found}
    records = [unique[key] for key in sorted(unique)]
    _add_country_codes(adapter, records)
    return records


def find_existing_contacts(
    adapter: OdooAdapter, parent_partner_id: int, emails: Iterable[str | None]
) -> dict[str, int]:
    """Contacts already under the company, by lower-cased e-mail (one ``search_read``).

    The flow creates only the contacts missing here, so a replayed deal adds no second "Jane".
    """
    wanted = sorted({email.strip().casefold() for email in emails if email and email.strip()})
    if not wanted:
        return {}
    leaves = [["email", "=ilike", email] for email in wanted]
    domain = [["parent_id", "=", parent_partner_id], *(["|"] * (len(leaves) - 1)), *leaves]
    found: dict[str, int] = {}
    for record in adapter.search_read(PARTNER_MODEL, domain, ["id", "email"], order="id asc"):
        email = (record.get("email") or "").strip().casefold()
        if email in wanted:  # "=ilike" treats "_" as a wildcard: keep exact addresses only
            found.setdefault(email, record["id"])
    return found


def _add_country_codes(adapter: OdooAdapter, records: list[dict[str, Any]]) -> None:
    """``country_code`` for candidates whose VAT is a bare number (one ``read`` for all)."""

    def country_id(record: dict[str, Any]) -> int | None:
        value = record.get("country_id")
        return value[0] if isinstance(value, list | tuple) and value else None

    wanted = {
        cid
        for record in records
        if (tax := normalize_tax_id(record.get("vat") or None))
        and tax.prefix is None
        and (cid := country_id(record))
    }
    codes = {
        row["id"]: row["code"]
        for row in (adapter.read("res.country", sorted(wanted), ["code"]) if wanted else [])
    }
    for record in records:
        record["country_code"] = codes.get(country_id(record) or 0)


__all__ = [
    "DEFAULT_CANDIDATE_LIMIT",
    "PARTNER_MATCH_FIELDS",
    "PARTNER_MODEL",
    "candidate_domain",
    "candidate_leaves",
    "find_existing_contacts",
    "find_partner_candidates",
]
