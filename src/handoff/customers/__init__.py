"""Customer master data without duplicates: normalise, find, match, and decide who writes what.

The deal-to-delivery flow calls, in order: ``find_partner_candidates`` (Odoo), ``match_customer``
(pure), then on ``ambiguous`` raises ``ambiguous_error``; on ``new``/``matched``/``bound`` writes
``partner_values_to_write`` and links the contacts ``find_existing_contacts`` does not find,
with ``contact_values``.
"""

from .finder import (
    PARTNER_MATCH_FIELDS,
    candidate_domain,
    candidate_leaves,
    find_existing_contacts,
    find_partner_candidates,
)
from .matching import (
    AMBIGUOUS_RULE,
    CustomerIdentity,
    CustomerMatch,
    MatchCandidate,
    PartnerCandidate,
    ambiguous_error,
    match_customer,
)
from .normalize import (
    TaxId,
    company_domain,
    company_name_keys,
    email_domain,
    is_free_mail_domain,
    normalize_company_name,
    normalize_domain,
    normalize_registry_number,
    normalize_tax_id,
    same_company_name,
    same_tax_id,
)
from .ownership import (
    PARTNER_FIELD_GROUPS,
    contact_values,
    partner_fields_to_read,
    partner_values_to_write,
)

__all__ = [
    "AMBIGUOUS_RULE",
    "PARTNER_FIELD_GROUPS",
    "PARTNER_MATCH_FIELDS",
    "CustomerIdentity",
    "CustomerMatch",
    "MatchCandidate",
    "PartnerCandidate",
    "TaxId",
    "ambiguous_error",
    "candidate_domain",
    "candidate_leaves",
    "company_domain",
    "company_name_keys",
    "contact_values",
    "email_domain",
    "find_existing_contacts",
    "find_partner_candidates",
    "is_free_mail_domain",
    "match_customer",
    "normalize_company_name",
    "normalize_domain",
    "normalize_registry_number",
    "normalize_tax_id",
    "partner_fields_to_read",
    "partner_values_to_write",
    "same_company_name",
    "same_tax_id",
]
