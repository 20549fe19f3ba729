"""A retainer whose invoicing stopped after Handoff added the overage line to the order (issue 9,
defect 9): the next dry run proposes the overage once, and the retried invoice bills exactly the
proposal. Over real HTTP (HubSpot sandbox -> deal_to_delivery -> Odoo sandbox)."""

from __future__ import annotations

from decimal import Decimal

from handoff.canonical.crm import BillingModel
from handoff.invoicing.proposals import ProposalLine
from handoff.invoicing.records import Proposals, ProposalStatus
from handoff.invoicing.service import _odoo, _set_delivered, record_proposals, run_billing
from invoicing.world import PERIOD, World

FEE, OVERAGE = Decimal(6500), 3 * Decimal(650)  # 13 h of 10 included, at 650/h


def test_a_retainer_whose_invoice_failed_proposes_its_overage_once(world: World) -> None:
    deal = world.deal(
        "Managed services",
        BillingModel.RETAINER,
        [("RETAINER-MONTH", 12, 6500)],
        handoff_retainer_monthly_amount="6500",
        handoff_retainer_hours="10",
    )
    world.deliver(deal)
    world.log(deal, [6, 7])
    [proposal_id] = record_proposals(world.hub, PERIOD).proposed
    record = Proposals(world.hub.store).get(proposal_id)
    assert record.total == FEE + OVERAGE
    # Invoicing stopped after its first step (the overage line is on the order, delivered) and
    # the run recorded the failure, as invoice_or_record_failure does.
    lines = [ProposalLine.model_validate(line) for line in record.lines]
    _set_delivered(_odoo(world.hub), record.order_id, lines)
    Proposals(world.hub.store).update(
        proposal_id, status=ProposalStatus.FAILED, error="Odoo unreachable"
    )
    assert len(world.order(deal)["order_line"]) == 2  # the retainer line and its overage line

    [draft] = run_billing(world.hub, PERIOD, dry_run=True).drafts
    assert draft.total == FEE + OVERAGE  # not FEE + 2 x OVERAGE
    assert [line.kind for line in draft.lines] == ["retainer", "retainer_overage"]

    retried = run_billing(world.hub, PERIOD)
    assert list(retried.invoiced) == [proposal_id] and not retried.failed
    [invoice] = world.invoices()
    assert invoice["amount_untaxed"] == float(FEE + OVERAGE)
    assert len(world.order(deal)["order_line"]) == 2  # the overage line reused, not added again
    assert run_billing(world.hub, PERIOD, dry_run=True).drafts == []
