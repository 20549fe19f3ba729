"""Demo data for the Salesforce sandbox: the demo firm's (``handoff_sandbox.demo_firm``) accounts,
contacts, products with standard prices, and opportunities across stages and contract types with
their line items. Every delivery value written here is a name the hub's configuration maps."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta

from handoff_sandbox import demo_firm
from handoff_sandbox.salesforce.schema import CONTRACT_TYPES
from handoff_sandbox.salesforce.store import OrgStore

# (name, code, family, unit of measure, standard price)
PRODUCTS = [(s.name, s.sku, s.family, s.crm_unit, s.price) for s in demo_firm.SERVICES]
# (name, billing city, billing country)
ACCOUNTS = [(c.name, c.city, c.country) for c in demo_firm.SALESFORCE_CLIENTS]


def seed_catalogue(store: OrgStore) -> dict[str, str]:
    """Products and their standard price book entries; returns product code -> entry id."""
    book_id = store.ensure_standard_pricebook()
    existing = {p["ProductCode"]: p["Id"] for p in store.records("Product2")}
    entries = {e["Product2Id"]: e["Id"] for e in store.records("PricebookEntry")}
    result: dict[str, str] = {}
    with store.transaction() as tx:
        for name, code, family, unit, price in PRODUCTS:
            product_id = existing.get(code) or store.create(
                tx,
                "Product2",
                {
                    "Name": name,
                    "ProductCode": code,
                    "Family": family,
                    "QuantityUnitOfMeasure": unit,
                    "IsActive": True,
                    "Handoff_External_Id__c": f"product:{code}",
                },
            )
            result[code] = entries.get(product_id) or store.create(
                tx,
                "PricebookEntry",
                {
                    "Pricebook2Id": book_id,
                    "Product2Id": product_id,
                    "UnitPrice": price,
                    "IsActive": True,
                },
            )
    return result


def delivery_fields(deal: demo_firm.DemoDeal) -> dict[str, str | float]:
    """The Handoff custom fields a deal carries for the delivery side."""
    fields: dict[str, str | float] = {
        "Handoff_Contract_Type__c": demo_firm.CONTRACT_TYPE_LABELS[deal.billing_model],
        "Handoff_Legal_Entity__c": deal.legal_entity,
        "Handoff_Payment_Terms__c": deal.payment_terms,
        "Handoff_Tax_Profile__c": deal.tax_profile,
        "Handoff_Project_Template__c": deal.project_template,
    }
    if deal.milestones is not None:
        fields["Handoff_Milestones__c"] = json.dumps(deal.milestone_plan())
    if deal.retainer_monthly_amount is not None:
        fields["Handoff_Retainer_Monthly_Amount__c"] = float(deal.retainer_monthly_amount)
    if deal.retainer_hours is not None:
        fields["Handoff_Retainer_Hours__c"] = float(deal.retainer_hours)
    return fields


def seed_demo(store: OrgStore, *, seed: int = 42, today: date | None = None) -> None:
    """A small, deterministic org: 8 accounts, 16 contacts, 24 opportunities with lines."""
    if store.records("Account"):
        return
    entries = seed_catalogue(store)
    deals = demo_firm.salesforce_deals(today, seed=seed)
    with store.transaction() as tx:
        account_ids: dict[str, str] = {}
        for index, client in enumerate(demo_firm.SALESFORCE_CLIENTS):
            account_ids[client.name] = store.create(
                tx,
                "Account",
                {
                    "Name": client.name,
                    "BillingCity": client.city,
                    "BillingCountry": client.country,
                    "Type": "Customer - Direct",
                    "Website": f"https://{client.domain}",
                    "Handoff_External_Id__c": f"account:{index + 1:04d}",
                },
            )
            for person in demo_firm.contacts_of(client):
                store.create(
                    tx,
                    "Contact",
                    {
                        "AccountId": account_ids[client.name],
                        "FirstName": person.first_name,
                        "LastName": person.last_name,
                        "Email": person.email,
                        "Title": person.job_title,
                    },
                )
    add_opportunities(store, deals, entries)


def add_opportunities(
    store: OrgStore, deals: list[demo_firm.DemoDeal], entries: dict[str, str] | None = None
) -> list[str]:
    """Create the demo deals as opportunities with their line items, in one transaction; a deal
    whose Handoff external id is already there is left alone. Returns the opportunity ids."""
    entries = entries or seed_catalogue(store)
    accounts = {account["Name"]: account["Id"] for account in store.records("Account")}
    ids = []
    with store.transaction() as tx:
        for deal in deals:
            existing = store.find_by_external_id("Opportunity", "Handoff_External_Id__c", deal.key)
            if existing:
                ids.append(existing[0]["Id"])
                continue
            opportunity_id = store.create(
                tx,
                "Opportunity",
                {
                    "Name": deal.name,
                    "AccountId": accounts[deal.client],
                    "StageName": deal.stage,
                    "CloseDate": deal.close_date.isoformat(),
                    "Type": "New Customer"
                    if deal.key.endswith("-1")
                    else "Existing Customer - Upgrade",
                    # Salesforce makes the creating user the owner unless told otherwise.
                    "OwnerId": store.user_id if deal.owner else None,
                    "Handoff_External_Id__c": deal.key,
                    **delivery_fields(deal),
                },
            )
            ids.append(opportunity_id)
            for line in deal.lines:
                store.create(
                    tx,
                    "OpportunityLineItem",
                    {
                        "OpportunityId": opportunity_id,
                        "PricebookEntryId": entries[line.sku],
                        "Quantity": line.quantity,
                    },
                )
    return ids


def seed_bulk_opportunities(
    store: OrgStore, count: int, *, lines_per_opportunity: int = 2, accounts: int = 500
) -> None:
    """Many opportunities (benchmarks): spread over `accounts` accounts, each with lines."""
    rng = random.Random(7)
    entries = list(seed_catalogue(store).values())
    contract_types = CONTRACT_TYPES
    today = date.today()
    with store.transaction() as tx:
        account_ids = [
            store.create(tx, "Account", {"Name": f"Bulk Customer {n:05d}"}) for n in range(accounts)
        ]
    for start in range(0, count, 5000):
        with store.transaction() as tx:
            for number in range(start, min(count, start + 5000)):
                opportunity_id = store.create(
                    tx,
                    "Opportunity",
                    {
                        "Name": f"Bulk Deal {number:06d}",
                        "AccountId": account_ids[number % accounts],
                        "StageName": "Closed Won" if number % 3 == 0 else "Proposal/Price Quote",
                        "CloseDate": (today + timedelta(days=number % 120)).isoformat(),
                        "Handoff_Contract_Type__c": contract_types[number % 4],
                    },
                )
                for _ in range(lines_per_opportunity):
                    store.create(
                        tx,
                        "OpportunityLineItem",
                        {
                            "OpportunityId": opportunity_id,
                            "PricebookEntryId": entries[rng.randrange(len(entries))],
                            "Quantity": rng.randint(1, 20),
                        },
                    )
