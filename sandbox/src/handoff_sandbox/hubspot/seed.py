"""Pipelines every account has, and the demo firm's data (``handoff_sandbox.demo_firm``).

Northwind Advisory sells consulting (time & materials), fixed-fee implementations and training,
milestone-billed programmes and retainers. Deals sit in HubSpot's default sales pipeline and in a
custom "Professional services" pipeline whose stage ids are account-specific numbers, as they are
in real accounts. Clients, products and deals come from the demo firm, so the hub's configuration
(``demo_firm.hub_config``) maps every name this seed writes.
"""

from __future__ import annotations

import json
import random
from typing import Any

from handoff_sandbox import demo_firm
from handoff_sandbox.hubspot.records import Records
from handoff_sandbox.hubspot.schema import GROUP_NAME, LAST_MODIFIED_PROPERTY, PropertyDefinition
from handoff_sandbox.hubspot.store import SandboxStore, StoredObject, iso_ms

CREATED = "2024-01-01T00:00:00.000Z"

DEFAULT_STAGES = [
    ("appointmentscheduled", "Appointment Scheduled", "0.2", "false"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4", "false"),
    ("presentationscheduled", "Presentation Scheduled", "0.6", "false"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8", "false"),
    ("contractsent", "Contract Sent", "0.9", "false"),
    ("closedwon", "Closed Won", "1.0", "true"),
    ("closedlost", "Closed Lost", "0.0", "true"),
]

SERVICES_PIPELINE_ID = "87654321"
SERVICES_STAGES = [
    ("110382973", "Discovery", "0.1", "false"),
    ("110382974", "Scoping", "0.3", "false"),
    ("110382975", "Proposal sent", "0.6", "false"),
    ("110382976", "SOW signed", "1.0", "true"),
    ("110382977", "Not pursued", "0.0", "true"),
]


def build_pipeline(
    pipeline_id: str, label: str, display_order: int, stages: list[tuple[str, str, dict[str, Any]]]
) -> dict[str, Any]:
    return {
        "id": pipeline_id,
        "label": label,
        "displayOrder": display_order,
        "createdAt": CREATED,
        "updatedAt": CREATED,
        "archived": False,
        "stages": [
            {
                "id": stage_id,
                "label": stage_label,
                "displayOrder": order,
                "metadata": {
                    "isClosed": str(metadata.get("isClosed", "false")).lower(),
                    "probability": str(metadata.get("probability", "0.0")),
                },
                "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                "createdAt": CREATED,
                "updatedAt": CREATED,
                "archived": False,
            }
            for order, (stage_id, stage_label, metadata) in enumerate(stages)
        ],
    }


def ensure_default_pipelines(store: SandboxStore) -> None:
    if store.pipelines("deals"):
        return
    store.save_pipeline(
        "deals",
        build_pipeline(
            "default",
            "Sales Pipeline",
            0,
            [(i, label, {"probability": p, "isClosed": c}) for i, label, p, c in DEFAULT_STAGES],
        ),
    )
    store.save_pipeline(
        "deals",
        build_pipeline(
            SERVICES_PIPELINE_ID,
            "Professional services",
            1,
            [(i, label, {"probability": p, "isClosed": c}) for i, label, p, c in SERVICES_STAGES],
        ),
    )


CLIENTS = demo_firm.HUBSPOT_CLIENTS
PRODUCTS = demo_firm.SERVICES
DEALS = demo_firm.HUBSPOT_DEALS

# Custom deal properties a firm creates for Handoff (documented in connectors/hubspot/README.md)
# and that hubspot_deal.yaml maps: how the deal is billed and what the delivery side needs.
CONTRACT_TYPES = {
    "time_materials": "Time and Materials",
    "fixed_fee": "Fixed Fee",
    "milestone": "Milestone",
    "retainer": "Retainer",
}
DELIVERY_PROPERTIES = [
    PropertyDefinition(
        name="handoff_contract_type",
        label="Contract type",
        type="enumeration",
        field_type="select",
        group_name=GROUP_NAME["deals"],
        hubspot_defined=False,
        options=tuple(
            {"label": label, "value": value, "displayOrder": order, "hidden": False}
            for order, (value, label) in enumerate(CONTRACT_TYPES.items())
        ),
    ),
    *(
        PropertyDefinition(
            name=name,
            label=label,
            type=kind,
            field_type=field_type,
            group_name=GROUP_NAME["deals"],
            hubspot_defined=False,
        )
        for name, label, kind, field_type in [
            ("handoff_legal_entity", "Contracting legal entity", "string", "text"),
            ("handoff_payment_terms", "Payment terms", "string", "text"),
            ("handoff_tax_profile", "Tax profile", "string", "text"),
            ("handoff_project_template", "Project template", "string", "text"),
            ("handoff_milestones", "Milestones (JSON)", "string", "textarea"),
            ("handoff_retainer_monthly_amount", "Retainer monthly amount", "number", "number"),
            ("handoff_retainer_hours", "Retainer hours per month", "number", "number"),
        ]
    ),
]

# Deal name -> (contract type, legal entity, payment terms, tax profile, project template).
DELIVERY_TERMS = {
    deal.name: (
        deal.billing_model.value,
        deal.legal_entity,
        deal.payment_terms,
        deal.tax_profile,
        deal.project_template,
    )
    for deal in DEALS
}


def delivery_properties(deal: demo_firm.DemoDeal) -> dict[str, str]:
    """The custom delivery properties a seeded deal carries; milestone deals get a plan."""
    properties = {
        "handoff_contract_type": deal.billing_model.value,
        "handoff_legal_entity": deal.legal_entity,
        "handoff_payment_terms": deal.payment_terms,
        "handoff_tax_profile": deal.tax_profile,
        "handoff_project_template": deal.project_template,
    }
    if deal.milestones is not None:
        properties["handoff_milestones"] = json.dumps(deal.milestone_plan())
    if deal.retainer_monthly_amount is not None:
        properties["handoff_retainer_monthly_amount"] = str(deal.retainer_monthly_amount)
    if deal.retainer_hours is not None:
        properties["handoff_retainer_hours"] = str(deal.retainer_hours)
    return properties


def ensure_delivery_properties(store: SandboxStore) -> None:
    """Create the firm's custom delivery properties on deals (as an admin would, once)."""
    existing = store.properties("deals")
    for definition in DELIVERY_PROPERTIES:
        if definition.name not in existing:
            store.add_property("deals", definition)


def _owner_of(deal: demo_firm.DemoDeal) -> str | None:
    """The partner of the contracting entity owns the deal (HubSpot owner ids)."""
    if not deal.owner:
        return None
    owners = [c for c in demo_firm.CONSULTANTS if c.hubspot_owner_id]
    own = [c for c in owners if c.entity == deal.legal_entity]
    return (own or owners)[0].hubspot_owner_id


def _price(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def deal_properties(deal: demo_firm.DemoDeal) -> dict[str, str | None]:
    """The HubSpot properties of a demo deal, delivery properties included."""
    return {
        "dealname": deal.name,
        "pipeline": deal.pipeline,
        "dealstage": deal.stage,
        "amount": _price(float(deal.amount)),
        "deal_currency_code": deal.currency,
        "closedate": f"{deal.close_date.isoformat()}T00:00:00.000Z",
        "dealtype": "newbusiness",
        "hubspot_owner_id": _owner_of(deal),
        **delivery_properties(deal),
    }


def line_item_properties(line: demo_firm.DealLineSpec, product_id: int | str) -> dict[str, str]:
    service = demo_firm.SERVICES_BY_SKU[line.sku]
    return {
        "name": service.name,
        "hs_sku": line.sku,
        "price": _price(service.price),
        "quantity": _price(line.quantity),
        "hs_product_id": str(product_id),
    }


# HubSpot-defined association types the seed writes (deal -> primary company, company, contact,
# line item).
DEAL_COMPANY_TYPES = [
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 5},
    {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 341},
]
DEAL_CONTACT_TYPES = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}]
DEAL_LINE_ITEM_TYPES = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 19}]


def seed_demo_data(records: Records) -> dict[str, list[int]]:
    """The demo firm's HubSpot account: clients, two contacts each, the product catalogue, and
    deals with line items, associated to their company and first contact."""
    store = records.store
    companies, _ = records.create(
        "companies",
        [
            {
                "name": client.name,
                "domain": client.domain,
                "city": client.city,
                "country": client.country_code,
                "industry": client.industry,
                "lifecyclestage": "customer",
            }
            for client in CLIENTS
        ],
    )
    company_of = {client.name: company for client, company in zip(CLIENTS, companies, strict=True)}
    people = [person for client in CLIENTS for person in demo_firm.contacts_of(client)]
    contacts, _ = records.create(
        "contacts",
        [
            {
                "email": person.email,
                "firstname": person.first_name,
                "lastname": person.last_name,
                "jobtitle": person.job_title,
                "company": person.client,
            }
            for person in people
        ],
    )
    first_contact: dict[str, StoredObject] = {}
    for person, contact in zip(people, contacts, strict=True):
        first_contact.setdefault(person.client, contact)
    products, _ = records.create(
        "products",
        [
            {
                "name": service.name,
                "hs_sku": service.sku,
                "price": _price(service.price),
                "recurringbillingfrequency": service.recurring,
            }
            for service in PRODUCTS
        ],
    )
    product_of = {service.sku: product for service, product in zip(PRODUCTS, products, strict=True)}
    rows: list[tuple[str, int, str, int, int, str]] = []
    for person, contact in zip(people, contacts, strict=True):
        rows += records.association_rows(
            "contacts",
            contact.id,
            "companies",
            company_of[person.client].id,
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}],
        )
    ensure_delivery_properties(store)
    records.forget_definitions()
    deal_ids: list[int] = []
    for deal_spec in DEALS:
        deal = records.create("deals", [deal_properties(deal_spec)])[0][0]
        deal_ids.append(deal.id)
        rows += records.association_rows(
            "deals", deal.id, "companies", company_of[deal_spec.client].id, DEAL_COMPANY_TYPES
        )
        rows += records.association_rows(
            "deals", deal.id, "contacts", first_contact[deal_spec.client].id, DEAL_CONTACT_TYPES
        )
        line_items, _ = records.create(
            "line_items",
            [line_item_properties(line, product_of[line.sku].id) for line in deal_spec.lines],
        )
        for item in line_items:
            rows += records.association_rows(
                "deals", deal.id, "line_items", item.id, DEAL_LINE_ITEM_TYPES
            )
    store.associate(rows)
    return {
        "companies": [c.id for c in companies],
        "contacts": [c.id for c in contacts],
        "products": [p.id for p in products],
        "deals": deal_ids,
    }


def bulk_records(
    records: Records,
    object_type: str,
    count: int,
    modified_from_ms: int,
    modified_to_ms: int,
    template: dict[str, str],
) -> int:
    """Insert `count` records fast, last-modified times spread evenly over the range."""
    store = records.store
    rng = random.Random(count)
    stages = records.stage_index()
    span = max(1, modified_to_ms - modified_from_ms)
    inserted = 0
    batch: list[StoredObject] = []
    ids = store.next_ids(count)
    for position, object_id in enumerate(ids):
        modified = modified_from_ms + span * position // max(1, count)
        created = modified - rng.randint(0, 86_400_000)
        properties = {k: str(v) for k, v in template.items()}
        if object_type == "deals":
            pipeline = "default" if position % 3 else SERVICES_PIPELINE_ID
            stage_ids = list(stages[pipeline])
            properties.setdefault("dealname", f"Bulk deal {position:06d}")
            properties.setdefault("pipeline", pipeline)
            properties.setdefault("dealstage", stage_ids[position % len(stage_ids)])
            properties.setdefault("amount", str(1000 + (position * 37) % 90_000))
            properties.setdefault("deal_currency_code", "EUR")
        elif object_type == "companies":
            properties.setdefault("name", f"Bulk company {position:06d}")
        elif object_type == "contacts":
            properties.setdefault("email", f"bulk{object_id}@example.com")
        records._derive(object_type, properties)
        properties.update(
            {
                "hs_object_id": str(object_id),
                "createdate": iso_ms(created),
                "hs_createdate": iso_ms(created),
                LAST_MODIFIED_PROPERTY[object_type]: iso_ms(modified),
            }
        )
        batch.append(StoredObject(object_type, object_id, properties, created, modified, False))
        if len(batch) >= 5000:
            store.insert_objects(batch)
            inserted += len(batch)
            batch = []
    if batch:
        store.insert_objects(batch)
        inserted += len(batch)
    return inserted
