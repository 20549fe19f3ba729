"""Monitors count the right things; credit notes reduce what the CRM shows as invoiced; the CLI's
dry run shows the proposal and writes nothing."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from handoff.canonical.crm import BillingModel
from handoff.cli.billing_cmd import billing_app, monitors_app
from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
from handoff.engine.runtime import set_current_hub
from handoff.flows.invoicing import poll_invoices
from handoff.invoicing.monitors import run_monitors
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import run_billing
from invoicing.world import PERIOD, World
from support.waiting import wait_for


def _gauge(monitor: str) -> float | None:
    return REGISTRY.get_sample_value("handoff_monitor_items", {"monitor": monitor})


def test_monitors_list_unbilled_time_missing_plans_undelivered_invoices_and_milestones(
    world: World,
) -> None:
    tm = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    fixed = world.deal("ERP rollout", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 48000)])
    phased = world.deal(
        "Finance transformation",
        BillingModel.MILESTONE,
        [("PHASED-DELIVERY", 1, 100000)],
        handoff_milestones=json.dumps(
            [
                {"name": "Design", "amount": "30000", "due_date": "2027-01-28"},
                {"name": "Build", "amount": "70000", "due_date": "2027-03-28"},
            ]
        ),
    )
    world.deliver(tm, fixed, phased)
    [billed_sheet] = world.log(tm, [2])
    assert len(run_billing(world.hub, PERIOD).invoiced) == 2  # time and the fixed fee
    assert run_monitors(world.hub, older_than_days=0).counts() == dict.fromkeys(
        run_monitors(world.hub).items, 0
    )

    # Billed time deleted in Odoo afterwards: the invoice has no delivery behind it any more.
    # (Odoo refuses to delete a timesheet of a posted invoice: reset to draft, delete, repost.)
    [time_invoice] = world.invoiced_by([billed_sheet]).values()
    world.odoo.call("account.move", "button_draft", [[time_invoice]])
    world.odoo.call("account.analytic.line", "unlink", [[billed_sheet]])
    world.odoo.call("account.move", "action_post", [[time_invoice]])
    # Time logged ten days ago and never invoiced; and time logged today (too recent to count).
    order = world.order(tm)
    old_id, _ = world.odoo.create_many(
        "account.analytic.line",
        [
            {
                "project_id": order["project_ids"][0],
                "employee_id": world.employee_id,
                "name": name,
                "unit_amount": 0.5,
                "date": day.isoformat(),
            }
            for name, day in (("old", date.today() - timedelta(days=10)), ("new", date.today()))
        ],
    )
    phased_order = world.order(phased)
    [design] = world.odoo.search_read(
        "project.milestone",
        [["project_id", "=", phased_order["project_ids"][0]], ["name", "=", "Design"]],
        ["id"],
    )
    world.odoo.write("project.milestone", [design["id"]], {"is_reached": True})
    # A deal bound before plans were recorded.
    world.hub.bindings.bind(
        "odoo",
        "sale.order",
        str(phased_order["id"]),
        canonical_type="deal",
        canonical_id=f"hubspot:deal:{phased}",
        snapshot=None,
    )

    report = run_monitors(world.hub, older_than_days=7)
    assert report.counts() == {
        "unbilled_time": 1,
        "projects_without_plan": 1,
        "invoiced_without_delivery": 1,
        "milestones_not_invoiced": 1,
        "retainers_overdrawn": 0,
    }
    [old] = report.items["unbilled_time"]
    assert old.record == f"time:odoo:{old_id}" and "0.5 h" in old.detail
    assert report.items["milestones_not_invoiced"][0].record == f"project.milestone {design['id']}"
    assert _gauge("unbilled_time") == 1 and _gauge("retainers_overdrawn") == 0

    # The scheduled run's age is handoff.yaml's billing.unbilled_after_days (default 7).
    assert run_monitors(world.hub).counts()["unbilled_time"] == 1
    configured = world.hub.settings
    billing = configured.billing.model_copy(update={"unbilled_after_days": 30})
    world.hub.settings = configured.model_copy(update={"billing": billing})
    try:
        assert run_monitors(world.hub).counts()["unbilled_time"] == 0
    finally:
        world.hub.settings = configured


def test_a_credit_note_reduces_invoiced_and_outstanding_in_the_crm(world: World) -> None:
    fixed = world.deal("ERP rollout", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 48000)])
    world.deliver(fixed)
    run_billing(world.hub, PERIOD)
    assert poll_invoices(world.hub) == 1
    wait_for(world.settled(1, "invoice_status"), timeout=30, what="status")
    props = world.deal_props(fixed)
    # untaxed order lines (tax profile 'standard' is empty), so an untaxed invoice, as real Odoo
    assert props["handoff_invoiced_to_date"] == "48000.00"
    [invoice] = world.invoices()
    QuoteToCashAdapter(world.odoo).create_credit_notes([invoice["id"]], reason="cancelled")
    assert poll_invoices(world.hub) == 1
    wait_for(world.settled(2, "invoice_status"), timeout=30, what="status after credit note")
    props = world.deal_props(fixed)
    assert (props["handoff_invoiced_to_date"], props["handoff_outstanding"]) == ("0.00", "0.00")
    assert props["handoff_paid_to_date"] == "0.00"  # settled by the credit note, not by cash
    assert props["handoff_last_invoice_number"] == invoice["name"]
    assert poll_invoices(world.hub) == 0  # nothing changed since


def test_the_cli_dry_run_prints_the_proposal_and_writes_nothing(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tm = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(tm)
    sheets = world.log(tm, [3, 4.5])
    config = tmp_path / "handoff.yaml"
    config.write_text(world.config)
    monkeypatch.setenv("HANDOFF_CONFIG", str(config))
    try:
        result = CliRunner().invoke(
            billing_app, ["run", "--dry-run", "--period", PERIOD.label], terminal_width=200
        )
    finally:
        set_current_hub(world.hub)
    assert result.exit_code == 0, result.output
    assert world.order(tm)["name"] in result.output
    assert f"time:odoo:{sheets[0]}" in result.output and "1125.00 USD" in result.output
    assert "nothing written" in result.output
    assert world.invoices() == [] and Proposals(world.hub.store).list() == []
    bad = CliRunner().invoke(billing_app, ["run", "--dry-run", "--period", "2026-13"])
    set_current_hub(world.hub)
    assert bad.exit_code == 2 and "not YYYY-MM" in bad.output

    # With approval required, the run stores the proposal and waits for `billing approve`.
    def cli(*args: str) -> str:
        try:
            outcome = CliRunner().invoke(billing_app, list(args), terminal_width=200)
        finally:
            set_current_hub(world.hub)
        assert outcome.exit_code == 0, outcome.output
        return outcome.output

    assert "1 proposals stored, 0 invoiced" in cli(
        "run", "--period", PERIOD.label, "--require-approval"
    )
    [proposal] = Proposals(world.hub.store).list()
    assert proposal.status == "proposed" and world.invoices() == []
    assert "proposed" in cli("proposals")
    assert "0 proposals stored, 0 invoiced" in cli("run", "--period", PERIOD.label)
    assert "invoiced" in cli("approve", str(proposal.id), "--by", "finance")
    approved = Proposals(world.hub.store).get(proposal.id)
    assert (approved.status, approved.approved_by) == ("invoiced", "finance")
    [invoice] = world.invoices()
    assert approved.invoice_ids == [invoice["id"]] and invoice["amount_untaxed"] == 1125.0
    world.log(tm, [1])
    try:
        listed = CliRunner().invoke(monitors_app, ["--days", "0"], terminal_width=200)
    finally:
        set_current_hub(world.hub)
    assert listed.exit_code == 0, listed.output
    assert "unbilled_time: 1" in listed.output and "retainers_overdrawn: 0" in listed.output
