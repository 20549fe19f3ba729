"""Salesforce on canonical objects: incremental reads of Accounts, Contacts and Opportunities
(with their line items) into Customer / Contact / Deal, and billing-status write-back.

Incremental sync polls SOQL on ``SystemModstamp`` with a keyset cursor ``(SystemModstamp, Id)``:
``WHERE SystemModstamp > t OR (SystemModstamp = t AND Id > id)``, ordered the same way and
bounded above by ``now - lag`` so records committed late within the same millisecond are not
skipped. Each page (up to 2,000 records) comes back as one batch with the cursor to store after
it, so a crash resumes from the last stored batch. A record that cannot be mapped becomes a
``RejectedRecord`` in its batch (for the exception queue), never an aborted sync.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError

from handoff.canonical.crm import Contact, Customer, Deal, DealLine
from handoff.canonical.errors import HandoffError
from handoff.connectors.salesforce.client import (
    RecordResult,
    SalesforceClient,
    UpdatedIds,
    soql_datetime,
    soql_string,
)
from handoff.connectors.salesforce.mapping import (
    ObjectMapping,
    WriteBackMapping,
    WriteBackTarget,
    apply_rules,
    load_object_mapping,
    load_writeback_mapping,
)

SOURCE = "salesforce"
LINE_QUERY_CHUNK = 300  # ids per IN (...) list: keeps the GET URL well under 16 kB
# Line sObjects read with their parents in one SOQL query, by their standard child relationship.
CHILD_RELATIONSHIPS = {"OpportunityLineItem": "OpportunityLineItems"}
T = TypeVar("T", Customer, Contact, Deal)


class SyncCursor(BaseModel):
    """Where an incremental read stopped: the last record's SystemModstamp and Id."""

    modstamp: datetime
    last_id: str = ""


class RejectedRecord(BaseModel):
    sobject: str
    external_id: str
    rule: str
    message: str


class Batch(BaseModel, Generic[T]):
    records: list[T]
    rejected: list[RejectedRecord] = Field(default_factory=list)
    cursor: SyncCursor


# A batch of each model validates its records as that model.
_BATCHES: dict[type[BaseModel], type[Batch[Any]]] = {
    Customer: Batch[Customer],
    Contact: Batch[Contact],
    Deal: Batch[Deal],
}

SyncStatus = Literal["Pending", "Synced", "Invoiced", "Partially Paid", "Paid", "Error"]


class DealBillingStatus(BaseModel):
    """What Odoo knows about a won deal, written back to its Opportunity."""

    deal_external_id: str
    odoo_order: str | None = None
    invoiced_to_date: Decimal | None = None
    paid_to_date: Decimal | None = None
    outstanding: Decimal | None = None
    last_invoice: str | None = None
    sync_status: SyncStatus = "Synced"
    synced_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class CustomerBillingStatus(BaseModel):
    """Account-level totals across the customer's deals."""

    customer_external_id: str
    odoo_partner: str | None = None
    invoiced_to_date: Decimal | None = None
    paid_to_date: Decimal | None = None
    outstanding: Decimal | None = None
    sync_status: SyncStatus = "Synced"
    synced_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class WriteBackResult(BaseModel):
    external_id: str
    success: bool
    error: str | None = None


class SalesforceAdapter:
    def __init__(
        self,
        client: SalesforceClient,
        *,
        mapping_overrides: Mapping[str, Path] | None = None,
        lag: timedelta = timedelta(seconds=2),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.client = client
        self.customer_mapping = load_object_mapping("salesforce_customer", mapping_overrides)
        self.contact_mapping = load_object_mapping("salesforce_contact", mapping_overrides)
        self.deal_mapping = load_object_mapping("salesforce_deal", mapping_overrides)
        self.writeback_mapping: WriteBackMapping = load_writeback_mapping(
            overrides=mapping_overrides
        )
        self.lag = lag
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- incremental reads ---------------------------------------------------------------------

    def changed_customers(
        self, cursor: SyncCursor | None, *, until: datetime | None = None
    ) -> Iterator[Batch[Customer]]:
        yield from self._changed(self.customer_mapping, Customer, cursor, until)

    def changed_contacts(
        self, cursor: SyncCursor | None, *, until: datetime | None = None
    ) -> Iterator[Batch[Contact]]:
        yield from self._changed(self.contact_mapping, Contact, cursor, until)

    def changed_deals(
        self, cursor: SyncCursor | None, *, until: datetime | None = None
    ) -> Iterator[Batch[Deal]]:
        """Opportunities changed after ``cursor`` (all of them when None), with their lines.

        A line item change rolls up into its Opportunity's Amount and SystemModstamp, so
        polling Opportunities alone also catches line changes.
        """
        yield from self._changed(self.deal_mapping, Deal, cursor, until)

    def deals_by_ids(self, ids: list[str]) -> Batch[Deal]:
        """Deals for known Opportunity ids (from CDC events or ``/updated``), with their lines
        in the same query (a parent-to-child subquery): one SOQL query per 300 ids."""
        return self._by_ids(self.deal_mapping, Deal, "Opportunity", ids)

    def customers_by_ids(self, ids: list[str]) -> Batch[Customer]:
        """Customers for known Account ids (a deal's AccountId)."""
        return self._by_ids(self.customer_mapping, Customer, "Account", ids)

    def _by_ids(self, mapping: Any, model: Any, sobject: str, ids: list[str]) -> Batch[Any]:
        records: list[dict[str, Any]] = []
        selected = _with_modstamp(mapping.soql_fields())
        relationship = CHILD_RELATIONSHIPS.get(mapping.lines.sobject) if mapping.lines else None
        if relationship is not None:
            selected = [
                *selected,
                f"(SELECT {', '.join(mapping.line_soql_fields())} FROM {relationship} ORDER BY Id)",
            ]
        fields = ", ".join(selected)
        for start in range(0, len(ids), LINE_QUERY_CHUNK):
            chunk = ", ".join(soql_string(i) for i in ids[start : start + LINE_QUERY_CHUNK])
            records.extend(
                self.client.query(f"SELECT {fields} FROM {sobject} WHERE Id IN ({chunk})")
            )
        cursor = SyncCursor(modstamp=self.clock(), last_id="")
        if relationship is None:
            return self._to_batch(mapping, model, records, cursor)
        lines = {
            record["Id"]: [
                {k: v for k, v in line.items() if k != "attributes"}
                for line in ((record.pop(relationship, None) or {}).get("records") or [])
            ]
            for record in records
        }
        return self._to_batch(mapping, model, records, cursor, lines=lines)

    def updated_ids(self, sobject: str, start: datetime, end: datetime) -> UpdatedIds:
        return self.client.updated(sobject, start, end)

    def _changed(
        self,
        mapping: ObjectMapping,
        model: type[T],
        cursor: SyncCursor | None,
        until: datetime | None,
    ) -> Iterator[Batch[T]]:
        until = until or self.clock() - self.lag
        conditions = [f"SystemModstamp <= {soql_datetime(until)}"]
        if cursor is not None:
            stamp = soql_datetime(cursor.modstamp)
            conditions.insert(
                0,
                f"(SystemModstamp > {stamp} OR (SystemModstamp = {stamp} AND Id > "
                f"{soql_string(cursor.last_id)}))"
                if cursor.last_id
                else f"SystemModstamp > {stamp}",
            )
        fields = ", ".join(_with_modstamp(mapping.soql_fields()))
        soql = (
            f"SELECT {fields} FROM {mapping.sobject} WHERE {' AND '.join(conditions)} "
            "ORDER BY SystemModstamp ASC, Id ASC"
        )
        for page in self.client.query_pages(soql):
            if not page:
                continue
            last = page[-1]
            next_cursor = SyncCursor(
                modstamp=datetime.fromisoformat(last["SystemModstamp"].replace("Z", "+00:00")),
                last_id=last["Id"],
            )
            yield self._to_batch(mapping, model, page, next_cursor)

    def _to_batch(
        self,
        mapping: ObjectMapping,
        model: type[T],
        page: list[dict[str, Any]],
        cursor: SyncCursor,
        *,
        lines: dict[str, list[dict[str, Any]]] | None = None,
    ) -> Batch[T]:
        if lines is None:
            lines = self._lines_for(mapping, [r["Id"] for r in page]) if mapping.lines else {}
        records: list[T] = []
        rejected: list[RejectedRecord] = []
        for raw in page:
            try:
                values = apply_rules(mapping.fields, raw)
                if mapping.lines is not None:
                    values["lines"] = [
                        DealLine.model_validate(apply_rules(mapping.lines.fields, line))
                        for line in lines.get(raw["Id"], [])
                    ]
                records.append(model.model_validate({"source": SOURCE, **values}))
            except HandoffError as error:
                rejected.append(
                    RejectedRecord(
                        sobject=mapping.sobject,
                        external_id=raw["Id"],
                        rule=error.rule,
                        message=error.message,
                    )
                )
            except ValidationError as error:
                rejected.append(
                    RejectedRecord(
                        sobject=mapping.sobject,
                        external_id=raw["Id"],
                        rule="canonical_validation",
                        message=f"{mapping.sobject} {raw['Id']} does not make a valid "
                        f"{mapping.canonical}: {error.errors(include_url=False)}",
                    )
                )
        batch: type[Batch[T]] = _BATCHES[model]
        return batch(records=records, rejected=rejected, cursor=cursor)

    def _lines_for(
        self, mapping: ObjectMapping, parent_ids: list[str]
    ) -> dict[str, list[dict[str, Any]]]:
        assert mapping.lines is not None
        parent_field = mapping.lines.parent_field
        fields = ", ".join(mapping.line_soql_fields())
        grouped: dict[str, list[dict[str, Any]]] = {}
        for start in range(0, len(parent_ids), LINE_QUERY_CHUNK):
            chunk = ", ".join(soql_string(i) for i in parent_ids[start : start + LINE_QUERY_CHUNK])
            soql = (
                f"SELECT {fields} FROM {mapping.lines.sobject} WHERE {parent_field} IN ({chunk}) "
                "ORDER BY Id"
            )
            for line in self.client.query(soql):
                grouped.setdefault(line[parent_field], []).append(line)
        return grouped

    # -- write-back ----------------------------------------------------------------------------

    def write_back_deals(self, statuses: list[DealBillingStatus]) -> list[WriteBackResult]:
        return self._write_back(
            self.writeback_mapping.deal, [(s.deal_external_id, s) for s in statuses]
        )

    def write_back_customers(self, statuses: list[CustomerBillingStatus]) -> list[WriteBackResult]:
        return self._write_back(
            self.writeback_mapping.customer, [(s.customer_external_id, s) for s in statuses]
        )

    def _write_back(
        self, target: WriteBackTarget, items: list[tuple[str, BaseModel]]
    ) -> list[WriteBackResult]:
        records = []
        for record_id, status in items:
            record: dict[str, Any] = {"attributes": {"type": target.sobject}, "Id": record_id}
            for sf_field, attribute in target.fields.items():
                value = getattr(status, attribute)
                if value is not None:  # unknown values are left as they are in Salesforce
                    record[sf_field] = _wire(value)
            records.append(record)
        results: list[RecordResult] = self.client.update_many(records)
        return [
            WriteBackResult(
                external_id=record_id,
                success=result.success,
                error=None if result.success else result.error_summary,
            )
            for (record_id, _), result in zip(items, results, strict=True)
        ]


def _with_modstamp(fields: list[str]) -> list[str]:
    return fields if "SystemModstamp" in fields else [*fields, "SystemModstamp"]


def _wire(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value
