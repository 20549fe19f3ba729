"""Raw delivery items (a webhook body, the rows of a file) -> canonical records -> inbox events.

Validation is all or nothing: ``parse_items`` returns every problem of every item, so a caller
stores nothing unless the whole batch is clean.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ValidationError

from handoff.canonical.delivery import Expense, TimeEntry
from handoff.canonical.limits import day_problems, edge_problems
from handoff.store.inbox import IncomingEvent
from handoff.store.repositories import content_hash

if TYPE_CHECKING:
    from handoff.config import LimitsConfig

# The handoff.yaml system (kind "http") whose webhook_secret signs POST /webhooks/time, and the
# inbox source name of every time-tracking event (webhook and file drop alike, so a file that
# repeats what the webhook delivered is deduplicated).
TIMETRACKER_SYSTEM = "timetracker"
FLOW = "time_entry"

ItemKind = Literal["time", "expense"]
DeliveryRecord = TimeEntry | Expense
MODELS: dict[str, type[TimeEntry] | type[Expense]] = {"time": TimeEntry, "expense": Expense}
KIND_ALIASES = {"time": "time", "time_entry": "time", "expense": "expense"}


class ItemError(BaseModel):
    """One problem of one item: which row (1-based), which column, what value, what is wrong."""

    row: int
    column: str
    value: str
    problem: str

    def line(self) -> str:
        return f"row {self.row}, column {self.column!r}, value {self.value!r}: {self.problem}"


class ParsedItems(BaseModel):
    records: list[TimeEntry | Expense]
    errors: list[ItemError]

    @property
    def ok(self) -> bool:
        return not self.errors


# The longest text each field may hold, checked before anything else looks at an item. Ids and
# references fit the hub's 255-character keys once combined ("time:<source>:<source_id>@<rev>");
# a description is what a person types about a few hours of work, not a document: a longer one
# is refused (naming the field), never cut short, so what reaches Odoo is what was sent.
FIELD_MAX_LENGTHS: dict[str, int] = {
    "kind": 16,
    "source": 32,
    "source_id": 128,
    "consultant": 255,
    "project_ref": 128,
    "deal_ref": 128,
    "task_ref": 255,
    "role": 128,
    "revision": 64,
    "description": 10_000,
    "category": 128,
    "receipt_ref": 255,
}
MAX_OTHER_FIELD_LENGTH = 64  # dates, numbers and flags written as text; unknown fields
MAX_FIELD_NAME_LENGTH = 64
ECHO_LENGTH = 80  # how much of a refused value an error repeats


def _too_long(row: int, raw: Mapping[str, Any]) -> list[ItemError]:
    problems: list[ItemError] = []
    for key, value in raw.items():
        name = str(key)
        if len(name) > MAX_FIELD_NAME_LENGTH:
            problems.append(
                ItemError(
                    row=row,
                    column=name[:ECHO_LENGTH] + "...",
                    value="",
                    problem=f"a field name of {len(name)} characters "
                    f"(at most {MAX_FIELD_NAME_LENGTH})",
                )
            )
            continue
        limit = FIELD_MAX_LENGTHS.get(name, MAX_OTHER_FIELD_LENGTH)
        if isinstance(value, str) and len(value) > limit:
            problems.append(
                ItemError(
                    row=row,
                    column=name,
                    value=value[:ECHO_LENGTH] + "...",
                    problem=f"{len(value)} characters; {name} holds at most {limit}",
                )
            )
    return problems


def _clean(raw: Mapping[str, Any]) -> dict[str, Any]:
    """Blank cells mean "not given" (a CSV has no null), so the model's defaults apply."""
    return {
        str(k).strip(): (v.strip() if isinstance(v, str) else v)
        for k, v in raw.items()
        if k is not None and not (isinstance(v, str) and not v.strip()) and v is not None
    }


def parse_item(
    raw: Any,
    row: int,
    *,
    kind: ItemKind | None = None,
    source: str = TIMETRACKER_SYSTEM,
    limits: LimitsConfig | None = None,
    today: dt.date | None = None,
) -> tuple[DeliveryRecord | None, list[ItemError]]:
    """One item -> its record, or every problem with it. ``kind`` forces the kind (file drops);
    otherwise the item's own ``kind`` field says it ("time" or "expense"). Besides the model's
    own rules, the business limits (``limits``: handoff.yaml ``limits:``, else the defaults;
    ``handoff.canonical.limits``) must hold: hours, amounts, the date window."""
    if not isinstance(raw, Mapping):
        return None, [
            ItemError(
                row=row, column="-", value=repr(raw)[:80], problem="an item must be a JSON object"
            )
        ]
    if too_long := _too_long(row, raw):
        return None, too_long
    values = _clean(raw)
    given = values.pop("kind", None)
    resolved = KIND_ALIASES.get(str(given)) if given is not None else None
    if given is not None and resolved is None:
        return None, [
            ItemError(
                row=row, column="kind", value=str(given), problem="kind must be 'time' or 'expense'"
            )
        ]
    if kind is not None and resolved is not None and resolved != kind:
        return None, [
            ItemError(
                row=row,
                column="kind",
                value=str(given),
                problem=f"this import takes only {kind!r} items",
            )
        ]
    chosen = kind or resolved
    if chosen is None:
        return None, [
            ItemError(
                row=row,
                column="kind",
                value="",
                problem="missing: every item needs kind 'time' or 'expense'",
            )
        ]
    values.setdefault("source", source)
    try:
        record = MODELS[chosen].model_validate(values)
    except ValidationError as error:
        return None, [_item_error(row, values, e) for e in error.errors()]
    if beyond := edge_problems(record, limits, today):
        return None, [
            ItemError(row=row, column=p.field, value=p.value, problem=p.problem) for p in beyond
        ]
    return record, []


def _item_error(row: int, values: Mapping[str, Any], error: Any) -> ItemError:
    loc = [str(part) for part in error.get("loc", ())]
    column = ".".join(loc) if loc else "project_ref/deal_ref"
    value = values.get(loc[0]) if loc else ""
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    shown = "" if value is None else str(value)
    if len(shown) > ECHO_LENGTH:
        shown = shown[:ECHO_LENGTH] + "..."
    return ItemError(row=row, column=column, value=shown, problem=message)


def parse_items(
    items: Iterable[Any],
    *,
    kind: ItemKind | None = None,
    source: str = TIMETRACKER_SYSTEM,
    limits: LimitsConfig | None = None,
    today: dt.date | None = None,
) -> ParsedItems:
    """Every item parsed (``parse_item``), then the hours of each consultant and day across the
    items delivered together (an entry counted once, by its last revision here) held to
    ``limits.max_hours_per_day``."""
    records: list[TimeEntry | Expense] = []
    errors: list[ItemError] = []
    seen: dict[tuple[str, str], int] = {}
    latest: dict[str, tuple[int, TimeEntry]] = {}
    for row, raw in enumerate(items, start=1):
        record, problems = parse_item(
            raw, row, kind=kind, source=source, limits=limits, today=today
        )
        errors += problems
        if record is None:
            continue
        identity = (record.key, record.revision or content_hash(record.model_dump(mode="json")))
        if identity in seen:
            errors.append(
                ItemError(
                    row=row,
                    column="source_id",
                    value=record.source_id,
                    problem=f"same entry and revision as row {seen[identity]}",
                )
            )
            continue
        seen[identity] = row
        records.append(record)
        if isinstance(record, TimeEntry):
            latest[record.key] = (row, record)
    for row, problem in day_problems(sorted(latest.values(), key=lambda pair: pair[0]), limits):
        errors.append(
            ItemError(row=row, column=problem.field, value=problem.value, problem=problem.problem)
        )
    return ParsedItems(records=records, errors=errors)


# -- inbox events --------------------------------------------------------------------------------


def kind_of(record: DeliveryRecord) -> ItemKind:
    return "time" if isinstance(record, TimeEntry) else "expense"


def entity_key(record: DeliveryRecord, partitions: int) -> str:
    """The ordered partition of the entry, one of ``partitions`` (handoff.yaml
    ``time_entries.partitions``): a stable hash of the entry key, so every run that
    touches an entry (a batch holding one of its revisions, a run of its own) is in the same
    partition and they run in arrival order, never two at a time (``handoff.timesheets.intake``).
    Entries of one project may land in different partitions: nothing orders them but their own
    revisions."""
    bucket = zlib.crc32(record.key.encode()) % max(1, partitions)
    return f"time-entries:{bucket}"


def event_id(record: DeliveryRecord) -> str:
    """Entry key + revision: a redelivery is a duplicate, an edit is a new event. Without a
    revision from the source, the content stands for it."""
    revision = record.revision or content_hash(record.model_dump(mode="json"))[:16]
    return f"{record.key}@{revision}"


def to_event(record: DeliveryRecord, partitions: int) -> IncomingEvent:
    kind = kind_of(record)
    return IncomingEvent(
        source_event_id=event_id(record),
        entity_key=entity_key(record, partitions),
        kind="time_entry" if kind == "time" else "expense",
        occurred_at=record.updated_at,
        payload={"kind": kind, "record": record.model_dump(mode="json")},
        flow=FLOW,
    )


def to_events(records: Sequence[DeliveryRecord], partitions: int) -> list[IncomingEvent]:
    """The inbox events of ``records``, spread over ``partitions`` ordered partitions."""
    return [to_event(record, partitions) for record in records]


def record_of(payload: Mapping[str, Any]) -> DeliveryRecord:
    """The record an inbox event carries (written by ``to_event``)."""
    return MODELS[payload["kind"]].model_validate(payload["record"])
