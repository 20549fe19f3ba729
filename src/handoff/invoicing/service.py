"""The invoice run: proposals per bound project, approval, invoices in Odoo through the sale order,
and every billed source key bound to its invoice so nothing is billed twice.

Shared by the CLI (``handoff billing``) and the scheduler; ``hub`` carries the store and settings.

Crash safety of invoicing one approved proposal (each step can be re-run):
1. write the delivered quantities the engine decided (absolute values; extra lines found by name);
2. record the order's invoice ids in the proposal (``invoices_before``), once;
3. the order's invoice ids not in ``invoices_before`` are this proposal's invoice: only when there
   are none does the ``sale.advance.payment.inv`` wizard run, with the proposal's
   ``timesheets_until`` as ``date_end_invoice_timesheet`` (time after it waits for a later run);
4. post (only drafts are posted), bind each source key to the invoice, mark the proposal invoiced.
A re-run after a crash anywhere finds the invoice at step 3 instead of creating a second one.

Problems the engine reports with severity ``exception`` (cap reached, missing rate, ...) become
exception records of flow ``billing_run`` per deal (``problems.record_problems``), resolved by the
first run that no longer finds them. Dry runs write nothing, exceptions included.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from handoff.billing.engine import BillingPeriod
from handoff.billing.keys import milestone_key
from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.odoo.quote_to_cash import InvoiceRequest, QuoteToCashAdapter
from handoff.connectors.registry import connectors_for
from handoff.delivery.plan import DeliveryPlan
from handoff.engine.runtime import Hub
from handoff.engine.targets import odoo_target
from handoff.observability.metrics import BILLING_FAILED
from handoff.store.models import Binding

from .deliverables import read_deliverables
from .problems import FLOW, record_problems
from .proposals import BillingProblem, ProposalDraft, ProposalLine, build_draft
from .records import ProposalRecord, Proposals, ProposalStatus
from .setup import InvoiceSetupError, invoicing_gaps

BILLED_SOURCE = "billed_source"
INVOICE_MODEL = "account.move"
ORDER_MODEL = "sale.order"


class BillingError(Exception):
    """An operator request that cannot be carried out (unknown proposal, wrong status)."""


@dataclass(frozen=True)
class BoundOrder:
    deal_key: str
    order_id: int
    plan: DeliveryPlan | None


@dataclass
class RunResult:
    period: str
    drafts: list[ProposalDraft] = field(default_factory=list)
    proposed: list[int] = field(default_factory=list)
    invoiced: dict[int, list[int]] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    # Per deal, what the engine found (exceptions hold work back; warnings don't), and the ids of
    # the exception records a (non-dry) run raised or refreshed for them.
    problems: dict[str, list[BillingProblem]] = field(default_factory=dict)
    exceptions: dict[str, list[int]] = field(default_factory=dict)


def bound_orders(hub: Hub, odoo: str | None = None) -> list[BoundOrder]:
    """Every deal delivered as an order of the Odoo system ``odoo`` (None: the running flow's
    target, else the only one), with the delivery plan recorded at delivery."""
    query = select(Binding).where(
        Binding.system == (odoo or odoo_target(hub.settings)),
        Binding.model == ORDER_MODEL,
        Binding.canonical_type == "deal",
    )
    with hub.store.session() as session:
        rows = list(session.scalars(query.order_by(Binding.id)))
    return [
        BoundOrder(
            deal_key=row.canonical_id,
            order_id=int(row.external_id),
            plan=DeliveryPlan.model_validate(row.snapshot) if row.snapshot else None,
        )
        for row in rows
    ]


def billed_keys(hub: Hub, keys: Iterable[str] | None = None) -> dict[str, int]:
    """Source key -> the invoice (account.move id) that bills it."""
    query = select(Binding.canonical_id, Binding.external_id).where(
        Binding.canonical_type == BILLED_SOURCE, Binding.model == INVOICE_MODEL
    )
    wanted = None if keys is None else list(keys)
    if wanted is not None:
        if not wanted:
            return {}
        query = query.where(Binding.canonical_id.in_(wanted))
    with hub.store.session() as session:
        return {key: int(external.split("/", 1)[0]) for key, external in session.execute(query)}


def bind_billed(hub: Hub, invoice_id: int, keys: Iterable[str]) -> None:
    # Bindings are unique per (system, model, external_id): one row per (invoice, key).
    for key in keys:
        hub.bindings.bind(
            odoo_target(hub.settings),
            INVOICE_MODEL,
            f"{invoice_id}/{key}",
            canonical_type=BILLED_SOURCE,
            canonical_id=key,
        )


def _odoo(hub: Hub) -> QuoteToCashAdapter:
    return connectors_for(hub.settings).odoo()


def propose_all(hub: Hub, period: BillingPeriod) -> tuple[list[ProposalDraft], list[str]]:
    """Drafts for every bound project with something to invoice; and the deals skipped (no plan)."""
    assessed, skipped = assess_all(hub, period)
    return [draft for draft in assessed if not draft.is_empty], skipped


def assess_all(hub: Hub, period: BillingPeriod) -> tuple[list[ProposalDraft], list[str]]:
    """A draft for every bound project with a plan, empty ones included (their problems count:
    work held back entirely still needs a person); and the deals skipped."""
    q2c = _odoo(hub)
    drafts: list[ProposalDraft] = []
    skipped: list[str] = []
    for bound in bound_orders(hub):
        if bound.plan is None:
            skipped.append(f"{bound.deal_key}: no billing plan recorded")
            continue
        found = read_deliverables(q2c.odoo, bound.order_id)
        candidate_keys = [f"time:odoo:{t.id}" for t in found.timesheets]
        billed = set(billed_keys(hub, candidate_keys))
        billed |= set(billed_keys(hub, _contract_keys(hub, bound.deal_key)))
        draft = build_draft(bound.deal_key, bound.plan, found, period, billed)
        if not draft.is_empty:
            # What Odoo needs to invoice it (sale journal, income accounts, the company's
            # taxes): a gap is an exception a person sees before the run fails on it.
            for problem in invoicing_gaps(q2c.odoo, bound.order_id):
                draft.warnings.append(f"{problem.rule}: {problem.message}")
                draft.problems.append(problem)
        drafts.append(draft)
    return drafts, skipped


def _contract_keys(hub: Hub, deal_key: str) -> list[str]:
    """Billed keys of the contract's fees, milestones and retainer months."""
    query = select(Binding.canonical_id).where(
        Binding.canonical_type == BILLED_SOURCE,
        Binding.canonical_id.like(f"%:{deal_key}:%"),
    )
    with hub.store.session() as session:
        return list(session.scalars(query))


def run_billing(
    hub: Hub,
    period: BillingPeriod,
    *,
    dry_run: bool = False,
    require_approval: bool | None = None,
    post: bool | None = None,
    approved_by: str = "auto",
) -> RunResult:
    """Propose for every bound project; store and (unless approval is required) invoice.

    ``dry_run`` computes and returns the drafts and writes nothing anywhere. ``require_approval``
    and ``post`` default to handoff.yaml's ``billing`` section.
    The durable ``billing_run`` flow (``handoff.flows.billing_run``) runs the same two halves,
    :func:`record_proposals` then :func:`invoice_proposal` per :func:`invoiceable` proposal.
    """
    result = record_proposals(
        hub, period, dry_run=dry_run, require_approval=require_approval, approved_by=approved_by
    )
    if dry_run:
        return result
    for proposal_id in invoiceable(hub):
        invoices, error = invoice_or_record_failure(hub, proposal_id, post=post)
        if error is None:
            result.invoiced[proposal_id] = invoices
        else:
            result.failed[proposal_id] = error
    return result


def invoice_or_record_failure(
    hub: Hub,
    proposal_id: int,
    *,
    post: bool | None = None,
    passing: tuple[type[Exception], ...] = (),
) -> tuple[list[int], str | None]:
    """Invoice one proposal; a failure is recorded on the proposal (``billing proposals`` shows
    it, the next run retries it) so the run goes on with the others. Errors of the ``passing``
    types are raised instead (the durable flow lets its step retries handle transient ones)."""
    try:
        return invoice_proposal(hub, proposal_id, post=post), None
    except passing:
        raise
    except InvoiceSetupError as error:
        # Odoo cannot invoice it yet: failed, and an exception per gap says what to set up.
        record = Proposals(hub.store).update(
            proposal_id, status=ProposalStatus.FAILED, error=str(error)[:2000]
        )
        raise_setup_exceptions(hub, record, error.problems)
        BILLING_FAILED.labels(reason=error.problems[0].rule).inc()
        return [], str(error)
    except Exception as error:
        Proposals(hub.store).update(
            proposal_id, status=ProposalStatus.FAILED, error=str(error)[:2000]
        )
        BILLING_FAILED.labels(reason="error").inc()
        return [], str(error)


def raise_setup_exceptions(
    hub: Hub, record: ProposalRecord, problems: list[BillingProblem]
) -> list[int]:
    """An exception record (flow ``billing_run``, the deal) per gap of a proposal Odoo cannot
    invoice; the run that no longer finds the gap resolves it."""
    return [
        hub.exceptions.raise_for(
            BusinessRuleError(
                f"proposal {record.id} ({record.period}, {record.total} {record.currency}) "
                f"cannot be invoiced: {problem.message}",
                rule=problem.rule,
                value=problem.value,
                suggested_fix=problem.suggested_fix,
                context={
                    "proposal": record.id,
                    "order_id": record.order_id,
                    "period": record.period,
                    "proposed_total": str(record.total),
                },
            ),
            flow=FLOW,
            record=record.deal_key,
        )
        for problem in problems
    ]


def record_proposals(
    hub: Hub,
    period: BillingPeriod,
    *,
    dry_run: bool = False,
    require_approval: bool | None = None,
    approved_by: str = "auto",
) -> RunResult:
    """The first half of a run: assess every bound project, raise or resolve its problems, and
    store a proposal per project with something to invoice (approved at once unless approval is
    required). Safe to run again: a project with an open proposal gets no second one."""
    if require_approval is None:
        require_approval = hub.settings.billing.require_approval
    assessed, skipped = assess_all(hub, period)
    drafts = [draft for draft in assessed if not draft.is_empty]
    result = RunResult(
        period=period.label,
        drafts=drafts,
        skipped=skipped,
        problems={d.deal_key: list(d.problems) for d in assessed if d.problems},
    )
    if dry_run:
        return result
    result.exceptions = record_problems(hub, assessed, period.label)
    proposals = Proposals(hub.store)
    for draft in drafts:
        if proposals.open_for(draft.project) is not None:
            continue  # waiting for approval or a retry: never two open proposals for a project
        status = ProposalStatus.PROPOSED if require_approval else ProposalStatus.APPROVED
        record = proposals.add(_record(draft, status, None if require_approval else approved_by))
        result.proposed.append(record.id)
    return result


def invoiceable(hub: Hub) -> list[int]:
    """Approved proposals not invoiced yet, and approved ones whose invoicing failed before."""
    proposals = Proposals(hub.store)
    waiting = [
        record
        for status in (ProposalStatus.APPROVED, ProposalStatus.FAILED)
        for record in proposals.list(status=status, limit=1_000_000)
    ]
    return sorted(record.id for record in waiting if record.approved_by is not None)


def _record(
    draft: ProposalDraft, status: ProposalStatus, approved_by: str | None
) -> ProposalRecord:
    return ProposalRecord(
        period=draft.period,
        project=draft.project,
        order_id=draft.order_id,
        deal_key=draft.deal_key,
        basis=draft.basis,
        lines=[line.model_dump(mode="json") for line in draft.lines],
        details=draft.details(),
        total=draft.total,
        currency=draft.currency,
        status=status,
        approved_by=approved_by,
        invoice_ids=[],
    )


def approve(hub: Hub, proposal_id: int, *, by: str, post: bool | None = None) -> list[int]:
    """Approve a proposed proposal and invoice it now; returns its invoice ids."""
    proposals = Proposals(hub.store)
    try:
        record = proposals.get(proposal_id)
    except LookupError as error:
        raise BillingError(str(error)) from None
    if record.status == ProposalStatus.INVOICED:
        raise BillingError(f"proposal {proposal_id} is already invoiced ({record.invoice_ids})")
    if record.status == ProposalStatus.PROPOSED:
        proposals.update(proposal_id, status=ProposalStatus.APPROVED, approved_by=by)
    return invoice_proposal(hub, proposal_id, post=post)


def invoice_proposal(hub: Hub, proposal_id: int, *, post: bool | None = None) -> list[int]:
    """Invoice one approved proposal through its sale order; safe to run again (see module doc)."""
    proposals = Proposals(hub.store)
    record = proposals.get(proposal_id)
    if record.status == ProposalStatus.INVOICED:
        return list(record.invoice_ids)
    if record.approved_by is None:
        raise BillingError(f"proposal {proposal_id} is not approved")
    if post is None:
        post = hub.settings.billing.post
    q2c = _odoo(hub)
    if record.invoices_before is None:
        gaps = invoicing_gaps(q2c.odoo, record.order_id)
        if gaps:
            raise InvoiceSetupError(gaps)
    lines = [ProposalLine.model_validate(line) for line in record.lines]
    _set_delivered(q2c, record.order_id, lines)
    current = _order_invoices(q2c, record.order_id)
    if record.invoices_before is None:
        record = proposals.update(proposal_id, invoices_before=sorted(current))
    ours = sorted(current - set(record.invoices_before or []))
    if not ours:
        until = (record.details or {}).get("timesheets_until")
        request = InvoiceRequest(
            method="delivered",
            post=False,
            timesheets_until=date.fromisoformat(until) if until else None,
        )
        ours = q2c.invoice_orders([record.order_id], request)
    if post:
        q2c.post_invoices(ours)
    keys = [key for line in lines for key in line.source_keys]
    late = _delivered_since(hub, q2c, record.deal_key, record.order_id, set(keys), set(ours))
    bind_billed(hub, ours[0], [*keys, *late])
    hub.audit.record(
        actor=record.approved_by or "handoff",
        action="invoice",
        system=odoo_target(hub.settings),
        model=INVOICE_MODEL,
        record_id=",".join(map(str, ours)),
        canonical_id=record.deal_key,
        after={
            "proposal": proposal_id,
            "total": str(record.total),
            "keys": len(keys),
            "delivered_since_proposal": late,
        },
    )
    proposals.update(proposal_id, status=ProposalStatus.INVOICED, invoice_ids=ours, error=None)
    return ours


def _delivered_since(
    hub: Hub,
    q2c: QuoteToCashAdapter,
    deal_key: str,
    order_id: int,
    proposed: set[str],
    invoices: set[int],
) -> list[str]:
    """Timesheets and reached milestones Odoo's invoice took in although they came after the
    proposal (time logged up to ``timesheets_until`` meanwhile, a milestone reached): bound too,
    so they are never proposed again nor reported as unbilled. The timesheets are the ones Odoo
    linked to the invoice (``timesheet_invoice_id``)."""
    found = read_deliverables(q2c.odoo, order_id)
    invoiced_lines = {line.id for line in found.lines if line.to_invoice == 0}
    candidates = [t.key for t in found.timesheets if t.invoice_id in invoices] + [
        milestone_key(deal_key, str(m.id))
        for m in found.milestones
        if m.reached and m.line_id in invoiced_lines
    ]
    unknown = [key for key in candidates if key not in proposed]
    billed = billed_keys(hub, unknown)
    return [key for key in unknown if key not in billed]


def _order_invoices(q2c: QuoteToCashAdapter, order_id: int) -> set[int]:
    [row] = q2c.odoo.read(ORDER_MODEL, [order_id], ["invoice_ids"])
    return set(row["invoice_ids"])


def _set_delivered(q2c: QuoteToCashAdapter, order_id: int, lines: list[ProposalLine]) -> None:
    """Write the delivered quantities the engine decided (absolute, so a rerun writes the same)."""
    for line in lines:
        if line.set_delivered is None:
            continue
        line_id = line.order_line_id
        if line.extra_line is not None:
            existing = q2c.odoo.search_read(
                "sale.order.line",
                [["order_id", "=", order_id], ["name", "=", line.extra_line.name]],
                ["id"],
                limit=1,
            )
            if existing:
                line_id = existing[0]["id"]
            else:
                values: dict[str, Any] = {
                    "order_id": order_id,
                    "product_id": line.extra_line.product_id,
                    "name": line.extra_line.name,
                    "product_uom_qty": line.quantity,  # Decimal up to the wire
                    "price_unit": line.extra_line.price_unit,
                }
                line_id = q2c.odoo.create("sale.order.line", values)
        if line_id is not None:
            q2c.odoo.write("sale.order.line", [line_id], {"qty_delivered": line.set_delivered})


def set_cap(hub: Hub, deal_key: str, not_to_exceed: Decimal | None, *, by: str) -> DeliveryPlan:
    """Record an agreed not-to-exceed cap (None: uncapped) on the deal's delivery plan; the next
    invoice run bills within it (and releases work a lower cap held back)."""
    if not_to_exceed is not None and not_to_exceed < 0:
        raise BillingError(f"a cap cannot be negative ({not_to_exceed})")
    bound = next((b for b in bound_orders(hub) if b.deal_key == deal_key), None)
    if bound is None or bound.plan is None:
        raise BillingError(f"{deal_key} has no delivered order with a billing plan")
    before = bound.plan.billing.not_to_exceed
    billing = bound.plan.billing.model_copy(update={"not_to_exceed": not_to_exceed})
    plan = bound.plan.model_copy(update={"billing": billing})
    with hub.store.session() as session:
        row = session.scalar(
            select(Binding).where(
                Binding.system == odoo_target(hub.settings),
                Binding.model == ORDER_MODEL,
                Binding.external_id == str(bound.order_id),
            )
        )
        assert row is not None  # bound_orders just read it
        row.snapshot = plan.model_dump(mode="json")
    hub.audit.record(
        actor=by,
        action="set_cap",
        system="handoff",
        model="billing_plan",
        record_id=str(bound.order_id),
        canonical_id=deal_key,
        before={"not_to_exceed": None if before is None else str(before)},
        after={"not_to_exceed": None if not_to_exceed is None else str(not_to_exceed)},
    )
    return plan


# A scheduled run in the first days of a month closes the month that just ended.
CLOSING_DAYS = 7


def scheduled_period(today: date) -> BillingPeriod:
    """The period a scheduled (cron) run bills on ``today``: the previous calendar month when it
    runs in the month's first ``CLOSING_DAYS`` days (the usual "on the 1st" cron closes the month
    just ended, with all its time in), else the current calendar month. Always a calendar month,
    so a retainer's month and the T&M cut-off are the same whatever day the cron fires."""
    if today.day <= CLOSING_DAYS:
        return BillingPeriod.month(f"{today.replace(day=1) - timedelta(days=1):%Y-%m}")
    return BillingPeriod.month(f"{today:%Y-%m}")


def total_of(lines: Iterable[dict[str, Any]]) -> Decimal:
    return sum((Decimal(str(line["amount"])) for line in lines), Decimal(0))
