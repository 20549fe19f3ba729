"""A company without a chart of accounts (no sale journal) cannot be invoiced (issue 9, defect 6):
the invoice run says so before it tries, as one exception per blocked proposal (flow
``billing_run``) with what to set up in Odoo, counted in the metrics; and once the chart is
loaded the next run invoices the proposal and resolves the exception. Over real HTTP, on the Odoo
sandbox or, when HANDOFF_TEST_ODOO_* are set, on a real Odoo 18 (a fresh database: the test
creates company "Bare Co" and loads its chart)."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY
from rich.console import Console

from handoff.api.state_metrics import register_state_collector
from handoff.canonical.crm import BillingModel
from handoff.connectors.odoo.errors import UserError
from handoff.invoicing.records import Proposals, ProposalStatus
from handoff.invoicing.service import run_billing
from handoff_sandbox.demo_cash import print_proposals
from invoicing.world import PERIOD, World


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_company_without_a_sale_journal_blocks_its_proposal_as_an_exception(
    odoo_world: World,
) -> None:
    world = odoo_world
    # No country, no chart: no journals. (Its partner given: the sandbox does not create it.)
    partner = world.odoo.create("res.partner", {"name": "Bare Co", "is_company": True})
    bare = world.odoo.create("res.company", {"name": "Bare Co", "partner_id": partner})
    world.odoo.write("res.users", [world.odoo.client.uid], {"company_ids": [[4, bare]]})
    ok = world.deal("Audit", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 10, 150)])
    blocked = world.deal(
        "Bare audit",
        BillingModel.TIME_AND_MATERIALS,
        [("CONSULTING-HOUR", 10, 150)],
        handoff_legal_entity="Northwind Bare",
    )
    world.deliver(ok, blocked)
    world.log(ok, [2])
    world.log(blocked, [3])
    blocked_key = f"hubspot:deal:{blocked}"
    register_state_collector(world.hub)
    failed_before = _sample("handoff_billing_invoices_failed_total", reason="no_sale_journal")

    dry = run_billing(world.hub, PERIOD, dry_run=True)
    [gap] = dry.problems[blocked_key]
    assert gap.rule == "no_sale_journal" and gap.value == "Bare Co"
    assert world.hub.exceptions.list() == []  # a dry run writes nothing

    result = run_billing(world.hub, PERIOD)
    assert len(result.invoiced) == 1 and len(result.failed) == 1
    [failed_id] = result.failed
    assert "Bare Co has no sale journal" in result.failed[failed_id]
    assert Proposals(world.hub.store).get(failed_id).status == ProposalStatus.FAILED
    [exception] = [e for e in world.hub.exceptions.list(status="open") if e.flow == "billing_run"]
    assert (exception.record, exception.rule, exception.value) == (
        blocked_key,
        "no_sale_journal",
        "Bare Co",
    )
    assert "chart of accounts for Bare Co" in (exception.suggested_fix or "")
    assert (
        _sample("handoff_billing_invoices_failed_total", reason="no_sale_journal")
        == failed_before + 1
    )
    assert _sample("handoff_billing_proposals_failed") == 1
    assert _sample("handoff_open_exceptions") == 1
    # The demo's summary lists every proposal, the blocked one with why.
    console = Console(record=True, width=200)
    print_proposals(world.hub, console, {blocked_key: "Bare audit"})
    shown = console.export_text()
    assert "2 billing proposals, 1 not invoiced" in shown
    assert "Bare audit" in shown and "Bare Co has no sale journal" in shown
    # Odoo itself (here the sandbox, as the real server) refuses the invoice.
    order_id = world.order(blocked)["id"]
    context = {"active_model": "sale.order", "active_ids": [order_id], "active_id": order_id}
    wizard = world.odoo.create(
        "sale.advance.payment.inv", {"advance_payment_method": "delivered"}, context=context
    )
    with pytest.raises(UserError, match="No journal could be found in company Bare Co"):
        world.odoo.call(
            "sale.advance.payment.inv", "create_invoices", [[wizard]], {"context": context}
        )
    # A second run refreshes the same exception instead of adding one.
    run_billing(world.hub, PERIOD)
    assert len([e for e in world.hub.exceptions.list(status="open")]) == 1

    # Finance loads a chart for Bare Co: the next run invoices it and resolves the exception.
    world.odoo.call("account.chart.template", "try_loading", [[], "generic_coa", bare])
    retried = run_billing(world.hub, PERIOD)
    assert list(retried.invoiced) == [failed_id] and not retried.failed
    assert world.hub.exceptions.list(status="open") == []
    assert Proposals(world.hub.store).get(failed_id).status == ProposalStatus.INVOICED
