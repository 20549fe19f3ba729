"""The sandbox org's data: records of every sObject, kept in memory and written through to SQLite.

Writes happen inside a ``transaction()``: field values are validated and coerced the way the REST
API does, derived fields are recomputed (Opportunity probability/IsWon from the stage, line
totals, the Opportunity Amount rolled up from its products), and on success the changes are
persisted and handed to listeners (the Change Data Capture publisher). A failed transaction is
rolled back in memory, so an ``allOrNone`` collection leaves nothing behind.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from handoff_sandbox.salesforce.errors import SalesforceApiError
from handoff_sandbox.salesforce.ids import make_id, normalise_id
from handoff_sandbox.salesforce.schema import (
    NUMERIC_TYPES,
    OPPORTUNITY_STAGES,
    TEXT_TYPES,
    FieldDef,
    FieldType,
    SObjectDef,
    sobject_by_name,
    sobject_by_prefix,
)

Record = dict[str, Any]
EXTERNAL_ID_FIELD = "Handoff_External_Id__c"
_LAST_MODIFIED_FIELDS = ("LastModifiedDate", "SystemModstamp", "LastModifiedById")


def format_datetime(moment: datetime) -> str:
    """Salesforce's wire form: ``2024-01-15T10:20:30.000+0000`` (always UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass
class Change:
    """One record's change inside a transaction, as Change Data Capture reports it."""

    entity: str
    record_id: str
    change_type: str  # CREATE | UPDATE | DELETE
    changed: dict[str, Any]
    nulled: list[str]
    commit_timestamp: datetime


@dataclass
class Transaction:
    key: str = field(default_factory=lambda: uuid.uuid4().hex)
    changes: list[Change] = field(default_factory=list)
    # (sobject, id) -> the record before this transaction touched it (None: it did not exist).
    undo: dict[tuple[str, str], Record | None] = field(default_factory=dict)


ChangeListener = Callable[[str, list[Change]], None]


class OrgStore:
    def __init__(
        self,
        db_path: Path | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
        user_id: str | None = None,
    ) -> None:
        self.clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.RLock()
        self._records: dict[str, dict[str, Record]] = {}
        self._external_ids: dict[str, dict[str, str]] = {}
        # Opportunity id -> its line item ids, so roll-ups do not scan every line in the org.
        self._lines: dict[str, set[str]] = {}
        self._sequence = itertools.count(1)
        self._listeners: list[ChangeListener] = []
        self._db = sqlite3.connect(str(db_path) if db_path else ":memory:", check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY, sobject TEXT NOT NULL, "
            "data TEXT NOT NULL)"
        )
        self._db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        self._db.commit()
        self._load()
        self.user_id = user_id or self._ensure_admin_user()

    # -- persistence -------------------------------------------------------------------------

    def _load(self) -> None:
        highest = 0
        for record_id, sobject, data in self._db.execute("SELECT id, sobject, data FROM records"):
            record = json.loads(data)
            self._records.setdefault(sobject, {})[record_id] = record
            self._index(sobject, record)
            highest = max(highest, _sequence_of(record_id))
        self._sequence = itertools.count(highest + 1)

    def _persist(self, touched: list[tuple[str, str]]) -> None:
        rows = []
        for sobject, record_id in touched:
            record = self._records.get(sobject, {}).get(record_id)
            if record is not None:
                rows.append((record_id, sobject, json.dumps(record)))
        if rows:
            self._db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
        gone = [(rid,) for s, rid in touched if rid not in self._records.get(s, {})]
        if gone:
            self._db.executemany("DELETE FROM records WHERE id = ?", gone)
        self._db.commit()

    def _ensure_admin_user(self) -> str:
        users = self._records.get("User", {})
        if users:
            return next(iter(users))
        user_id = make_id("005", next(self._sequence))
        now = format_datetime(self.clock())
        record = {
            "Id": user_id,
            "Username": "admin@handoff_sandbox",
            "FirstName": "Sandbox",
            "LastName": "Admin",
            "Name": "Sandbox Admin",
            "Email": "admin@handoff_sandbox",
            "IsActive": True,
            "IsDeleted": False,
            "CreatedDate": now,
            "LastModifiedDate": now,
            "SystemModstamp": now,
            "CreatedById": user_id,
            "LastModifiedById": user_id,
        }
        self._records.setdefault("User", {})[user_id] = record
        self._persist([("User", user_id)])
        return user_id

    def close(self) -> None:
        self._db.close()

    # -- listeners and transactions ----------------------------------------------------------

    def add_listener(self, listener: ChangeListener) -> None:
        self._listeners.append(listener)

    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        with self._lock:
            tx = Transaction()
            try:
                yield tx
            except BaseException:
                self._rollback(tx)
                raise
            self._persist(list(tx.undo))
            changes = _merge_changes(tx.changes)
        if changes:
            for listener in self._listeners:
                listener(tx.key, changes)

    def _rollback(self, tx: Transaction) -> None:
        for (sobject, record_id), previous in tx.undo.items():
            table = self._records.setdefault(sobject, {})
            current = table.get(record_id)
            if current is not None:
                self._unindex(sobject, current)
            if previous is None:
                table.pop(record_id, None)
                if sobject == "OpportunityLineItem" and current is not None:
                    self._lines.get(current["OpportunityId"], set()).discard(record_id)
            else:
                table[record_id] = previous
                self._index(sobject, previous)

    def _remember(self, tx: Transaction, sobject: str, record_id: str) -> None:
        key = (sobject, record_id)
        if key not in tx.undo:
            existing = self._records.get(sobject, {}).get(record_id)
            tx.undo[key] = dict(existing) if existing is not None else None

    # -- external id index -------------------------------------------------------------------

    def _index(self, sobject: str, record: Record) -> None:
        if sobject == "OpportunityLineItem":
            self._lines.setdefault(record["OpportunityId"], set()).add(record["Id"])
        value = record.get(EXTERNAL_ID_FIELD)
        if value and not record.get("IsDeleted"):
            self._external_ids.setdefault(sobject, {})[str(value).lower()] = record["Id"]

    def _unindex(self, sobject: str, record: Record) -> None:
        value = record.get(EXTERNAL_ID_FIELD)
        if value:
            index = self._external_ids.get(sobject, {})
            if index.get(str(value).lower()) == record["Id"]:
                del index[str(value).lower()]

    # -- reads -------------------------------------------------------------------------------

    def definition(self, sobject: str) -> SObjectDef:
        definition = sobject_by_name(sobject)
        if definition is None:
            raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
        return definition

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[Record]:
        with self._lock:
            values = list(self._records.get(sobject, {}).values())
        if include_deleted:
            return values
        return [record for record in values if not record.get("IsDeleted")]

    def find(self, sobject: str, record_id: str, *, include_deleted: bool = False) -> Record | None:
        normalised = normalise_id(record_id)
        if normalised is None:
            return None
        record = self._records.get(sobject, {}).get(normalised)
        if record is None or (record.get("IsDeleted") and not include_deleted):
            return None
        return record

    def get(self, sobject: str, record_id: str) -> Record:
        definition = self.definition(sobject)
        normalised = normalise_id(record_id)
        if normalised is None or normalised[:3] != definition.key_prefix:
            raise SalesforceApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {record_id}",
            )
        record = self._records.get(definition.name, {}).get(normalised)
        if record is None:
            raise SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if record.get("IsDeleted"):
            raise SalesforceApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        return record

    def find_by_external_id(self, sobject: str, field_name: str, value: str) -> list[Record]:
        definition = self.definition(sobject)
        field_def = definition.field(field_name)
        if field_def is None or not (field_def.external_id or field_def.name == "Id"):
            raise SalesforceApiError(
                404,
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
            )
        if field_def.name == "Id":
            record = self.find(definition.name, value)
            return [record] if record is not None else []
        record_id = self._external_ids.get(definition.name, {}).get(value.lower())
        record = self._records.get(definition.name, {}).get(record_id) if record_id else None
        return [record] if record is not None else []

    # -- writes ------------------------------------------------------------------------------

    def create(self, tx: Transaction, sobject: str, values: dict[str, Any]) -> str:
        definition = self.definition(sobject)
        coerced = self._coerce_all(definition, values, creating=True)
        missing = [
            f.name for f in definition.fields.values() if f.required and coerced.get(f.name) is None
        ]
        if definition.name == "OpportunityLineItem" and not (
            coerced.get("PricebookEntryId") or coerced.get("Product2Id")
        ):
            missing.append("PricebookEntryId")
        if missing:
            raise SalesforceApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        record_id = make_id(definition.key_prefix, next(self._sequence))
        now = format_datetime(self.clock())
        record: Record = {name: None for name in definition.fields}
        record.update(coerced)
        record.update(
            {
                "Id": record_id,
                "IsDeleted": False,
                "CreatedDate": now,
                "CreatedById": self.user_id,
                "LastModifiedDate": now,
                "LastModifiedById": self.user_id,
                "SystemModstamp": now,
            }
        )
        self._check_unique(definition, record)
        self._remember(tx, definition.name, record_id)
        self._records.setdefault(definition.name, {})[record_id] = record
        self._index(definition.name, record)
        self._derive(tx, definition, record, set(coerced))
        changed = {k: v for k, v in record.items() if v is not None and k != "Id"}
        tx.changes.append(Change(definition.name, record_id, "CREATE", changed, [], self.clock()))
        return record_id

    def update(self, tx: Transaction, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        definition = self.definition(sobject)
        record = self.get(definition.name, record_id)
        coerced = self._coerce_all(definition, values, creating=False)
        self._apply_update(tx, definition, record, coerced)

    def _apply_update(
        self, tx: Transaction, definition: SObjectDef, record: Record, coerced: dict[str, Any]
    ) -> None:
        self._remember(tx, definition.name, record["Id"])
        before = dict(record)
        self._unindex(definition.name, record)
        record.update(coerced)
        try:
            self._check_unique(definition, record)
        except SalesforceApiError:
            record.clear()
            record.update(before)
            self._index(definition.name, record)
            raise
        self._derive(tx, definition, record, set(coerced))
        self._touch(record)
        self._index(definition.name, record)
        self._record_update(tx, definition.name, before, record)

    def _record_update(self, tx: Transaction, sobject: str, before: Record, after: Record) -> None:
        changed = {
            k: v
            for k, v in after.items()
            if before.get(k) != v and v is not None and k not in _LAST_MODIFIED_FIELDS
        }
        nulled = [k for k, v in after.items() if v is None and before.get(k) is not None]
        if changed or nulled:
            changed["LastModifiedDate"] = after["LastModifiedDate"]
            tx.changes.append(Change(sobject, after["Id"], "UPDATE", changed, nulled, self.clock()))

    def delete(self, tx: Transaction, sobject: str, record_id: str) -> None:
        definition = self.definition(sobject)
        record = self.get(definition.name, record_id)
        self._soft_delete(tx, definition.name, record)
        # Deleting a parent takes its dependent records with it, as Salesforce does.
        cascades = {
            "Opportunity": [("OpportunityLineItem", "OpportunityId")],
            "Account": [("Contact", "AccountId"), ("Opportunity", "AccountId")],
        }
        for child, parent_field in cascades.get(definition.name, []):
            if child == "OpportunityLineItem":
                line_ids = self._lines.get(record["Id"], set())
                children = [self._records[child][i] for i in line_ids if i in self._records[child]]
            else:
                children = self.records(child)
            for child_record in children:
                if child_record.get(parent_field) == record["Id"] and not child_record.get(
                    "IsDeleted"
                ):
                    self.delete(tx, child, child_record["Id"])
        if definition.name == "OpportunityLineItem":
            self._roll_up_amount(tx, record["OpportunityId"])

    def _soft_delete(self, tx: Transaction, sobject: str, record: Record) -> None:
        self._remember(tx, sobject, record["Id"])
        self._unindex(sobject, record)
        record["IsDeleted"] = True
        self._touch(record)
        tx.changes.append(Change(sobject, record["Id"], "DELETE", {}, [], self.clock()))

    def upsert(
        self,
        tx: Transaction,
        sobject: str,
        field_name: str,
        value: str,
        values: dict[str, Any],
    ) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        definition = self.definition(sobject)
        matches = self.find_by_external_id(definition.name, field_name, value)
        if len(matches) > 1:
            raise SalesforceApiError(300, "MULTIPLE_CHOICES", "Multiple records match")
        body_value = next((v for k, v in values.items() if k.lower() == field_name.lower()), None)
        if body_value is not None and str(body_value) != value:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"The value of {field_name} in the body does not match the URL ({value})",
                [field_name],
            )
        values = {k: v for k, v in values.items() if k.lower() != field_name.lower()}
        if matches:
            record = matches[0]
            coerced = self._coerce_all(definition, values, creating=False)
            self._apply_update(tx, definition, record, coerced)
            return record["Id"], False
        if field_name.lower() == "id":
            raise SalesforceApiError(
                404,
                "NOT_FOUND",
                "Provided external ID field does not exist or is not accessible: Id",
            )
        return self.create(tx, definition.name, {**values, field_name: value}), True

    def insert_many(self, sobject: str, rows: list[dict[str, Any]]) -> list[str]:
        """Fast path for seeding: one transaction, no per-record listener noise beyond it."""
        with self.transaction() as tx:
            return [self.create(tx, sobject, row) for row in rows]

    # -- rules -------------------------------------------------------------------------------

    def _touch(self, record: Record) -> None:
        now = format_datetime(self.clock())
        record["LastModifiedDate"] = now
        record["SystemModstamp"] = now
        record["LastModifiedById"] = self.user_id

    def _check_unique(self, definition: SObjectDef, record: Record) -> None:
        value = record.get(EXTERNAL_ID_FIELD)
        if not value:
            return
        holder = self._external_ids.get(definition.name, {}).get(str(value).lower())
        if holder is not None and holder != record["Id"]:
            raise SalesforceApiError(
                400,
                "DUPLICATE_VALUE",
                f"duplicate value found: {EXTERNAL_ID_FIELD} duplicates value on record with id: {holder}",
                [],
            )

    def _coerce_all(
        self, definition: SObjectDef, values: dict[str, Any], *, creating: bool
    ) -> dict[str, Any]:
        coerced: dict[str, Any] = {}
        for name, value in values.items():
            if name == "attributes":
                continue
            field_def = definition.field(name)
            if field_def is None:
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {definition.name}",
                    [],
                )
            allowed = field_def.createable if creating else field_def.updateable
            if not allowed:
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {field_def.name}. Please check the security "
                    "settings of this field and verify that it is read/write for your profile or "
                    "permission set.",
                    [field_def.name],
                )
            coerced[field_def.name] = self._coerce(definition, field_def, value)
        if not creating:
            missing = [
                name
                for name, value in coerced.items()
                if value is None and definition.fields[name].required
            ]
            if missing:
                raise SalesforceApiError(
                    400,
                    "REQUIRED_FIELD_MISSING",
                    f"Required fields are missing: [{', '.join(missing)}]",
                    missing,
                )
        return coerced

    def _coerce(self, definition: SObjectDef, field_def: FieldDef, value: Any) -> Any:
        if value is None:
            return None
        kind = field_def.type

        def wrong(expected: str) -> SalesforceApiError:
            return SalesforceApiError(
                400,
                "JSON_PARSER_ERROR",
                f"Cannot deserialize instance of {expected} from {type(value).__name__} value "
                f"{value!r} or request may be missing a required field",
                [field_def.name],
            )

        if kind in NUMERIC_TYPES:
            if isinstance(value, bool):
                raise wrong("double")
            try:
                return float(value)
            except (TypeError, ValueError):
                raise wrong("double") from None
        if kind is FieldType.BOOLEAN:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise wrong("boolean")
        if kind is FieldType.DATE:
            try:
                return date.fromisoformat(str(value)[:10]).isoformat()
            except ValueError:
                raise wrong("date") from None
        if kind is FieldType.DATETIME:
            try:
                return format_datetime(parse_datetime(str(value)))
            except ValueError:
                raise wrong("datetime") from None
        if kind is FieldType.REFERENCE:
            return self._coerce_reference(definition, field_def, str(value))
        if kind in TEXT_TYPES or kind is FieldType.ID:
            text = value if isinstance(value, str) else json.dumps(value)
            if len(text) > field_def.length:
                raise SalesforceApiError(
                    400,
                    "STRING_TOO_LONG",
                    f"{field_def.label}: data value too large: {text[:40]} (max length="
                    f"{field_def.length})",
                    [field_def.name],
                )
            if (
                kind is FieldType.PICKLIST
                and field_def.restricted_picklist
                and field_def.picklist
                and text not in field_def.picklist
            ):
                raise SalesforceApiError(
                    400,
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"{field_def.label}: bad value for restricted picklist field: {text}",
                    [field_def.name],
                )
            return text
        return value

    def _coerce_reference(self, definition: SObjectDef, field_def: FieldDef, value: str) -> str:
        normalised = normalise_id(value)
        target = sobject_by_prefix(normalised[:3]) if normalised else None
        if normalised is None or target is None or target.name != field_def.reference_to:
            raise SalesforceApiError(
                400,
                "MALFORMED_ID",
                f"{field_def.label}: id value of incorrect type: {value}",
                [field_def.name],
            )
        if self.find(target.name, normalised) is None:
            raise SalesforceApiError(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                "invalid cross reference id",
                [field_def.name],
            )
        return normalised

    def _derive(
        self, tx: Transaction, definition: SObjectDef, record: Record, written: set[str]
    ) -> None:
        if definition.name in ("Contact", "User"):
            record["Name"] = " ".join(p for p in (record.get("FirstName"), record["LastName"]) if p)
        elif definition.name == "Opportunity":
            stage = OPPORTUNITY_STAGES[record["StageName"]]
            if "StageName" in written and "Probability" not in written:
                record["Probability"] = stage[0]
            record["ForecastCategory"], record["IsClosed"], record["IsWon"] = stage[1:]
        elif definition.name == "PricebookEntry":
            product = self._records["Product2"][record["Product2Id"]]
            record["Name"] = product["Name"]
            record["ProductCode"] = product.get("ProductCode")
            record.setdefault("IsActive", True)
        elif definition.name == "OpportunityLineItem":
            self._derive_line(tx, record, written)

    def _derive_line(self, tx: Transaction, record: Record, written: set[str]) -> None:
        opportunity = self._records["Opportunity"][record["OpportunityId"]]
        entry = self._price_book_entry(record, opportunity)
        if entry is None:
            raise SalesforceApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: PricebookEntryId (pricebook entry is in a different "
                "pricebook than the one assigned to the opportunity)",
                ["PricebookEntryId"],
            )
        record["PricebookEntryId"] = entry["Id"]
        record["Product2Id"] = entry["Product2Id"]
        record["ListPrice"] = entry["UnitPrice"]
        product = self._records["Product2"][entry["Product2Id"]]
        record["Name"] = f"{opportunity['Name']} {product['Name']}"
        record["ProductCode"] = product.get("ProductCode")
        if "UnitPrice" in written and "TotalPrice" in written:
            raise SalesforceApiError(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: TotalPrice (Total Price and Unit Price cannot both be "
                "set)",
                ["TotalPrice"],
            )
        quantity = record["Quantity"]
        discount = (record.get("Discount") or 0.0) / 100.0
        if "TotalPrice" in written and record.get("TotalPrice") is not None:
            record["UnitPrice"] = round(record["TotalPrice"] / (quantity * (1 - discount)), 2)
        else:
            if record.get("UnitPrice") is None:
                record["UnitPrice"] = entry["UnitPrice"]
            record["TotalPrice"] = round(quantity * record["UnitPrice"] * (1 - discount), 2)
        if opportunity.get("Pricebook2Id") is None:
            self._remember(tx, "Opportunity", opportunity["Id"])
            opportunity["Pricebook2Id"] = entry["Pricebook2Id"]
        self._roll_up_amount(tx, record["OpportunityId"])

    def _price_book_entry(self, line: Record, opportunity: Record) -> Record | None:
        entries = self._records.get("PricebookEntry", {})
        if line.get("PricebookEntryId"):
            entry = entries.get(line["PricebookEntryId"])
            book = opportunity.get("Pricebook2Id")
            if entry is None or (book and entry["Pricebook2Id"] != book):
                return None
            return entry
        book = opportunity.get("Pricebook2Id") or self.standard_pricebook_id()
        for entry in entries.values():
            if (
                entry["Product2Id"] == line["Product2Id"]
                and entry["Pricebook2Id"] == book
                and not entry.get("IsDeleted")
            ):
                return entry
        return None

    def standard_pricebook_id(self) -> str | None:
        for book in self._records.get("Pricebook2", {}).values():
            if book.get("IsStandard"):
                return str(book["Id"])
        return None

    def ensure_standard_pricebook(self) -> str:
        existing = self.standard_pricebook_id()
        if existing:
            return existing
        with self.transaction() as tx:
            book_id = self.create(
                tx, "Pricebook2", {"Name": "Standard Price Book", "IsActive": True}
            )
            self._records["Pricebook2"][book_id]["IsStandard"] = True
        self._persist([("Pricebook2", book_id)])
        return book_id

    def _roll_up_amount(self, tx: Transaction, opportunity_id: str) -> None:
        opportunity = self._records["Opportunity"].get(opportunity_id)
        if opportunity is None or opportunity.get("IsDeleted"):
            return
        all_lines = self._records.get("OpportunityLineItem", {})
        lines = [
            all_lines[line_id]
            for line_id in self._lines.get(opportunity_id, ())
            if line_id in all_lines and not all_lines[line_id].get("IsDeleted")
        ]
        amount = round(sum(line["TotalPrice"] or 0.0 for line in lines), 2) if lines else None
        if lines and opportunity.get("Amount") != amount:
            self._remember(tx, "Opportunity", opportunity_id)
            before = dict(opportunity)
            opportunity["Amount"] = amount
            self._touch(opportunity)
            self._record_update(tx, "Opportunity", before, opportunity)


def _sequence_of(record_id: str) -> int:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    number = 0
    for char in record_id[5:15]:
        number = number * 62 + alphabet.index(char)
    return number


def _merge_changes(changes: list[Change]) -> list[Change]:
    """One change per record and transaction: a create then an update is still one CREATE."""
    merged: dict[tuple[str, str], Change] = {}
    for change in changes:
        key = (change.entity, change.record_id)
        earlier = merged.get(key)
        if earlier is None:
            merged[key] = change
            continue
        if change.change_type == "DELETE":
            merged[key] = change
            continue
        earlier.changed.update(change.changed)
        earlier.nulled = sorted(set(earlier.nulled) | set(change.nulled))
    return list(merged.values())
