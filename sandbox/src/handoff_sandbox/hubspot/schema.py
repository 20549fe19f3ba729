"""What the HubSpot sandbox knows about CRM objects: type ids, built-in properties, associations.

Values follow HubSpot's public CRM v3/v4 reference (see shared/crm-apis.md). Everything a real
account lets an admin change (custom properties, pipelines) lives in the sandbox database instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Object type name -> HubSpot object type id. Paths accept either form.
OBJECT_TYPE_IDS: dict[str, str] = {
    "contacts": "0-1",
    "companies": "0-2",
    "deals": "0-3",
    "products": "0-7",
    "line_items": "0-8",
}
OBJECT_TYPE_BY_ID = {type_id: name for name, type_id in OBJECT_TYPE_IDS.items()}
# Singular names as they appear in webhook subscription types (deal.creation, ...).
SINGULAR = {
    "contacts": "contact",
    "companies": "company",
    "deals": "deal",
    "products": "product",
    "line_items": "line_item",
}
# Upper-case names used in HubSpot's error messages ("Could not get some DEAL objects").
ERROR_NAME = {
    "contacts": "CONTACT",
    "companies": "COMPANY",
    "deals": "DEAL",
    "products": "PRODUCT",
    "line_items": "LINE_ITEM",
}

# The last-modified property differs per object: contacts still use the legacy name.
LAST_MODIFIED_PROPERTY = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "products": "hs_lastmodifieddate",
    "line_items": "hs_lastmodifieddate",
}
CREATED_PROPERTY = {
    "contacts": "createdate",
    "companies": "createdate",
    "deals": "createdate",
    "products": "createdate",
    "line_items": "createdate",
}


@dataclass(frozen=True)
class PropertyDefinition:
    name: str
    label: str
    type: str  # string | number | date | datetime | enumeration | bool
    field_type: str  # text | textarea | number | date | select | booleancheckbox | ...
    group_name: str
    read_only: bool = False
    unique: bool = False
    hubspot_defined: bool = True
    options: tuple[dict[str, object], ...] = field(default_factory=tuple)


def _p(name: str, label: str, type_: str = "string", field_type: str = "text", **kw: object):
    return (name, label, type_, field_type, kw)


_COMMON_READ_ONLY = [
    _p("hs_object_id", "Record ID", "number", "number", read_only=True),
    _p("createdate", "Create Date", "datetime", "date", read_only=True),
    _p("hs_createdate", "Object create date/time", "datetime", "date", read_only=True),
    _p("hs_lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
]

_BUILTIN: dict[str, list[tuple[str, str, str, str, dict[str, object]]]] = {
    "companies": [
        _p("name", "Company name"),
        _p("domain", "Company Domain Name"),
        _p("website", "Website URL"),
        _p("phone", "Phone Number"),
        _p("address", "Street Address"),
        _p("city", "City"),
        _p("zip", "Postal Code"),
        _p("state", "State/Region"),
        _p("country", "Country/Region"),
        _p("industry", "Industry", "enumeration", "select"),
        _p("numberofemployees", "Number of Employees", "number", "number"),
        _p("annualrevenue", "Annual Revenue", "number", "number"),
        _p("hubspot_owner_id", "Company owner", "enumeration", "select"),
        _p("description", "Description", "string", "textarea"),
        _p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
        _p("vat_number", "VAT number"),
    ],
    "contacts": [
        _p("email", "Email", unique=True),
        _p("firstname", "First Name"),
        _p("lastname", "Last Name"),
        _p("phone", "Phone Number"),
        _p("mobilephone", "Mobile Phone Number"),
        _p("jobtitle", "Job Title"),
        _p("company", "Company Name"),
        _p("lifecyclestage", "Lifecycle Stage", "enumeration", "radio"),
        _p("hubspot_owner_id", "Contact owner", "enumeration", "select"),
        _p("lastmodifieddate", "Last Modified Date", "datetime", "date", read_only=True),
    ],
    "deals": [
        _p("dealname", "Deal Name"),
        _p("amount", "Amount", "number", "number"),
        _p("deal_currency_code", "Currency", "enumeration", "select"),
        _p("closedate", "Close Date", "datetime", "date"),
        _p("pipeline", "Pipeline", "enumeration", "select"),
        _p("dealstage", "Deal Stage", "enumeration", "radio"),
        _p("dealtype", "Deal Type", "enumeration", "radio"),
        _p("description", "Deal Description", "string", "textarea"),
        _p("hubspot_owner_id", "Deal owner", "enumeration", "select"),
        _p("hs_is_closed_won", "Is Closed Won", "bool", "booleancheckbox", read_only=True),
        _p("hs_is_closed", "Is Deal Closed?", "bool", "booleancheckbox", read_only=True),
        _p("hs_deal_stage_probability", "Deal probability", "number", "number", read_only=True),
    ],
    "products": [
        _p("name", "Name"),
        _p("description", "Description", "string", "textarea"),
        _p("price", "Unit price", "number", "number"),
        _p("hs_sku", "SKU"),
        _p("hs_recurring_billing_period", "Term"),
        _p("recurringbillingfrequency", "Billing frequency", "enumeration", "select"),
        _p("hs_cost_of_goods_sold", "Unit cost", "number", "number"),
    ],
    "line_items": [
        _p("name", "Name"),
        _p("description", "Description", "string", "textarea"),
        _p("quantity", "Quantity", "number", "number"),
        _p("price", "Unit price", "number", "number"),
        _p("amount", "Net price", "number", "number", read_only=True),
        _p("discount", "Unit discount", "number", "number"),
        _p("hs_discount_percentage", "Discount percentage", "number", "number"),
        _p("hs_product_id", "Product ID", "number", "number"),
        _p("hs_sku", "SKU"),
        _p("recurringbillingfrequency", "Billing frequency", "enumeration", "select"),
        _p("hs_recurring_billing_period", "Term"),
        _p("hs_line_item_currency_code", "Currency", "enumeration", "select"),
    ],
}

GROUP_NAME = {
    "companies": "companyinformation",
    "contacts": "contactinformation",
    "deals": "dealinformation",
    "products": "productinformation",
    "line_items": "lineiteminformation",
}


def builtin_properties(object_type: str) -> dict[str, PropertyDefinition]:
    definitions: dict[str, PropertyDefinition] = {}
    for name, label, type_, field_type, kw in [*_COMMON_READ_ONLY, *_BUILTIN[object_type]]:
        definitions[name] = PropertyDefinition(
            name=name,
            label=label,
            type=type_,
            field_type=field_type,
            group_name=GROUP_NAME[object_type],
            read_only=bool(kw.get("read_only", False)),
            unique=bool(kw.get("unique", False)),
        )
    return definitions


# Properties a GET returns when the caller names none (HubSpot's per-object defaults).
DEFAULT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "contacts": (
        "createdate",
        "email",
        "firstname",
        "hs_object_id",
        "lastmodifieddate",
        "lastname",
    ),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "products": (
        "createdate",
        "description",
        "hs_lastmodifieddate",
        "hs_object_id",
        "name",
        "price",
    ),
    "line_items": (
        "amount",
        "createdate",
        "description",
        "hs_lastmodifieddate",
        "hs_object_id",
        "hs_product_id",
        "name",
        "price",
        "quantity",
    ),
}

# Text properties the search `query` parameter looks in.
QUERY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "companies": ("name", "domain", "website", "phone"),
    "contacts": ("firstname", "lastname", "email", "phone", "company"),
    "deals": ("dealname", "description"),
    "products": ("name", "description", "hs_sku"),
    "line_items": ("name", "description", "hs_sku"),
}


@dataclass(frozen=True)
class AssociationType:
    type_id: int
    inverse_type_id: int
    label: str | None = None
    category: str = "HUBSPOT_DEFINED"


# (from, to) -> unlabeled default type, plus labelled variants. Ids from HubSpot's reference.
DEFAULT_ASSOCIATION: dict[tuple[str, str], AssociationType] = {
    ("deals", "contacts"): AssociationType(3, 4),
    ("contacts", "deals"): AssociationType(4, 3),
    ("deals", "companies"): AssociationType(341, 342),
    ("companies", "deals"): AssociationType(342, 341),
    ("contacts", "companies"): AssociationType(279, 280),
    ("companies", "contacts"): AssociationType(280, 279),
    ("deals", "line_items"): AssociationType(19, 20),
    ("line_items", "deals"): AssociationType(20, 19),
}
LABELLED_ASSOCIATIONS: dict[tuple[str, str], list[AssociationType]] = {
    ("deals", "companies"): [AssociationType(5, 6, "Primary")],
    ("companies", "deals"): [AssociationType(6, 5, "Primary")],
    ("contacts", "companies"): [AssociationType(1, 2, "Primary")],
    ("companies", "contacts"): [AssociationType(2, 1, "Primary")],
}


def association_types(from_type: str, to_type: str) -> dict[int, AssociationType]:
    """Every HubSpot-defined type id valid from `from_type` to `to_type`."""
    known: dict[int, AssociationType] = {}
    default = DEFAULT_ASSOCIATION.get((from_type, to_type))
    if default is not None:
        known[default.type_id] = default
    for labelled in LABELLED_ASSOCIATIONS.get((from_type, to_type), []):
        known[labelled.type_id] = labelled
    return known


@dataclass(frozen=True)
class UnstoredType:
    """A HubSpot standard object type the sandbox knows of but keeps no records for."""

    type_id: str
    singular: str
    read_scope: str
    write_scope: str


def _crm_scope(name: str) -> tuple[str, str]:
    return f"crm.objects.{name}.read", f"crm.objects.{name}.write"


# HubSpot's standard object types beyond the five the sandbox stores, with their type ids and
# the scope a token needs to read them (engagements are covered by the contacts scopes).
UNSTORED_OBJECT_TYPES: dict[str, UnstoredType] = {
    "calls": UnstoredType("0-48", "call", *_crm_scope("contacts")),
    "emails": UnstoredType("0-49", "email", *_crm_scope("contacts")),
    "meetings": UnstoredType("0-47", "meeting", *_crm_scope("contacts")),
    "notes": UnstoredType("0-46", "note", *_crm_scope("contacts")),
    "tasks": UnstoredType("0-27", "task", *_crm_scope("contacts")),
    "communications": UnstoredType("0-18", "communication", *_crm_scope("contacts")),
    "postal_mail": UnstoredType("0-116", "postal_mail", *_crm_scope("contacts")),
    "tickets": UnstoredType("0-5", "ticket", "tickets", "tickets"),
    "quotes": UnstoredType("0-14", "quote", *_crm_scope("quotes")),
    "feedback_submissions": UnstoredType(
        "0-19", "feedback_submission", *_crm_scope("feedback_submissions")
    ),
    "goal_targets": UnstoredType("0-74", "goal_target", *_crm_scope("goals")),
    "leads": UnstoredType("0-136", "lead", *_crm_scope("leads")),
    "invoices": UnstoredType("0-53", "invoice", *_crm_scope("invoices")),
    "orders": UnstoredType("0-123", "order", *_crm_scope("orders")),
    "carts": UnstoredType("0-142", "cart", *_crm_scope("carts")),
    "commerce_payments": UnstoredType("0-101", "commerce_payment", *_crm_scope("commercepayments")),
    "subscriptions": UnstoredType("0-69", "subscription", *_crm_scope("subscriptions")),
    "appointments": UnstoredType("0-421", "appointment", *_crm_scope("appointments")),
    "courses": UnstoredType("0-410", "course", *_crm_scope("courses")),
    "listings": UnstoredType("0-420", "listing", *_crm_scope("listings")),
    "services": UnstoredType("0-162", "service", *_crm_scope("services")),
    "users": UnstoredType("0-115", "user", *_crm_scope("users")),
}
# The scopes of the types the sandbox stores.
STORED_TYPE_SCOPES: dict[str, tuple[str, str]] = {
    "contacts": _crm_scope("contacts"),
    "companies": _crm_scope("companies"),
    "deals": _crm_scope("deals"),
    "products": ("e-commerce", "e-commerce"),
    "line_items": _crm_scope("line_items"),
}


def resolve_unstored_type(raw: str) -> str | None:
    """`calls`, `call` or `0-48` (any case) -> `calls`; None when not an unstored standard type."""
    value = raw.strip().lower()
    for name, known in UNSTORED_OBJECT_TYPES.items():
        if value in (name, known.singular, known.type_id):
            return name
    return None


def unstored_properties() -> list[PropertyDefinition]:
    """The properties every HubSpot object has, all the sandbox can say of an unstored type."""
    return [
        PropertyDefinition(
            name=name, label=label, type=type_, field_type=field_type, group_name="",
            read_only=True,
        )
        for name, label, type_, field_type, _ in _COMMON_READ_ONLY
    ]  # fmt: skip


def resolve_object_type(raw: str) -> str | None:
    """Accept `deals`, `deal`, `0-3` (any case) and answer the canonical plural name."""
    value = raw.strip().lower()
    if value in OBJECT_TYPE_IDS:
        return value
    if value in OBJECT_TYPE_BY_ID:
        return OBJECT_TYPE_BY_ID[value]
    for plural, singular in SINGULAR.items():
        if value == singular:
            return plural
    return None
