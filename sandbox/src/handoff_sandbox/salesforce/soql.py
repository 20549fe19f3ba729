"""A real subset of SOQL: parsed into a small plan, then run over the org's records.

Supported: ``SELECT field, Parent.Field, ... | COUNT() FROM Object [WHERE condition]
[ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]`` where a condition
combines comparisons (``= != <> < > <= >=``, ``[NOT] IN (...)``, ``LIKE``) with AND, OR, NOT and
parentheses. Values are 'strings', numbers, true/false, null, date (2024-01-31) and datetime
(2024-01-31T10:00:00Z, up to six fractional digits as in .123456Z, offsets +0000 and +01:00)
literals, and the date keywords TODAY, YESTERDAY, TOMORROW, LAST_N_DAYS:n, NEXT_N_DAYS:n,
N_DAYS_AGO:n, LAST_90_DAYS, NEXT_90_DAYS, THIS_WEEK, LAST_WEEK, NEXT_WEEK (weeks start on Sunday,
the en_US locale), THIS_MONTH, LAST_MONTH, NEXT_MONTH, THIS_YEAR, LAST_YEAR, NEXT_YEAR. Date
keywords are evaluated in UTC (Salesforce uses the running user's time zone). Type rules follow
Salesforce: dates and datetimes are never quoted, text comparison and LIKE ignore case.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from handoff_sandbox.salesforce.errors import SalesforceApiError, malformed_query
from handoff_sandbox.salesforce.ids import normalise_id
from handoff_sandbox.salesforce.schema import (
    NUMERIC_TYPES,
    FieldDef,
    FieldType,
    SObjectDef,
    sobject_by_name,
)
from handoff_sandbox.salesforce.store import OrgStore, Record, format_datetime, parse_datetime

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
  | (?P<word>[A-Za-z_][A-Za-z0-9_.]*(?::\d+)?)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_KEYWORDS = {
    "select", "from", "where", "and", "or", "not", "in", "like", "order", "by", "asc", "desc",
    "nulls", "first", "last", "limit", "offset", "null", "true", "false", "count",
}  # fmt: skip


@dataclass
class Token:
    kind: str
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise malformed_query(f"unexpected token: '{text[position : position + 10]}'")
        kind = match.lastgroup or ""
        if kind != "space":
            tokens.append(Token(kind, match.group(), position))
        position = match.end()
    return tokens


# -- literals --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Literal:
    kind: str  # string | number | boolean | null | date | datetime | date_range
    value: Any


def _unquote(token: str) -> str:
    body = token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


def _date_keyword(word: str, today: date) -> tuple[date, date] | None:
    """A date keyword as the half-open day range [start, end) it stands for."""
    name, _, count_text = word.upper().partition(":")
    if count_text:
        count = int(count_text)
        if name == "LAST_N_DAYS":
            return today - timedelta(days=count), today + timedelta(days=1)
        if name == "NEXT_N_DAYS":
            return today + timedelta(days=1), today + timedelta(days=count + 1)
        if name == "N_DAYS_AGO":
            return today - timedelta(days=count), today - timedelta(days=count - 1)
        return None
    week_start = today - timedelta(days=(today.weekday() + 1) % 7)  # Sunday
    month_start = today.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    year_start = today.replace(month=1, day=1)
    ranges: dict[str, tuple[date, date]] = {
        "TODAY": (today, today + timedelta(days=1)),
        "YESTERDAY": (today - timedelta(days=1), today),
        "TOMORROW": (today + timedelta(days=1), today + timedelta(days=2)),
        "LAST_90_DAYS": (today - timedelta(days=90), today + timedelta(days=1)),
        "NEXT_90_DAYS": (today + timedelta(days=1), today + timedelta(days=91)),
        "THIS_WEEK": (week_start, week_start + timedelta(days=7)),
        "LAST_WEEK": (week_start - timedelta(days=7), week_start),
        "NEXT_WEEK": (week_start + timedelta(days=7), week_start + timedelta(days=14)),
        "THIS_MONTH": (month_start, next_month),
        "LAST_MONTH": ((month_start - timedelta(days=1)).replace(day=1), month_start),
        "NEXT_MONTH": (next_month, (next_month + timedelta(days=32)).replace(day=1)),
        "THIS_YEAR": (year_start, year_start.replace(year=today.year + 1)),
        "LAST_YEAR": (year_start.replace(year=today.year - 1), year_start),
        "NEXT_YEAR": (
            year_start.replace(year=today.year + 1),
            year_start.replace(year=today.year + 2),
        ),
    }
    return ranges.get(name)


def _datetime_literal(text: str) -> str:
    """A datetime literal in the stored wire form, so that text order is time order.

    Stored values carry milliseconds (``.123+0000``); a literal with finer digits keeps them
    (``.123456+0000``), which still sorts correctly against the stored form ('+' < any digit)
    and never equals a stored value, as a microsecond instant never equals a millisecond one.
    """
    moment = parse_datetime(text)
    if moment.microsecond % 1000 == 0:
        return format_datetime(moment)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+0000"


# -- plan ------------------------------------------------------------------------------------

Getter = Callable[[Record], Any]
Predicate = Callable[[Record], bool]


@dataclass
class FieldRef:
    path: list[str]  # canonical names: ["Name"] or ["Account", "Name"]
    definition: FieldDef
    getter: Getter


@dataclass
class OrderKey:
    field: FieldRef
    descending: bool
    nulls_last: bool


# Child relationships a parent-to-child subquery may name: (parent, relationship name) ->
# (child sObject, the child's field that points at the parent). Standard names only.
CHILD_RELATIONSHIPS: dict[tuple[str, str], tuple[str, str]] = {
    ("Opportunity", "opportunitylineitems"): ("OpportunityLineItem", "OpportunityId"),
    ("Account", "opportunities"): ("Opportunity", "AccountId"),
    ("Account", "contacts"): ("Contact", "AccountId"),
}


@dataclass
class QueryPlan:
    sobject: SObjectDef
    fields: list[FieldRef]
    count_only: bool
    where: Predicate | None
    order: list[OrderKey] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0
    # Parent-to-child subqueries, in the order selected: `(SELECT ... FROM OpportunityLineItems)`.
    children: list[ChildQuery] = field(default_factory=list)


@dataclass
class ChildQuery:
    relationship: str  # as Salesforce names it in the answer: "OpportunityLineItems"
    parent_field: str  # the child's field holding the parent's Id
    plan: QueryPlan


_RELATIONSHIP_NAMES = {
    "opportunitylineitems": "OpportunityLineItems",
    "opportunities": "Opportunities",
    "contacts": "Contacts",
}


class _Parser:
    def __init__(self, text: str, store: OrgStore, today: date) -> None:
        self.tokens = tokenize(text)
        self.index = 0
        self.store = store
        self.today = today
        self.sobject: SObjectDef | None = None

    # token helpers
    def peek(self, offset: int = 0) -> Token | None:
        index = self.index + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "word" and token.text.lower() in words

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise malformed_query("unexpected end of query")
        self.index += 1
        return token

    def expect_word(self, word: str) -> None:
        token = self.take()
        if token.kind != "word" or token.text.lower() != word:
            raise malformed_query(f"unexpected token: '{token.text}' (expected {word.upper()})")

    def expect_punct(self, punct: str) -> None:
        token = self.take()
        if token.text != punct:
            raise malformed_query(f"unexpected token: '{token.text}' (expected '{punct}')")

    # grammar
    def parse(self) -> QueryPlan:
        self.expect_word("select")
        count_only = False
        raw_fields: list[str] = []
        subqueries: list[int] = []  # where each `(SELECT ...)` starts, parsed once FROM is known
        if self.at_word("count") and self.peek(1) is not None and self.peek(1).text == "(":  # type: ignore[union-attr]
            self.take()
            self.expect_punct("(")
            self.expect_punct(")")
            count_only = True
        else:
            subqueries = self._select_item(raw_fields)
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                subqueries += self._select_item(raw_fields)
        self.expect_word("from")
        object_token = self.take()
        sobject = sobject_by_name(object_token.text)
        if object_token.kind != "word" or sobject is None:
            raise SalesforceApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{object_token.text}' is not supported. If you are attempting to "
                "use a custom object, be sure to append the '__c' after the entity name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )
        self.sobject = sobject
        fields: list[FieldRef] = []
        seen: set[str] = set()
        for raw in raw_fields:
            ref = self._resolve(raw)
            key = ".".join(ref.path).lower()
            if key in seen:
                raise malformed_query(f"duplicate field selected: {'.'.join(ref.path)}")
            seen.add(key)
            fields.append(ref)
        plan = QueryPlan(sobject=sobject, fields=fields, count_only=count_only, where=None)
        resume = self.index
        for start in subqueries:
            self.index = start
            plan.children.append(self._child_query(sobject))
        self.index = resume
        self.sobject = sobject
        self._clauses(plan)
        leftover = self.peek()
        if leftover is not None:
            raise malformed_query(f"unexpected token: '{leftover.text}'")
        return plan

    def _select_item(self, raw_fields: list[str]) -> list[int]:
        """One item of a SELECT list: a field name, or a subquery (skipped for now: answers
        where it starts)."""
        token = self.peek()
        if token is None or token.text != "(":
            raw_fields.append(self._field_name())
            return []
        start = self.index
        depth = 0
        while True:
            token = self.take()
            if token.text == "(":
                depth += 1
            elif token.text == ")":
                depth -= 1
                if depth == 0:
                    return [start]

    def _child_query(self, parent: SObjectDef) -> ChildQuery:
        self.expect_punct("(")
        self.expect_word("select")
        raw = [self._field_name()]
        while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
            self.take()
            raw.append(self._field_name())
        self.expect_word("from")
        name = self.take().text
        known = CHILD_RELATIONSHIPS.get((parent.name, name.lower()))
        child = sobject_by_name(known[0]) if known else None
        if known is None or child is None:
            raise SalesforceApiError(
                400,
                "INVALID_TYPE",
                f"Didn't understand relationship '{name}' in FROM part of query call. If you are "
                "attempting to use a custom relationship, be sure to append the '__r' after the "
                "custom relationship name. Please reference your WSDL or the describe call for "
                "the appropriate names.",
            )
        self.sobject = child
        plan = QueryPlan(
            sobject=child, fields=[self._resolve(r) for r in raw], count_only=False, where=None
        )
        self._clauses(plan)
        self.expect_punct(")")
        return ChildQuery(_RELATIONSHIP_NAMES[name.lower()], known[1], plan)

    def _clauses(self, plan: QueryPlan) -> None:
        """WHERE, ORDER BY, LIMIT and OFFSET, each optional, in that order."""
        if self.at_word("where"):
            self.take()
            plan.where = self._or()
        if self.at_word("order"):
            self.take()
            self.expect_word("by")
            plan.order.append(self._order_key())
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                plan.order.append(self._order_key())
        if self.at_word("limit"):
            self.take()
            plan.limit = self._integer("LIMIT")
        if self.at_word("offset"):
            self.take()
            plan.offset = self._integer("OFFSET")
            if plan.offset > 2000:
                raise SalesforceApiError(
                    400, "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"
                )

    def _integer(self, clause: str) -> int:
        token = self.take()
        if token.kind != "number" or "." in token.text or token.text.startswith("-"):
            raise malformed_query(f"unexpected token: '{token.text}' ({clause} needs an integer)")
        return int(token.text)

    def _field_name(self) -> str:
        token = self.take()
        if token.kind != "word" or token.text.lower() in _KEYWORDS or ":" in token.text:
            raise malformed_query(f"unexpected token: '{token.text}'")
        return token.text

    def _resolve(self, raw: str) -> FieldRef:
        assert self.sobject is not None
        parts = raw.split(".")
        if len(parts) > 1 and parts[0].lower() == self.sobject.name.lower():
            parts = parts[1:]  # "Opportunity.Name" inside FROM Opportunity
        sobject_name = self.sobject.name

        def no_column(name: str, entity: str) -> SalesforceApiError:
            return SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"No such column '{name}' on entity '{entity}'. If you are attempting to use a "
                "custom field, be sure to append the '__c' after the custom field name. Please "
                "reference your WSDL or the describe call for the appropriate names.",
            )

        if len(parts) == 1:
            definition = self.sobject.field(parts[0])
            if definition is None:
                raise no_column(parts[0], sobject_name)
            name = definition.name
            return FieldRef([name], definition, lambda record: record.get(name))
        if len(parts) == 2:
            reference = self.sobject.relationship(parts[0])
            if reference is None or reference.reference_to is None:
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD",
                    f"Didn't understand relationship '{parts[0]}' in field path. If you are "
                    "attempting to use a custom relationship, be sure to append the '__r' after "
                    "the custom relationship name. Please reference your WSDL or the describe "
                    "call for the appropriate names.",
                )
            parent = sobject_by_name(reference.reference_to)
            assert parent is not None
            definition = parent.field(parts[1])
            if definition is None:
                raise no_column(parts[1], parent.name)
            store = self.store
            reference_name, parent_name, name = reference.name, parent.name, definition.name

            def getter(record: Record) -> Any:
                parent_id = record.get(reference_name)
                if not parent_id:
                    return None
                parent_record = store.find(parent_name, parent_id)
                return parent_record.get(name) if parent_record else None

            return FieldRef([str(reference.relationship_name), name], definition, getter)
        raise malformed_query(f"field path too deep: {raw}")

    def _order_key(self) -> OrderKey:
        ref = self._resolve(self._field_name())
        descending = False
        if self.at_word("asc", "desc"):
            descending = self.take().text.lower() == "desc"
        nulls_last = descending
        if self.at_word("nulls"):
            self.take()
            token = self.take()
            if token.text.lower() not in ("first", "last"):
                raise malformed_query(f"unexpected token: '{token.text}'")
            nulls_last = token.text.lower() == "last"
        return OrderKey(ref, descending, nulls_last)

    def _or(self) -> Predicate:
        terms = [self._and()]
        while self.at_word("or"):
            self.take()
            terms.append(self._and())
        if len(terms) == 1:
            return terms[0]
        return lambda record: any(term(record) for term in terms)

    def _and(self) -> Predicate:
        terms = [self._not()]
        while self.at_word("and"):
            self.take()
            terms.append(self._not())
        if len(terms) == 1:
            return terms[0]
        return lambda record: all(term(record) for term in terms)

    def _not(self) -> Predicate:
        if self.at_word("not"):
            self.take()
            inner = self._not()
            return lambda record: not inner(record)
        token = self.peek()
        if token is not None and token.text == "(":
            self.take()
            inner = self._or()
            self.expect_punct(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Predicate:
        ref = self._resolve(self._field_name())
        token = self.take()
        lowered = token.text.lower()
        if token.kind == "op":
            literal = self._literal(ref)
            return _compare(ref, "!=" if token.text == "<>" else token.text, literal)
        if token.kind == "word" and lowered in ("in", "not"):
            negate = lowered == "not"
            if negate:
                self.expect_word("in")
            self.expect_punct("(")
            values = [self._literal(ref)]
            while self.peek() is not None and self.peek().text == ",":  # type: ignore[union-attr]
                self.take()
                values.append(self._literal(ref))
            self.expect_punct(")")
            if any(value.kind in ("null", "date_range") for value in values):
                predicates = [_compare(ref, "=", value) for value in values]
                if negate:
                    return lambda record: not any(p(record) for p in predicates)
                return lambda record: any(p(record) for p in predicates)
            # Plain values: one set lookup per record, however long the list.
            members = frozenset(value.value for value in values)
            if negate:
                return lambda record: _normalised(ref, record) not in members
            return lambda record: (
                (value := _normalised(ref, record)) is not None and (value in members)
            )
        if token.kind == "word" and lowered == "like":
            literal = self._literal(ref)
            if literal.kind != "string":
                raise malformed_query("LIKE needs a quoted string pattern")
            return _like(ref, str(literal.value))
        raise malformed_query(f"unexpected token: '{token.text}'")

    def _literal(self, ref: FieldRef) -> Literal:
        token = self.take()
        field_type = ref.definition.type
        label = ".".join(ref.path)
        lowered = token.text.lower()

        def must_be(expected: str) -> SalesforceApiError:
            return SalesforceApiError(
                400,
                "INVALID_FIELD",
                f"value of filter criterion for field '{label}' must be of type {expected} and "
                "should not be enclosed in quotes",
            )

        if token.kind == "word" and lowered == "null":
            return Literal("null", None)
        if field_type is FieldType.DATETIME:
            if token.kind == "datetime":
                return Literal("datetime", _datetime_literal(token.text))
            keyword = _date_keyword(token.text, self.today) if token.kind == "word" else None
            if keyword is None:
                raise must_be("dateTime")
            start, end = (
                format_datetime(datetime(d.year, d.month, d.day, tzinfo=UTC)) for d in keyword
            )
            return Literal("date_range", (start, end))
        if field_type is FieldType.DATE:
            if token.kind == "date":
                return Literal("date", date.fromisoformat(token.text).isoformat())
            keyword = _date_keyword(token.text, self.today) if token.kind == "word" else None
            if keyword is None:
                raise must_be("date")
            return Literal("date_range", (keyword[0].isoformat(), keyword[1].isoformat()))
        if field_type in NUMERIC_TYPES:
            if token.kind != "number":
                raise must_be("double")
            return Literal("number", float(token.text))
        if field_type is FieldType.BOOLEAN:
            if lowered not in ("true", "false"):
                raise must_be("boolean")
            return Literal("boolean", lowered == "true")
        if token.kind != "string":
            raise malformed_query(f"unexpected token: '{token.text}'")
        text = _unquote(token.text)
        if field_type in (FieldType.ID, FieldType.REFERENCE):
            normalised = normalise_id(text)
            if normalised is None:
                raise SalesforceApiError(
                    400, "INVALID_QUERY_FILTER_OPERATOR", f"invalid ID field: {text}"
                )
            return Literal("id", normalised)
        return Literal("string", text.lower())


def _normalised(ref: FieldRef, record: Record) -> Any:
    value = ref.getter(record)
    if isinstance(value, str) and ref.definition.type not in (
        FieldType.DATE,
        FieldType.DATETIME,
        FieldType.ID,
        FieldType.REFERENCE,
    ):
        return value.lower()
    return value


def _compare(ref: FieldRef, op: str, literal: Literal) -> Predicate:
    if literal.kind == "null":
        if op == "=":
            return lambda record: ref.getter(record) is None
        if op == "!=":
            return lambda record: ref.getter(record) is not None
        raise malformed_query(f"null can only be compared with = or !=, not {op}")
    if literal.kind == "date_range":
        start, end = literal.value
        range_tests: dict[str, Callable[[Any], bool]] = {
            "=": lambda v: start <= v < end,
            "!=": lambda v: not (start <= v < end),
            "<": lambda v: v < start,
            "<=": lambda v: v < end,
            ">": lambda v: v >= end,
            ">=": lambda v: v >= start,
        }
        range_test = range_tests[op]
        return lambda record: (value := ref.getter(record)) is not None and range_test(value)
    expected = literal.value
    tests: dict[str, Callable[[Any], bool]] = {
        "=": lambda v: v == expected,
        "!=": lambda v: v != expected,
        "<": lambda v: v < expected,
        "<=": lambda v: v <= expected,
        ">": lambda v: v > expected,
        ">=": lambda v: v >= expected,
    }
    test = tests[op]
    if op == "!=":
        # A null field differs from every non-null value.
        return lambda record: (value := _normalised(ref, record)) is None or test(value)
    return lambda record: (value := _normalised(ref, record)) is not None and test(value)


def _like(ref: FieldRef, pattern: str) -> Predicate:
    regex = "".join(
        ".*" if char == "%" else "." if char == "_" else re.escape(char) for char in pattern
    )
    compiled = re.compile(f"^{regex}$", re.DOTALL)
    return lambda record: (
        (value := _normalised(ref, record)) is not None and bool(compiled.match(str(value)))
    )


def parse(text: str, store: OrgStore, *, today: date | None = None) -> QueryPlan:
    return _Parser(text, store, today or datetime.now(UTC).date()).parse()


def execute(
    plan: QueryPlan, store: OrgStore, *, include_deleted: bool, unlimited: bool = False
) -> list[Record]:
    """Records matching the plan, ordered, limited and projected to the selected fields."""
    rows = store.records(plan.sobject.name, include_deleted=include_deleted)
    if plan.where is not None:
        where = plan.where
        rows = [row for row in rows if where(row)]
    for key in reversed(plan.order):
        rows.sort(key=_sort_key(key), reverse=key.descending)
    if unlimited:
        return rows
    if plan.offset:
        rows = rows[plan.offset :]
    if plan.limit is not None:
        rows = rows[: plan.limit]
    return rows


def _sort_key(key: OrderKey) -> Callable[[Record], tuple[int, Any]]:
    # Nulls go first or last whatever the direction; `reverse=True` flips the tuple order too.
    null_rank = 1 if key.nulls_last != key.descending else 0

    def sort_key(record: Record) -> tuple[int, Any]:
        value = _normalised(key.field, record)
        if value is None:
            return (null_rank, "")
        return (1 - null_rank, value)

    return sort_key


def project(
    plan: QueryPlan, record: Record, api_version: str, store: OrgStore | None = None
) -> dict[str, Any]:
    sobject = plan.sobject.name
    row: dict[str, Any] = {
        "attributes": {
            "type": sobject,
            "url": f"/services/data/v{api_version}/sobjects/{sobject}/{record['Id']}",
        }
    }
    for ref in plan.fields:
        if len(ref.path) == 1:
            row[ref.path[0]] = record.get(ref.path[0])
            continue
        relationship, name = ref.path
        reference = plan.sobject.relationship(relationship)
        assert reference is not None and reference.reference_to is not None
        parent_id = record.get(reference.name)
        if not parent_id:
            row[relationship] = None
            continue
        nested = row.get(relationship)
        if nested is None:
            nested = {
                "attributes": {
                    "type": reference.reference_to,
                    "url": f"/services/data/v{api_version}/sobjects/{reference.reference_to}/"
                    f"{parent_id}",
                }
            }
            row[relationship] = nested
        nested[name] = ref.getter(record)
    for child in plan.children:
        # A parent's related records come back as a nested query result, null when none.
        assert store is not None, "a query with subqueries is projected with its store"
        related = [
            r
            for r in execute(child.plan, store, include_deleted=False, unlimited=True)
            if r.get(child.parent_field) == record["Id"]
        ]
        if child.plan.limit is not None:
            related = related[child.plan.offset : child.plan.offset + child.plan.limit]
        row[child.relationship] = (
            {
                "totalSize": len(related),
                "done": True,
                "records": [project(child.plan, r, api_version, store) for r in related],
            }
            if related
            else None
        )
    return row
