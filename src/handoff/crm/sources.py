"""The CRM as the deal-to-delivery flow sees it: fetch one deal with its customer and contacts as
canonical records, tell whether it is won, and write delivery status back. One role per CRM."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

from handoff.canonical.crm import Contact, Customer, Deal
from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.hubspot.adapter import BillingStatus, HubSpotAdapter
from handoff.connectors.hubspot.mapping import HubSpotMappers, MappingContext
from handoff.connectors.salesforce.adapter import DealBillingStatus, SalesforceAdapter


class DealSnapshot(BaseModel):
    deal: Deal
    customer: Customer | None = None
    contacts: list[Contact] = Field(default_factory=list)


class DeliveryStatus(BaseModel):
    """What the hub writes back on the deal once delivery is set up (or could not be)."""

    odoo_order: str | None = None
    odoo_project_url: str | None = None
    sync_status: str


class CrmSource(Protocol):
    system: str

    def fetch_deal(self, deal_id: str) -> DealSnapshot: ...

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None: ...


class DealNotFound(BusinessRuleError):
    pass


class HubSpotSource:
    system = "hubspot"

    def __init__(self, adapter: object) -> None:
        assert isinstance(adapter, HubSpotAdapter)
        self.adapter = adapter
        self.mappers = HubSpotMappers()

    def fetch_deal(self, deal_id: str) -> DealSnapshot:
        [outcome] = self.adapter.read("deals", [deal_id], self.mappers.deal.spec.properties())
        if outcome.record is None:
            raise DealNotFound(
                f"HubSpot deal {deal_id} does not exist (deleted or merged?)",
                rule="deal_not_found",
                value=deal_id,
                suggested_fix="Check the deal in HubSpot; ignore this exception if it was removed.",
            )
        [expanded] = self.adapter.expand_deals([outcome.record])
        deal = self.mappers.deal.to_canonical(
            expanded, MappingContext(pipelines=self.adapter.pipelines())
        )
        customer = None
        if deal.customer_external_id:
            [company] = self.adapter.read(
                "companies", [deal.customer_external_id], self.mappers.customer.spec.properties()
            )
            if company.record is not None:
                customer = self.mappers.customer.to_canonical(company.record.as_mapping_input())
        contacts: list[Contact] = []
        if deal.contact_external_ids:
            found = [
                o.record
                for o in self.adapter.read(
                    "contacts", deal.contact_external_ids, self.mappers.contact.spec.properties()
                )
                if o.record is not None
            ]
            contacts = [
                self.mappers.contact.to_canonical(c) for c in self.adapter.expand_contacts(found)
            ]
        return DealSnapshot(deal=deal, customer=customer, contacts=contacts)

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None:
        self.adapter.ensure_properties()
        self.adapter.write_back(
            "deals",
            {
                deal_id: BillingStatus(
                    odoo_order=status.odoo_order,
                    odoo_project_url=status.odoo_project_url,
                    sync_status=status.sync_status,
                )
            },
        )


class SalesforceSource:
    system = "salesforce"

    def __init__(self, adapter: object) -> None:
        assert isinstance(adapter, SalesforceAdapter)
        self.adapter = adapter

    def fetch_deal(self, deal_id: str) -> DealSnapshot:
        batch = self.adapter.deals_by_ids([deal_id])
        if not batch.records:
            reason = "; ".join(str(r) for r in batch.rejected) or "not found"
            raise DealNotFound(
                f"Salesforce opportunity {deal_id}: {reason}",
                rule="deal_not_found" if not batch.rejected else "deal_mapping",
                value=deal_id,
                suggested_fix="Check the opportunity in Salesforce, fix it, then retry.",
            )
        deal = batch.records[0]
        customer = None
        if deal.customer_external_id:
            customers = self.adapter.customers_by_ids([deal.customer_external_id])
            customer = customers.records[0] if customers.records else None
        return DealSnapshot(deal=deal, customer=customer, contacts=[])

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None:
        self.adapter.write_back_deals(
            [
                DealBillingStatus(
                    deal_external_id=deal_id,
                    odoo_order=status.odoo_order,
                    sync_status="Synced" if status.sync_status == "delivered" else "Error",
                )
            ]
        )
