"""The CRM as the deal-to-delivery flow sees it: fetch won deals with their customer and contacts
as canonical records, tell whether they are won, and write delivery status back. One role per
CRM.

Reads and writes work on many deals at once with the CRMs' batch endpoints: ``fetch_deals``
reads N deals' snapshots in a fixed number of requests per 100 deals (HubSpot: the deals, their
company/contact/line-item associations, the line items, the companies, the contacts and their
companies: 8 batch calls; Salesforce: the opportunities with their lines in one SOQL query with
a relationship subquery, then their accounts: 2 queries), and ``write_back_many`` writes N statuses in one batch update. Each deal keeps its
own outcome: a deal that is missing or does not map is an error for that deal only.

A source is one configured CRM system, by name (``hubspot_eu`` and ``hubspot_us`` are two
HubSpot sources): the canonical records it returns carry that name as their ``source``, so two
portals' deal 42 stay two deals (``hubspot_eu:42``, ``hubspot_us:42``) and a system named like
its kind (``hubspot``) keeps the references it always had.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Protocol

from pydantic import BaseModel, Field

from handoff.canonical.crm import Contact, Customer, Deal
from handoff.canonical.errors import BusinessRuleError, HandoffError, PermanentError
from handoff.connectors.hubspot.adapter import BillingStatus, HubSpotAdapter, HubSpotRecord
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


# One deal's outcome of a batch read: its snapshot, or the error that belongs to it alone.
SnapshotOutcome = DealSnapshot | HandoffError


class CrmSource(Protocol):
    system: str

    def fetch_deal(self, deal_id: str) -> DealSnapshot: ...

    def fetch_deals(self, deal_ids: Sequence[str]) -> dict[str, SnapshotOutcome]: ...

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None: ...

    def write_back_many(self, statuses: dict[str, DeliveryStatus]) -> dict[str, HandoffError]: ...


class DealNotFound(BusinessRuleError):
    pass


class WriteBackRefused(PermanentError):
    """The CRM refused the write-back of one deal (the others of its batch went through)."""


def _one(outcomes: dict[str, SnapshotOutcome], deal_id: str) -> DealSnapshot:
    outcome = outcomes[deal_id]
    if isinstance(outcome, HandoffError):
        raise outcome
    return outcome


def _raise_own(errors: dict[str, HandoffError], deal_id: str) -> None:
    if deal_id in errors:
        raise errors[deal_id]


def _named(snapshot: DealSnapshot, name: str) -> DealSnapshot:
    """The snapshot with its records' ``source`` set to the CRM system's configured name."""
    if snapshot.deal.source == name:
        return snapshot
    return DealSnapshot(
        deal=snapshot.deal.model_copy(update={"source": name}),
        customer=snapshot.customer.model_copy(update={"source": name})
        if snapshot.customer is not None
        else None,
        contacts=[contact.model_copy(update={"source": name}) for contact in snapshot.contacts],
    )


class HubSpotSource:
    system = "hubspot"

    def __init__(self, adapter: object, name: str = "hubspot") -> None:
        assert isinstance(adapter, HubSpotAdapter)
        self.adapter = adapter
        self.mappers = _hubspot_mappers()
        self.system = name

    def fetch_deal(self, deal_id: str) -> DealSnapshot:
        return _one(self.fetch_deals([deal_id]), deal_id)

    def fetch_deals(self, deal_ids: Sequence[str]) -> dict[str, SnapshotOutcome]:
        """Snapshots of many deals with batch reads across them (8 calls per 100 deals)."""
        ids = list(dict.fromkeys(str(i) for i in deal_ids))
        outcomes: dict[str, SnapshotOutcome] = {}
        records: list[HubSpotRecord] = []
        for read in self.adapter.read("deals", ids, self.mappers.deal.spec.properties()):
            if read.record is not None:
                records.append(read.record)
            elif read.error is not None and read.error.category != "OBJECT_NOT_FOUND":
                outcomes[read.key] = PermanentError(
                    f"HubSpot refused reading deal {read.key}: {read.error.message}",
                    rule=read.error.category.lower(),
                    value=read.key,
                )
        for deal_id in ids:
            if deal_id not in outcomes and not any(r.id == deal_id for r in records):
                outcomes[deal_id] = DealNotFound(
                    f"HubSpot deal {deal_id} does not exist (deleted or merged?)",
                    rule="deal_not_found",
                    value=deal_id,
                    suggested_fix=(
                        "Check the deal in HubSpot; ignore this exception if it was removed."
                    ),
                )
        if not records:
            return outcomes
        context = MappingContext(pipelines=self.adapter.pipelines())
        deals: dict[str, Deal] = {}
        for expanded in self.adapter.expand_deals(records):
            try:
                deals[str(expanded["id"])] = self.mappers.deal.to_canonical(expanded, context)
            except HandoffError as error:  # this deal does not map; the others still do
                outcomes[str(expanded["id"])] = error
        company_ids = sorted(
            {d.customer_external_id for d in deals.values() if d.customer_external_id}
        )
        customers: dict[str, Customer | HandoffError] = {}
        if company_ids:
            for read in self.adapter.read(
                "companies", company_ids, self.mappers.customer.spec.properties()
            ):
                if read.record is None:
                    continue
                try:
                    customers[read.key] = self.mappers.customer.to_canonical(
                        read.record.as_mapping_input()
                    )
                except HandoffError as error:
                    customers[read.key] = error
        contact_ids = sorted(
            {c for d in deals.values() for c in d.contact_external_ids}, key=_numeric_first
        )
        contacts: dict[str, Contact | HandoffError] = {}
        if contact_ids:
            found = [
                read.record
                for read in self.adapter.read(
                    "contacts", contact_ids, self.mappers.contact.spec.properties()
                )
                if read.record is not None
            ]
            for expanded in self.adapter.expand_contacts(found):
                try:
                    contacts[str(expanded["id"])] = self.mappers.contact.to_canonical(expanded)
                except HandoffError as error:
                    contacts[str(expanded["id"])] = error
        for deal_id, deal in deals.items():
            customer = customers.get(deal.customer_external_id or "")
            own = [contacts[c] for c in deal.contact_external_ids if c in contacts]
            failure = next((x for x in [customer, *own] if isinstance(x, HandoffError)), None)
            if failure is not None:
                outcomes[deal_id] = failure
                continue
            outcomes[deal_id] = _named(
                DealSnapshot(
                    deal=deal,
                    customer=customer if isinstance(customer, Customer) else None,
                    contacts=[c for c in own if isinstance(c, Contact)],
                ),
                self.system,
            )
        return {deal_id: outcomes[deal_id] for deal_id in ids}

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None:
        _raise_own(self.write_back_many({deal_id: status}), deal_id)

    def write_back_many(self, statuses: dict[str, DeliveryStatus]) -> dict[str, HandoffError]:
        """One batch update for many deals; answers the deals the CRM refused, with why."""
        self.adapter.ensure_properties()
        outcomes = self.adapter.write_back(
            "deals",
            {
                deal_id: BillingStatus(
                    odoo_order=status.odoo_order,
                    odoo_project_url=status.odoo_project_url,
                    sync_status=status.sync_status,
                )
                for deal_id, status in statuses.items()
            },
        )
        return {
            outcome.key: WriteBackRefused(
                f"HubSpot refused the write-back on deal {outcome.key}: {outcome.error.message}",
                rule=outcome.error.category.lower(),
                value=outcome.key,
                suggested_fix="Check the deal in HubSpot (deleted or merged?), then retry.",
            )
            for outcome in outcomes
            if outcome.error is not None
        }


class SalesforceSource:
    system = "salesforce"

    def __init__(self, adapter: object, name: str = "salesforce") -> None:
        assert isinstance(adapter, SalesforceAdapter)
        self.adapter = adapter
        self.system = name

    def fetch_deal(self, deal_id: str) -> DealSnapshot:
        return _one(self.fetch_deals([deal_id]), deal_id)

    def fetch_deals(self, deal_ids: Sequence[str]) -> dict[str, SnapshotOutcome]:
        """Snapshots of many opportunities: 2 SOQL queries per 300 (the opportunities with their
        lines in a parent-to-child subquery, then their accounts)."""
        ids = list(dict.fromkeys(str(i) for i in deal_ids))
        batch = self.adapter.deals_by_ids(ids)
        found = {deal.external_id: deal for deal in batch.records}
        rejected = {r.external_id: r for r in batch.rejected}
        account_ids = sorted(
            {d.customer_external_id for d in found.values() if d.customer_external_id}
        )
        customers = (
            {c.external_id: c for c in self.adapter.customers_by_ids(account_ids).records}
            if account_ids
            else {}
        )
        outcomes: dict[str, SnapshotOutcome] = {}
        for deal_id in ids:
            deal = found.get(deal_id) or next(
                (d for key, d in found.items() if _same_sf_id(key, deal_id)), None
            )
            if deal is not None:
                outcomes[deal_id] = _named(
                    DealSnapshot(
                        deal=deal,
                        customer=customers.get(deal.customer_external_id or ""),
                        contacts=[],
                    ),
                    self.system,
                )
                continue
            reason = rejected.get(deal_id)
            outcomes[deal_id] = DealNotFound(
                f"Salesforce opportunity {deal_id}: {reason or 'not found'}",
                rule="deal_mapping" if reason else "deal_not_found",
                value=deal_id,
                suggested_fix="Check the opportunity in Salesforce, fix it, then retry.",
            )
        return outcomes

    def write_back(self, deal_id: str, status: DeliveryStatus) -> None:
        _raise_own(self.write_back_many({deal_id: status}), deal_id)

    def write_back_many(self, statuses: dict[str, DeliveryStatus]) -> dict[str, HandoffError]:
        """One sObject Collections update (up to 200 records per request) for many deals."""
        results = self.adapter.write_back_deals(
            [
                DealBillingStatus(
                    deal_external_id=deal_id,
                    odoo_order=status.odoo_order,
                    sync_status="Synced" if status.sync_status == "delivered" else "Error",
                )
                for deal_id, status in statuses.items()
            ]
        )
        return {
            result.external_id: WriteBackRefused(
                f"Salesforce refused the write-back on opportunity {result.external_id}: "
                f"{result.error}",
                rule="write_back_refused",
                value=result.external_id,
                suggested_fix="Check the opportunity in Salesforce, then retry.",
            )
            for result in results
            if not result.success
        }


@cache
def _hubspot_mappers() -> HubSpotMappers:
    """The shipped HubSpot mappings, loaded (and compiled) once per process, not per deal."""
    return HubSpotMappers()


def _numeric_first(value: str) -> tuple[int, str]:
    return (int(value), "") if value.isdigit() else (0, value)


def _same_sf_id(left: str, right: str) -> bool:
    """Salesforce ids compare on their first 15 characters (18-character ids add a checksum)."""
    return len(left) >= 15 and len(right) >= 15 and left[:15] == right[:15]
