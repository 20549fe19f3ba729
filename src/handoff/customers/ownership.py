"""Which system may write which partner field, and the values a customer update may send.

Partner fields are grouped (``PARTNER_FIELD_GROUPS``); ``ownership`` in the configuration names the
system of record per domain (``customer``) and, where a firm splits it, per group
(``field_groups: {customer.billing: odoo}``). A source writes a field when it owns the field's
group, or when Odoo has nothing there yet. With no owner configured the source only fills gaps:
the hub never overwrites data nobody said it may overwrite.

A value the source does not have (``None``) is never written: a blank in the CRM does not erase
what Odoo knows. Only fields whose value would change are returned, so an unchanged customer
produces ``{}`` and no write.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from handoff.canonical.crm import Contact, Customer
from handoff.canonical.errors import BusinessRuleError
from handoff.config import CustomerFieldGroup, OwnershipConfig

from .normalize import normalize_tax_id

CUSTOMER_DOMAIN: Literal["customer"] = "customer"

# Declarative: group -> the res.partner fields it covers (field names as in Odoo 18's fields_get).
PARTNER_FIELD_GROUPS: dict[CustomerFieldGroup, tuple[str, ...]] = {
    "identity": ("name", "vat", "company_registry"),
    "address": ("street", "street2", "city", "zip", "state_id", "country_id"),
    "contact": ("phone", "mobile", "email", "website"),
    "billing": (
        "property_payment_term_id",
        "property_account_position_id",
        "property_product_pricelist",
    ),
}
GROUP_OF_FIELD: dict[str, str] = {
    field: group for group, fields in PARTNER_FIELD_GROUPS.items() for field in fields
}

CountryResolver = Callable[[str], int | None]
StateResolver = Callable[[str, str], int | None]  # (country code, state name or code) -> id


class CustomerFieldMap(BaseModel):
    """One canonical ``Customer`` attribute feeding one ``res.partner`` field."""

    model_config = ConfigDict(frozen=True)

    partner_field: str
    customer_attribute: str
    kind: Literal["text", "vat", "website", "country", "state"] = "text"


# Declarative: where each partner field comes from in the canonical customer.
CUSTOMER_TO_PARTNER: tuple[CustomerFieldMap, ...] = (
    CustomerFieldMap(partner_field="name", customer_attribute="name"),
    CustomerFieldMap(partner_field="vat", customer_attribute="vat", kind="vat"),
    CustomerFieldMap(partner_field="street", customer_attribute="street"),
    CustomerFieldMap(partner_field="city", customer_attribute="city"),
    CustomerFieldMap(partner_field="zip", customer_attribute="zip"),
    CustomerFieldMap(partner_field="country_id", customer_attribute="country_code", kind="country"),
    CustomerFieldMap(partner_field="state_id", customer_attribute="state", kind="state"),
    CustomerFieldMap(partner_field="phone", customer_attribute="phone"),
    CustomerFieldMap(partner_field="website", customer_attribute="website", kind="website"),
)

PARTNER_FIELDS_TO_READ: tuple[str, ...] = ("id", *GROUP_OF_FIELD)


def partner_fields_to_read() -> list[str]:
    """The fields ``existing_partner`` must carry for ``partner_values_to_write``."""
    return list(PARTNER_FIELDS_TO_READ)


def _is_empty(value: Any) -> bool:
    return value is None or value is False or value == "" or value == []


def _comparable(value: Any) -> Any:
    """Odoo reads many2one as ``[id, name]``; values to write are plain ids."""
    if isinstance(value, list | tuple) and len(value) == 2 and isinstance(value[0], int):
        return value[0]
    return None if value is False else value


def _same_value(kind: str, existing: Any, new: Any) -> bool:
    """Whether Odoo already holds ``new``; a VAT or website written differently is the same."""
    current = _comparable(existing)
    if current == new:
        return True
    if not isinstance(current, str) or not isinstance(new, str):
        return False
    if kind == "vat":
        return normalize_tax_id(current) == normalize_tax_id(new) is not None
    if kind == "website":
        return _bare_url(current) == _bare_url(new)
    return False


def _bare_url(url: str) -> str:
    """``HTTPS://globex.de/`` and ``globex.de`` are the same website; other paths are not."""
    text = url.strip().rstrip("/").lower()
    return text.removeprefix("https://").removeprefix("http://")


def _customer_value(
    rule: CustomerFieldMap,
    customer: Customer,
    country_id_of: CountryResolver | None,
    state_id_of: StateResolver | None,
) -> Any:
    raw = getattr(customer, rule.customer_attribute)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if rule.kind == "website" and customer.domain:
            return f"https://{customer.domain.strip()}"
        return None
    if isinstance(raw, str):
        raw = raw.strip()
    record = f"{customer.source} customer {customer.external_id} {customer.name!r}"
    if rule.kind == "vat":
        tax_id = normalize_tax_id(raw, customer.country_code)
        return str(tax_id) if tax_id else raw
    if rule.kind == "country":
        if country_id_of is None:
            return None
        found = country_id_of(raw.upper())
        if found is None:
            raise BusinessRuleError(
                f"{record}: country code {raw!r} is not a country in Odoo",
                rule="unknown_country",
                value=raw,
                suggested_fix="Set an ISO 3166-1 alpha-2 country code on the customer in the CRM.",
            )
        return found
    if rule.kind == "state":
        if state_id_of is None or not customer.country_code:
            return None
        found = state_id_of(customer.country_code.upper(), raw)
        if found is None:
            raise BusinessRuleError(
                f"{record}: state {raw!r} is not a state of {customer.country_code} in Odoo",
                rule="unknown_state",
                value=raw,
                suggested_fix="Use the state's name or code as Odoo knows it, or clear it in "
                "the CRM.",
            )
        return found
    return raw


def source_may_write(
    field: str,
    existing_partner: Mapping[str, Any] | None,
    ownership: OwnershipConfig,
    source_system: str,
) -> bool:
    """True when ``source_system`` owns the field's group, or Odoo has no value for it yet."""
    if existing_partner is None or _is_empty(existing_partner.get(field)):
        return True
    group = GROUP_OF_FIELD.get(field)
    if group is None:
        return False
    return ownership.customer_owner(group) == source_system


def partner_values_to_write(
    customer: Customer,
    existing_partner: Mapping[str, Any] | None,
    ownership: OwnershipConfig,
    source_system: str,
    *,
    country_id_of: CountryResolver | None = None,
    state_id_of: StateResolver | None = None,
) -> dict[str, Any]:
    """``res.partner`` values for creating (``existing_partner=None``) or updating a company.

    Without ``country_id_of`` the country is left alone; an unknown country or state raises a
    ``BusinessRuleError`` naming the value (nothing is half-written).
    """
    values: dict[str, Any] = {}
    for rule in CUSTOMER_TO_PARTNER:
        value = _customer_value(rule, customer, country_id_of, state_id_of)
        if value is None:
            continue
        if not source_may_write(rule.partner_field, existing_partner, ownership, source_system):
            continue
        if existing_partner is not None and _same_value(
            rule.kind, existing_partner.get(rule.partner_field), value
        ):
            continue
        values[rule.partner_field] = value
    if existing_partner is None:
        values["is_company"] = True
    return values


def contact_values(contact: Contact, parent_partner_id: int) -> dict[str, Any]:
    """``res.partner`` values for a contact person linked to their company."""
    name = " ".join(
        part.strip() for part in (contact.first_name, contact.last_name) if part and part.strip()
    )
    if not name and contact.email:
        name = contact.email.strip()
    if not name:
        raise BusinessRuleError(
            f"{contact.source} contact {contact.external_id} has neither a name nor an e-mail "
            "address; Odoo requires a name for a contact",
            rule="contact_without_name",
            value=contact.external_id,
            suggested_fix="Add a first or last name (or an e-mail) to the contact in the CRM.",
        )
    values: dict[str, Any] = {
        "type": "contact",
        "is_company": False,
        "parent_id": parent_partner_id,
        "name": name,
        "email": contact.email.strip() if contact.email else None,
        "phone": contact.phone,
        "function": contact.job_title,
    }
    return {key: value for key, value in values.items() if value not in (None, "")}


__all__ = [
    "CUSTOMER_TO_PARTNER",
    "GROUP_OF_FIELD",
    "PARTNER_FIELD_GROUPS",
    "CountryResolver",
    "CustomerFieldMap",
    "StateResolver",
    "contact_values",
    "partner_fields_to_read",
    "partner_values_to_write",
    "source_may_write",
]
