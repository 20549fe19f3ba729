"""HubSpot CRM operations on lists: batch CRUD, incremental search, associations, pipelines,
custom properties and the billing write-back.

Batches go out in chunks of 100 (HubSpot's limit) and come back as one outcome per input: a 207
spreads its `errors[]` over the inputs they name; a chunk refused as a whole (400/409 for one bad
input) is split in halves until the bad inputs stand alone, so one bad record never costs the rest.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from handoff.connectors.hubspot.client import HubSpotClient, HubSpotRequestError

BATCH_SIZE = 100
SEARCH_PAGE_SIZE = 200
SEARCH_RESULT_CAP = 10_000

PRIMARY_DEAL_COMPANY = (5,)
PRIMARY_CONTACT_COMPANY = (1,)
LINE_ITEM_PROPERTIES = (
    "name",
    "description",
    "quantity",
    "price",
    "discount",
    "amount",
    "hs_product_id",
    "hs_sku",
    "recurringbillingfrequency",
)

LAST_MODIFIED = {
    "contacts": "lastmodifieddate",
    "companies": "hs_lastmodifieddate",
    "deals": "hs_lastmodifieddate",
    "line_items": "hs_lastmodifieddate",
    "products": "hs_lastmodifieddate",
}


@dataclass
class HubSpotRecord:
    id: str
    properties: dict[str, str | None]
    created_at: str | None = None
    updated_at: str | None = None
    archived: bool = False
    new: bool | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> HubSpotRecord:
        return cls(
            id=str(body["id"]),
            properties=dict(body.get("properties") or {}),
            created_at=body.get("createdAt"),
            updated_at=body.get("updatedAt"),
            archived=bool(body.get("archived", False)),
            new=body.get("new"),
        )

    def as_mapping_input(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "properties": self.properties,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            "archived": self.archived,
        }


@dataclass
class RecordError:
    category: str
    message: str
    status: int | None = None


@dataclass
class RecordOutcome:
    """The fate of one input: `record` on success, `error` otherwise. `key` names the input."""

    key: str
    record: HubSpotRecord | None = None
    error: RecordError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.record is not None


# -- pipelines --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stage:
    id: str
    label: str
    probability: Decimal
    is_closed: bool

    @property
    def is_won(self) -> bool:
        # HubSpot marks won stages by probability 1.0 (closed); ids differ per account.
        return self.probability >= Decimal("1") and self.is_closed


@dataclass(frozen=True)
class Pipeline:
    id: str
    label: str
    stages: tuple[Stage, ...]

    def stage(self, stage_id: str) -> Stage | None:
        return next((s for s in self.stages if s.id == stage_id), None)

    @property
    def won_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.is_won)


@dataclass
class PipelineBook:
    pipelines: dict[str, Pipeline] = field(default_factory=dict)

    def stage(self, pipeline_id: str | None, stage_id: str | None) -> Stage | None:
        pipeline = self.pipelines.get(pipeline_id or "default")
        if pipeline is None or stage_id is None:
            return None
        return pipeline.stage(stage_id)

    def is_won(self, pipeline_id: str | None, stage_id: str | None) -> bool:
        stage = self.stage(pipeline_id, stage_id)
        return bool(stage and stage.is_won)


# -- write-back properties ------------------------------------------------------------------------
class CustomProperty(BaseModel):
    name: str
    label: str
    type: str
    fieldType: str
    description: str


HANDOFF_PROPERTIES: tuple[CustomProperty, ...] = (
    CustomProperty(
        name="handoff_odoo_order",
        label="Odoo sales order",
        type="string",
        fieldType="text",
        description="Reference of the Odoo sales order created for this deal (e.g. S00042).",
    ),
    CustomProperty(
        name="handoff_odoo_project_url",
        label="Odoo project",
        type="string",
        fieldType="text",
        description="Link to the Odoo project delivering this deal.",
    ),
    CustomProperty(
        name="handoff_invoiced_to_date",
        label="Invoiced to date",
        type="number",
        fieldType="number",
        description="Total invoiced in Odoo (posted invoices minus credit notes), deal currency.",
    ),
    CustomProperty(
        name="handoff_paid_to_date",
        label="Paid to date",
        type="number",
        fieldType="number",
        description="Total paid against those invoices.",
    ),
    CustomProperty(
        name="handoff_outstanding",
        label="Outstanding",
        type="number",
        fieldType="number",
        description="Invoiced but not yet paid.",
    ),
    CustomProperty(
        name="handoff_overdue",
        label="Overdue",
        type="number",
        fieldType="number",
        description="Part of the outstanding amount past its due date.",
    ),
    CustomProperty(
        name="handoff_last_invoice_number",
        label="Last invoice",
        type="string",
        fieldType="text",
        description="Number of the latest posted Odoo invoice.",
    ),
    CustomProperty(
        name="handoff_last_invoice_date",
        label="Last invoice date",
        type="date",
        fieldType="date",
        description="Date of the latest posted Odoo invoice.",
    ),
    CustomProperty(
        name="handoff_sync_status",
        label="Handoff sync status",
        type="string",
        fieldType="text",
        description="'synced', 'pending' or 'error: <reason>' as last written by Handoff.",
    ),
)
PROPERTY_GROUP = {"deals": "dealinformation", "companies": "companyinformation"}


class BillingStatus(BaseModel):
    """What Handoff writes back to a HubSpot deal or company. None leaves a property unchanged."""

    odoo_order: str | None = None
    odoo_project_url: str | None = None
    invoiced_to_date: Decimal | None = None
    paid_to_date: Decimal | None = None
    outstanding: Decimal | None = None
    overdue: Decimal | None = None
    last_invoice_number: str | None = None
    last_invoice_date: date | None = None
    sync_status: str | None = None

    def to_properties(self) -> dict[str, str]:
        values: dict[str, str] = {}
        for name, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, Decimal):
                text = format(value.quantize(Decimal("0.01")), "f")
            elif isinstance(value, date):
                text = value.isoformat()
            else:
                text = str(value)
            values[f"handoff_{name}"] = text
        return values


@dataclass
class IncrementalSync:
    pages: Iterator[list[HubSpotRecord]]
    next_cursor_ms: int


# -- adapter -------------------------------------------------------------------------------------
class HubSpotAdapter:
    def __init__(
        self, client: HubSpotClient, *, search_result_cap: int = SEARCH_RESULT_CAP
    ) -> None:
        self.client = client
        self.search_result_cap = search_result_cap
        self._pipelines: PipelineBook | None = None
        self.searches = 0
        self.window_splits = 0
        # (object type, property names) already checked or created by this adapter: the
        # write-back of every deal would otherwise list the properties again (2 calls each).
        self._ensured: set[tuple[str, tuple[str, ...]]] = set()
        self._ensuring = threading.Lock()  # concurrent first write-backs check them once

    # -- batch CRUD ----------------------------------------------------------------------------
    def read(
        self,
        object_type: str,
        ids: Sequence[str],
        properties: Sequence[str] = (),
        *,
        id_property: str | None = None,
    ) -> list[RecordOutcome]:
        """Read records by id, or by the values of a unique `id_property`; keys are those values."""
        names = list(dict.fromkeys([*properties, *([id_property] if id_property else [])]))
        # HubSpot compares unique values (emails) case-insensitively; answer with the caller's key.
        keys = {str(i).lower(): str(i) for i in ids}

        def send(chunk: list[tuple[str, Any]]) -> dict[str, Any]:
            body: dict[str, Any] = {
                "inputs": [{"id": key} for key, _ in chunk],
                "properties": names,
            }
            if id_property:
                body["idProperty"] = id_property
            return self.client.post(f"/crm/v3/objects/{object_type}/batch/read", body)

        def key_of(result: dict[str, Any]) -> str:
            if not id_property:
                return str(result["id"])
            value = str(result["properties"].get(id_property) or "")
            return keys.get(value.lower(), value)

        return self._batched([(str(i), None) for i in ids], send, key_of)

    def create(self, object_type: str, inputs: Sequence[dict[str, Any]]) -> list[RecordOutcome]:
        """Create records; outcome keys are the input positions ("0", "1", ...)."""

        def send(chunk: list[tuple[str, Any]]) -> dict[str, Any]:
            return self.client.post(
                f"/crm/v3/objects/{object_type}/batch/create",
                {
                    "inputs": [
                        {"properties": props, "objectWriteTraceId": key} for key, props in chunk
                    ]
                },
            )

        return self._batched(
            [(str(n), props) for n, props in enumerate(inputs)],
            send,
            lambda r: str(r.get("objectWriteTraceId")),
        )

    def update(self, object_type: str, updates: dict[str, dict[str, Any]]) -> list[RecordOutcome]:
        def send(chunk: list[tuple[str, Any]]) -> dict[str, Any]:
            return self.client.post(
                f"/crm/v3/objects/{object_type}/batch/update",
                {"inputs": [{"id": key, "properties": props} for key, props in chunk]},
            )

        return self._batched(list(updates.items()), send, lambda r: str(r["id"]))

    def upsert(
        self, object_type: str, id_property: str, rows: dict[str, dict[str, Any]]
    ) -> list[RecordOutcome]:
        """Create or update by a unique property (e.g. contact email); keys are its values."""

        def send(chunk: list[tuple[str, Any]]) -> dict[str, Any]:
            return self.client.post(
                f"/crm/v3/objects/{object_type}/batch/upsert",
                {
                    "inputs": [
                        {
                            "id": key,
                            "idProperty": id_property,
                            "properties": props,
                            "objectWriteTraceId": key,
                        }
                        for key, props in chunk
                    ]
                },
            )

        return self._batched(
            list(rows.items()),
            send,
            lambda r: str(r.get("objectWriteTraceId") or r["properties"].get(id_property)),
        )

    def archive(self, object_type: str, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            self.client.post(
                f"/crm/v3/objects/{object_type}/batch/archive",
                {"inputs": [{"id": i} for i in chunk]},
            )

    def _batched(self, items: list[tuple[str, Any]], send: Any, key_of: Any) -> list[RecordOutcome]:
        outcomes: dict[str, RecordOutcome] = {}
        for start in range(0, len(items), BATCH_SIZE):
            self._run_chunk(items[start : start + BATCH_SIZE], send, key_of, outcomes)
        return [outcomes[key] for key, _ in items if key in outcomes]

    def _run_chunk(
        self,
        chunk: list[tuple[str, Any]],
        send: Any,
        key_of: Any,
        outcomes: dict[str, RecordOutcome],
    ) -> None:
        try:
            body = send(chunk)
        except HubSpotRequestError as error:
            if error.status not in (400, 409):
                raise  # auth, scopes, unknown object type: no input is to blame alone
            if len(chunk) == 1:
                key = chunk[0][0]
                outcomes[key] = RecordOutcome(
                    key, error=RecordError(error.category or "ERROR", error.message, error.status)
                )
                return
            middle = len(chunk) // 2
            self._run_chunk(chunk[:middle], send, key_of, outcomes)
            self._run_chunk(chunk[middle:], send, key_of, outcomes)
            return
        for result in (body or {}).get("results", []):
            record = HubSpotRecord.from_json(result)
            key = key_of(result)
            outcomes[key] = RecordOutcome(key, record=record)
        unmatched = {key for key, _ in chunk if key not in outcomes}
        for failure in (body or {}).get("errors", []):
            context = failure.get("context") or {}
            named = [
                str(v)
                for name in ("ids", "objectWriteTraceId", "id")
                for v in context.get(name, [])
            ]
            targets = [k for k in named if k in unmatched] or sorted(unmatched)
            for key in targets:
                outcomes[key] = RecordOutcome(
                    key,
                    error=RecordError(
                        failure.get("category", "ERROR"), failure.get("message", ""), 207
                    ),
                )
                unmatched.discard(key)
        for key in unmatched:
            outcomes[key] = RecordOutcome(
                key,
                error=RecordError(
                    "MISSING_RESULT", "HubSpot returned no result for this input.", None
                ),
            )

    def get(
        self, object_type: str, object_id: str, properties: Sequence[str] = ()
    ) -> HubSpotRecord:
        params = {"properties": ",".join(properties)} if properties else {}
        return HubSpotRecord.from_json(
            self.client.get(f"/crm/v3/objects/{object_type}/{object_id}", **params)
        )

    # -- search and incremental sync -------------------------------------------------------------
    def search(self, object_type: str, request: dict[str, Any]) -> dict[str, Any]:
        self.searches += 1
        return self.client.post(f"/crm/v3/objects/{object_type}/search", request)

    def iter_modified(
        self,
        object_type: str,
        since_ms: int,
        until_ms: int,
        properties: Sequence[str] = (),
    ) -> Iterator[list[HubSpotRecord]]:
        """Pages of every record last modified in [since_ms, until_ms).

        A window whose total exceeds the search cap (10,000) is split in time into windows that
        fit; within a window pages are read by offset in last-modified order. If the window's
        total changes while paging (a record was modified and left it), offsets have shifted, so
        the window is read again from the start and records already yielded are skipped.
        """
        prop = LAST_MODIFIED[object_type]
        names = list(dict.fromkeys([*properties, prop]))
        windows: list[tuple[int, int]] = [(since_ms, until_ms)]
        while windows:
            low, high = windows.pop(0)
            if high <= low:
                continue
            seen: set[str] = set()
            first_total: int | None = None
            after = 0
            restarts = 0
            while True:
                body = self.search(object_type, self._window_request(prop, low, high, names, after))
                total = int(body.get("total", 0))
                if first_total is None and total > self.search_result_cap:
                    # Results come oldest first: nothing in the window is older than the first.
                    results = body.get("results") or []
                    oldest = (
                        _epoch_ms((results[0].get("properties") or {}).get(prop))
                        if results
                        else None
                    )
                    if oldest is not None and low < oldest < high:
                        low = oldest
                    if high - low > 1:
                        windows[0:0] = _split(low, high, total, self.search_result_cap)
                        self.window_splits += 1
                        break
                    # One millisecond holding more than the cap: page by record id instead.
                    yield from self._iter_by_id(object_type, prop, low, high, names)
                    break
                if first_total is not None and total != first_total and restarts < 3:
                    restarts += 1
                    first_total, after = None, 0
                    continue
                first_total = total
                fresh = [HubSpotRecord.from_json(r) for r in body.get("results", [])]
                fresh = [r for r in fresh if r.id not in seen]
                seen.update(r.id for r in fresh)
                if fresh:
                    yield fresh
                next_after = ((body.get("paging") or {}).get("next") or {}).get("after")
                if next_after is None:
                    break
                after = int(next_after)

    def _window_request(
        self, prop: str, low: int, high: int, names: list[str], after: int
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": prop, "operator": "GTE", "value": str(low)},
                        {"propertyName": prop, "operator": "LT", "value": str(high)},
                    ]
                }
            ],
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": names,
            "limit": SEARCH_PAGE_SIZE,
        }
        if after:
            request["after"] = str(after)
        return request

    def _iter_by_id(
        self, object_type: str, prop: str, low: int, high: int, names: list[str]
    ) -> Iterator[list[HubSpotRecord]]:
        last_id = "0"
        while True:
            body = self.search(
                object_type,
                {
                    "filterGroups": [
                        {
                            "filters": [
                                {"propertyName": prop, "operator": "GTE", "value": str(low)},
                                {"propertyName": prop, "operator": "LT", "value": str(high)},
                                {
                                    "propertyName": "hs_object_id",
                                    "operator": "GT",
                                    "value": last_id,
                                },
                            ]
                        }
                    ],
                    "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
                    "properties": names,
                    "limit": SEARCH_PAGE_SIZE,
                },
            )
            page = [HubSpotRecord.from_json(r) for r in body.get("results", [])]
            if not page:
                return
            yield page
            last_id = page[-1].id

    def sync_modified(
        self,
        object_type: str,
        cursor_ms: int,
        properties: Sequence[str] = (),
        *,
        lag_ms: int = 5_000,
        now_ms: int | None = None,
    ) -> IncrementalSync:
        """Everything modified since `cursor_ms`, up to now minus the search-index lag.

        Save `next_cursor_ms` only after every page has been handled.
        """
        until = (now_ms if now_ms is not None else epoch_ms(datetime.now().astimezone())) - lag_ms
        until = max(until, cursor_ms)
        return IncrementalSync(
            pages=self.iter_modified(object_type, cursor_ms, until, properties),
            next_cursor_ms=until,
        )

    # -- associations v4 -------------------------------------------------------------------------
    def associate_default(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.client.put(
            f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}"
        )

    def associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str, type_ids: Sequence[int]
    ) -> None:
        self.client.put(
            f"/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}",
            [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": t} for t in type_ids],
        )

    def associations(
        self, from_type: str, ids: Sequence[str], to_type: str
    ) -> dict[str, dict[str, list[int]]]:
        """from id -> {to id: [type ids]}, read in batches of 100."""
        linked: dict[str, dict[str, list[int]]] = {str(i): {} for i in ids}
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = ids[start : start + BATCH_SIZE]
            body = self.client.post(
                f"/crm/v4/associations/{from_type}/{to_type}/batch/read",
                {"inputs": [{"id": str(i)} for i in chunk]},
            )
            for result in (body or {}).get("results", []):
                targets = linked.setdefault(str(result["from"]["id"]), {})
                for to in result.get("to", []):
                    targets[str(to["toObjectId"])] = [
                        int(t["typeId"]) for t in to.get("associationTypes", [])
                    ]
        return linked

    def expand_deals(
        self,
        deals: Sequence[HubSpotRecord],
        *,
        with_lines: bool = True,
        line_properties: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """Deals as mapping inputs: record + `associations` (companies, contacts) + `line_items`."""
        ids = [d.id for d in deals]
        companies = self.associations("deals", ids, "companies")
        contacts = self.associations("deals", ids, "contacts")
        lines: dict[str, dict[str, list[int]]] = {}
        line_records: dict[str, HubSpotRecord] = {}
        if with_lines:
            lines = self.associations("deals", ids, "line_items")
            wanted = sorted({line_id for links in lines.values() for line_id in links}, key=int)
            names = list(line_properties) or list(LINE_ITEM_PROPERTIES)
            for outcome in self.read("line_items", wanted, names):
                if outcome.record is not None:
                    line_records[outcome.key] = outcome.record
        expanded = []
        for deal in deals:
            item = deal.as_mapping_input()
            item["associations"] = {
                "companies": association_view(companies.get(deal.id, {}), PRIMARY_DEAL_COMPANY),
                "contacts": association_view(contacts.get(deal.id, {}), ()),
            }
            item["line_items"] = [
                line_records[line_id].as_mapping_input()
                for line_id in sorted(lines.get(deal.id, {}), key=int)
                if line_id in line_records
            ]
            expanded.append(item)
        return expanded

    def expand_contacts(self, contacts: Sequence[HubSpotRecord]) -> list[dict[str, Any]]:
        """Contacts as mapping inputs, with `associations.companies` (primary = type 1)."""
        companies = self.associations("contacts", [c.id for c in contacts], "companies")
        expanded = []
        for contact in contacts:
            item = contact.as_mapping_input()
            item["associations"] = {
                "companies": association_view(
                    companies.get(contact.id, {}), PRIMARY_CONTACT_COMPANY
                )
            }
            expanded.append(item)
        return expanded

    # -- pipelines -----------------------------------------------------------------------------
    def pipelines(self, object_type: str = "deals", *, refresh: bool = False) -> PipelineBook:
        if self._pipelines is not None and not refresh:
            return self._pipelines
        body = self.client.get(f"/crm/v3/pipelines/{object_type}")
        book = PipelineBook()
        for raw in body.get("results", []):
            stages = tuple(
                Stage(
                    id=str(s["id"]),
                    label=str(s.get("label", "")),
                    probability=Decimal(
                        str((s.get("metadata") or {}).get("probability", "0") or "0")
                    ),
                    is_closed=str((s.get("metadata") or {}).get("isClosed", "false")).lower()
                    == "true",
                )
                for s in raw.get("stages", [])
            )
            book.pipelines[str(raw["id"])] = Pipeline(
                str(raw["id"]), str(raw.get("label", "")), stages
            )
        self._pipelines = book
        return book

    # -- custom properties and write-back ----------------------------------------------------------
    def ensure_properties(
        self,
        object_types: Sequence[str] = ("deals", "companies"),
        definitions: Sequence[CustomProperty] = HANDOFF_PROPERTIES,
    ) -> list[str]:
        """Create the custom properties write-back needs where missing; answer what was created.

        Checked once per object type for the life of the adapter (the properties are the
        account's schema, not data: a worker does not need to list them before every write).
        """
        names = tuple(d.name for d in definitions)
        if all((t, names) in self._ensured for t in object_types):
            return []
        with self._ensuring:
            return self._ensure_properties(object_types, definitions, names)

    def _ensure_properties(
        self,
        object_types: Sequence[str],
        definitions: Sequence[CustomProperty],
        names: tuple[str, ...],
    ) -> list[str]:
        created: list[str] = []
        for object_type in object_types:
            if (object_type, names) in self._ensured:
                continue
            existing = {
                p["name"]
                for p in self.client.get(f"/crm/v3/properties/{object_type}").get("results", [])
            }
            for definition in definitions:
                if definition.name in existing:
                    continue
                body = definition.model_dump() | {"groupName": PROPERTY_GROUP[object_type]}
                try:
                    self.client.post(f"/crm/v3/properties/{object_type}", body)
                except HubSpotRequestError as error:
                    if error.status != 409:  # created meanwhile by another worker
                        raise
                created.append(f"{object_type}.{definition.name}")
            self._ensured.add((object_type, names))
        return created

    def write_back(
        self, object_type: str, statuses: dict[str, BillingStatus]
    ) -> list[RecordOutcome]:
        """Write Odoo references and billing status onto deals or companies (batch update)."""
        updates = {record_id: status.to_properties() for record_id, status in statuses.items()}
        return self.update(object_type, {k: v for k, v in updates.items() if v})


def association_view(
    links: dict[str, list[int]], primary_type_ids: Sequence[int]
) -> dict[str, Any]:
    """`{primary, ids}` for a mapping's `associations.<type>` path."""
    ids = sorted(links, key=int)
    primary = next((i for i in ids if set(links[i]) & set(primary_type_ids)), None)
    if primary is None and len(ids) == 1:
        primary = ids[0]
    return {"primary": primary, "ids": ids}


def _split(low: int, high: int, total: int, cap: int) -> list[tuple[int, int]]:
    """Equal time slices, enough that each holds under the cap if records are spread evenly."""
    parts = min(high - low, max(2, math.ceil(total / (cap * 0.8))))
    step = (high - low) / parts
    edges = [low + round(step * n) for n in range(parts)] + [high]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _epoch_ms(value: Any) -> int | None:
    """Epoch ms of a HubSpot datetime property value (ISO 8601 or epoch ms)."""
    if not value:
        return None
    text = str(value)
    if text.isdigit():
        return int(text)
    try:
        return epoch_ms(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
