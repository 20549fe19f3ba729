"""One month of the demo firm's delivery, as its outside systems report it: time entries and
expenses from the time tracker (signed ``POST /webhooks/time`` batches) and the clients' card
payments from Stripe (signed ``POST /webhooks/stripe`` events).

Deterministic for a seed and a list of projects, so two runs of the quote-to-cash demo or of its
end-to-end test describe the same month. The mix is a real month's: mostly approved billable
time, some time still submitted or rejected or not billable (which must never be invoiced),
expenses on time-and-materials projects, payments in full, in part and one nobody can match.
"""

from __future__ import annotations

import calendar
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import httpx

from handoff.connectors.odoo.adapter import OdooAdapter
from handoff.timesheets.records import TIMETRACKER_SYSTEM
from handoff_sandbox.demo_firm import CONSULTANTS, EXPENSE_CATEGORIES, BillingModel, Consultant
from handoff_sandbox.signing import (
    STRIPE_HEADER,
    TIME_TRACKER_HEADER,
    hmac_sha256,
    stripe_signature,
)

HOURS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
# Out of 100 entries: what the time tracker reports besides approved work.
SUBMITTED, REJECTED, DRAFT, NOT_BILLABLE = 5, 3, 2, 6
UNMATCHED_REFERENCE = "INV/1999/0001"  # a payment for an invoice Odoo has never issued


@dataclass(frozen=True)
class Project:
    """A delivered deal, as the time tracker knows it: the hub's deal key is its reference."""

    deal_key: str
    name: str
    billing_model: BillingModel
    currency: str
    legal_entity: str = ""  # the firm's entity that sold it: its people expense to it


@dataclass
class MonthOfWork:
    month: date  # the first day
    time: list[dict[str, Any]] = field(default_factory=list)
    expenses: list[dict[str, Any]] = field(default_factory=list)

    @property
    def items(self) -> list[dict[str, Any]]:
        return [*self.time, *self.expenses]

    def billable(self, kind: str = "time") -> list[dict[str, Any]]:
        """The items that may be invoiced: approved and billable."""
        items = self.time if kind == "time" else self.expenses
        return [i for i in items if i["approval"] == "approved" and i["billable"]]

    def billable_hours(self) -> dict[str, Decimal]:
        """Approved billable hours per deal key."""
        hours: dict[str, Decimal] = {}
        for item in self.billable("time"):
            hours[item["deal_ref"]] = hours.get(item["deal_ref"], Decimal(0)) + Decimal(
                str(item["hours"])
            )
        return hours


def working_days(month: date) -> list[date]:
    last = calendar.monthrange(month.year, month.month)[1]
    days = [date(month.year, month.month, d) for d in range(1, last + 1)]
    return [d for d in days if d.weekday() < 5]


def staffing(projects: Sequence[Project], people: Sequence[Consultant]) -> dict[str, list[int]]:
    """Consultant e-mail -> the projects (indexes) they work on: every project has someone, and
    everyone works on two or three projects."""
    count = len(projects)
    plan: dict[str, list[int]] = {person.email: [] for person in people}
    for index in range(count):
        plan[people[index % len(people)].email].append(index)
    for n, person in enumerate(people):
        for extra in ((n * 7 + 3) % count, (n * 11 + 5) % count):
            if extra not in plan[person.email] and len(plan[person.email]) < 3:
                plan[person.email].append(extra)
    return plan


def month_of_work(
    projects: Sequence[Project],
    month: date,
    *,
    entries: int = 5000,
    seed: int = 2026,
    people: Sequence[Consultant] = CONSULTANTS,
) -> MonthOfWork:
    """``entries`` time entries spread over the month's working days and ``people``, plus two
    expenses per time-and-materials project."""
    if not projects:
        raise ValueError("a month of work needs at least one delivered project")
    rng = random.Random(seed)
    first = month.replace(day=1)
    days = working_days(first)
    plan = staffing(projects, people)
    work = MonthOfWork(month=first)
    for n in range(entries):
        person = people[n % len(people)]
        mine = plan[person.email]
        project = projects[mine[(n // len(people)) % len(mine)]]
        work.time.append(
            {
                "kind": "time",
                "source": TIMETRACKER_SYSTEM,
                "source_id": f"TE-{first:%Y%m}-{n + 1:05d}",
                "consultant": person.email,
                "role": person.role,
                "deal_ref": project.deal_key,
                "date": days[(n // len(people)) % len(days)].isoformat(),
                "hours": rng.choice(HOURS),
                "billable": rng.randrange(100) >= NOT_BILLABLE,
                "approval": _approval(rng),
                "description": f"{project.name}: delivery work",
            }
        )
    for index, project in enumerate(projects):
        if project.billing_model != BillingModel.TIME_AND_MATERIALS:
            continue
        for k in range(2):
            category = EXPENSE_CATEGORIES[(index + k) % len(EXPENSE_CATEGORIES)]
            low, high = category.typical
            # An expense is booked in the project's company, so by one of its employees (Odoo
            # refuses an employee of another company: "Incompatible companies on records").
            spenders = [p for p in people if p.entity == project.legal_entity] or list(people)
            person = spenders[(index + k) % len(spenders)]
            work.expenses.append(
                {
                    "kind": "expense",
                    "source": TIMETRACKER_SYSTEM,
                    "source_id": f"EX-{first:%Y%m}-{index + 1:03d}-{k + 1}",
                    "consultant": person.email,
                    "deal_ref": project.deal_key,
                    "date": days[(index * 3 + k * 9) % len(days)].isoformat(),
                    "amount": f"{rng.randint(low, high)}.{rng.randrange(100):02d}",
                    "currency": project.currency,
                    "category": category.code,
                    "billable": True,
                    "approval": "approved" if k == 0 or index % 4 else "submitted",
                    "description": f"{category.code} for {project.name}",
                }
            )
    return work


def _approval(rng: random.Random) -> str:
    roll = rng.randrange(100)
    if roll < SUBMITTED:
        return "submitted"
    if roll < SUBMITTED + REJECTED:
        return "rejected"
    if roll < SUBMITTED + REJECTED + DRAFT:
        return "draft"
    return "approved"


def post_time(
    hub_url: str, secret: str, items: Sequence[dict[str, Any]], *, batch: int = 1000
) -> int:
    """Deliver ``items`` as the time tracker does: signed batches to ``/webhooks/time``.
    Returns how many were new (not duplicates); raises on any refused batch."""
    new = 0
    with httpx.Client(base_url=hub_url, timeout=120) as client:
        for start in range(0, len(items), batch):
            body = json.dumps(list(items[start : start + batch])).encode()
            response = client.post(
                "/webhooks/time",
                content=body,
                headers={
                    TIME_TRACKER_HEADER: hmac_sha256(secret, body),
                    "Content-Type": "application/json",
                },
            )
            if response.status_code != 202:
                raise RuntimeError(f"/webhooks/time refused a batch: {response.text[:500]}")
            new += sum(not row["duplicate"] for row in response.json()["accepted"])
    return new


@dataclass(frozen=True)
class OpenInvoice:
    """A posted customer invoice as the client sees it: its number, total and currency, and
    the client's own reference of the order it bills (stable whatever order invoices were
    numbered in)."""

    number: str
    total: Decimal
    currency: str
    order_ref: str


def card_payments(invoices: Iterable[OpenInvoice], *, stamp: int) -> list[dict[str, Any]]:
    """Stripe ``charge.succeeded`` events: every third order's invoice paid in full, the next
    one's 40 %, and one payment whose reference matches no invoice. Which invoices and the
    charge ids follow the order references, so the same month pays the same way whatever the
    invoices' numbers, and delivering the list twice is Stripe redelivering the same events."""
    events = []
    for n, invoice in enumerate(sorted(invoices, key=lambda i: (i.order_ref, i.total))):
        share = {0: Decimal(1), 1: Decimal("0.4")}.get(n % 3)
        if share is None:
            continue
        amount = (invoice.total * share).quantize(Decimal("0.01"))
        events.append(
            _charge(invoice.number, f"{invoice.order_ref}{n}", amount, invoice.currency, stamp)
        )
    events.append(
        _charge(UNMATCHED_REFERENCE, UNMATCHED_REFERENCE, Decimal("1234.56"), "USD", stamp)
    )
    return events


def _charge(
    reference: str, identity: str, amount: Decimal, currency: str, stamp: int
) -> dict[str, Any]:
    slug = "".join(ch for ch in identity if ch.isalnum()).lower()
    cents = int((amount * 100).to_integral_value())
    charge = {
        "id": f"ch_{slug}_{cents}",
        "object": "charge",
        "amount": cents,
        "amount_captured": cents,
        "currency": currency.lower(),
        "paid": True,
        "status": "succeeded",
        "metadata": {"invoice": reference},
        "created": stamp,
    }
    return {
        "id": f"evt_{slug}_{cents}",
        "object": "event",
        "type": "charge.succeeded",
        "created": stamp,
        "data": {"object": charge},
    }


def post_payments(hub_url: str, secret: str, events: Sequence[dict[str, Any]]) -> None:
    """Deliver Stripe events one by one, signed as Stripe signs them."""
    with httpx.Client(base_url=hub_url, timeout=60) as client:
        for event in events:
            body = json.dumps(event).encode()
            response = client.post(
                "/webhooks/stripe",
                content=body,
                headers={STRIPE_HEADER: stripe_signature(secret, body)},
            )
            if response.status_code != 200:
                raise RuntimeError(f"/webhooks/stripe refused {event['id']}: {response.text}")


def posted_invoices(odoo: OdooAdapter) -> list[OpenInvoice]:
    """The customer invoices Odoo has posted, as the clients received them."""
    invoices = odoo.search_read(
        "account.move",
        [["move_type", "=", "out_invoice"], ["state", "=", "posted"]],
        ["name", "amount_total", "currency_id", "invoice_origin"],
    )
    currencies = {row["id"]: row["name"] for row in odoo.search_read("res.currency", [], ["name"])}
    origins = sorted({row["invoice_origin"] for row in invoices if row["invoice_origin"]})
    refs = {row["name"]: row["client_order_ref"] or row["name"] for row in odoo.search_read(
        "sale.order", [["name", "in", origins]], ["name", "client_order_ref"])}  # fmt: skip
    return [
        OpenInvoice(row["name"], Decimal(repr(row["amount_total"])),
                    currencies[row["currency_id"][0]],
                    refs.get(row["invoice_origin"] or "", row["name"]))
        for row in invoices
    ]  # fmt: skip


def reach_first_milestones(odoo: OdooAdapter, project_ids: Sequence[int]) -> list[int]:
    """The delivery leads sign off the first milestone of each project; returns them."""
    milestones = odoo.search_read(
        "project.milestone", [["project_id", "in", list(project_ids)]], ["project_id"],
        order="id asc",
    )  # fmt: skip
    first: dict[int, int] = {}
    for row in milestones:
        first.setdefault(row["project_id"][0], row["id"])
    if first:
        odoo.write("project.milestone", sorted(first.values()), {"is_reached": True})
    return sorted(first.values())
