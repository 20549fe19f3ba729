"""Delivery to cash over real HTTP: HubSpot sandbox -> deal_to_delivery -> Odoo sandbox, then the
invoice run, the invoice status poll back to HubSpot, Stripe payments and the monitors."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from handoff.api.app import create_app
from handoff.billing.engine import BillingPeriod
from handoff.canonical.crm import BillingModel
from handoff.config import BillingConfig
from handoff.flows.invoicing import poll_invoices
from handoff.ingress.stripe import signature_header
from handoff.invoicing.monitors import run_monitors
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import approve, billed_keys, invoice_proposal, run_billing
from invoicing.world import PERIOD, STRIPE_SECRET, World
from support.servers import serving
from support.waiting import wait_for


def test_delivered_work_is_invoiced_once_and_the_crm_sees_it(world: World) -> None:
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
    retainer = world.deal(
        "Managed services",
        BillingModel.RETAINER,
        [("RETAINER-MONTH", 12, 6500)],
        handoff_retainer_monthly_amount="6500",
        handoff_retainer_hours="10",
    )
    world.deliver(tm, fixed, phased, retainer)
    sheets = world.log(tm, [3, 4.5])
    world.log(retainer, [6, 7])  # 13 h of 10 included: 3 h overage
    phased_order = world.order(phased)
    [design] = world.odoo.search_read(
        "project.milestone",
        [["project_id", "=", phased_order["project_ids"][0]], ["name", "=", "Design"]],
        ["id"],
    )
    world.odoo.write("project.milestone", [design["id"]], {"is_reached": True})

    dry = run_billing(world.hub, PERIOD, dry_run=True)
    totals = {d.billing_model: d.total for d in dry.drafts}
    assert totals == {
        "time_materials": 7.5 * 150,
        "fixed_fee": 48000,
        "milestone": 30000,
        "retainer": 6500 + 3 * 650,
    }
    [tm_draft] = [d for d in dry.drafts if d.billing_model == "time_materials"]
    assert sorted(tm_draft.source_keys) == sorted(f"time:odoo:{i}" for i in sheets)
    assert world.invoices() == [] and Proposals(world.hub.store).list() == []
    assert billed_keys(world.hub) == {}

    first = run_billing(world.hub, PERIOD)
    assert len(first.invoiced) == 4 and not first.failed
    invoices = world.invoices()
    by_origin = {i["invoice_origin"]: i for i in invoices}
    assert len(invoices) == 4
    assert by_origin[world.order(tm)["name"]]["amount_untaxed"] == 1125.0
    assert by_origin[world.order(retainer)["name"]]["amount_untaxed"] == 8450.0
    assert all(i["state"] == "posted" for i in invoices)
    assert set(billed_keys(world.hub, [f"time:odoo:{i}" for i in sheets])) == {
        f"time:odoo:{i}" for i in sheets
    }

    second = run_billing(world.hub, PERIOD)
    assert second.drafts == [] and second.invoiced == {}
    assert len(world.invoices()) == 4

    # Status back to the CRM: one poll after the change.
    assert poll_invoices(world.hub) == 4
    wait_for(world.settled(4, "invoice_status"), timeout=30, what="status flows")
    assert [e.message for e in world.hub.exceptions.list()] == []
    props = world.deal_props(tm)
    # The order lines carry no tax (tax profile 'standard' is empty): neither does the invoice, as
    # in real Odoo, whose invoice lines take the order lines' taxes (credit_note.json,
    # fixed_price_and_down_payment.json #13/#15, multi_company_currency_tax.json #29-43).
    assert props["handoff_invoiced_to_date"] == "1125.00"
    assert props["handoff_outstanding"] == "1125.00"
    assert props["handoff_paid_to_date"] == "0.00"

    # Stripe: a partial payment by invoice reference, then the rest, then one nobody can match.
    tm_invoice = by_origin[world.order(tm)["name"]]
    stripe_events = [
        _charge("evt_1", "ch_1", 50000, tm_invoice["name"]),
        _charge("evt_2", "ch_2", 62500, tm_invoice["name"]),
        _charge("evt_3", "ch_3", 12345, "INV/1999/0001"),
    ]
    with serving(create_app(world.hub)) as api:
        _post(api, stripe_events[0])
        wait_for(world.settled(1, "stripe_payment"), timeout=30, what="payment 1")
        assert world.deal_props(tm)["handoff_paid_to_date"] == "500.00"
        for event in [*stripe_events[1:], stripe_events[0]]:  # Stripe redelivers the first
            _post(api, event)
    wait_for(world.settled(3, "stripe_payment"), timeout=30, what="payments")
    [paid] = [i for i in world.invoices() if i["id"] == tm_invoice["id"]]
    assert paid["amount_residual"] == 0 and paid["payment_state"] in ("paid", "in_payment")
    props = world.deal_props(tm)
    assert (props["handoff_paid_to_date"], props["handoff_outstanding"]) == ("1125.00", "0.00")
    [unmatched] = [e for e in world.hub.exceptions.list() if e.flow == "stripe_payment"]
    assert unmatched.rule == "stripe_payment_unmatched" and "ch_3" in unmatched.message
    payments = world.odoo.search_read("account.payment", [], ["memo", "amount"])
    assert sorted((p["memo"], p["amount"]) for p in payments) == [("ch_1", 500.0), ("ch_2", 625.0)]

    report = run_monitors(world.hub, older_than_days=0).counts()
    assert report["retainers_overdrawn"] == 1
    assert report["milestones_not_invoiced"] == 0 and report["unbilled_time"] == 0


def _post(api: str, event: dict[str, Any]) -> None:
    body = json.dumps(event).encode()
    response = httpx.post(
        f"{api}/webhooks/stripe",
        content=body,
        headers={"Stripe-Signature": signature_header(STRIPE_SECRET, body)},
    )
    assert response.status_code == 200, response.text


def _charge(event_id: str, charge_id: str, cents: int, invoice: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": charge_id,
                "object": "charge",
                "amount": cents,
                "amount_captured": cents,
                "currency": "usd",
                "paid": True,
                "status": "succeeded",
                "metadata": {"invoice": invoice},
                "created": int(time.time()),
            }
        },
    }


def test_a_crash_after_the_invoice_was_created_does_not_create_a_second(world: World) -> None:
    tm = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(tm)
    world.log(tm, [2])
    result = run_billing(world.hub, PERIOD, require_approval=True)
    [proposal_id] = result.proposed
    assert world.invoices() == []
    proposals = Proposals(world.hub.store)
    # The crash: the wizard ran (invoice created) but nothing after it was recorded.
    order = world.order(tm)
    proposals.update(
        proposal_id, status="approved", approved_by="finance", invoices_before=order["invoice_ids"]
    )
    from handoff.connectors.odoo.quote_to_cash import InvoiceRequest, QuoteToCashAdapter

    QuoteToCashAdapter(world.odoo).invoice_orders([order["id"]], InvoiceRequest(post=False))
    invoices = invoice_proposal(world.hub, proposal_id)
    assert len(world.invoices()) == 1 and invoices == [world.invoices()[0]["id"]]
    assert proposals.get(proposal_id).status == "invoiced"
    assert run_billing(world.hub, PERIOD).invoiced == {}
    assert len(world.invoices()) == 1


def test_time_logged_between_proposal_and_approval_is_bound_to_the_invoice_that_took_it(
    world: World,
) -> None:
    tm = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(tm)
    world.log(tm, [2])
    # handoff.yaml's billing section: proposals wait for finance, invoices stay drafts.
    world.hub.settings = world.hub.settings.model_copy(
        update={"billing": BillingConfig(require_approval=True, post=False)}
    )
    [proposal_id] = run_billing(world.hub, PERIOD).proposed
    assert world.invoices() == []
    [late] = world.log(tm, [1])  # Odoo's wizard invoices all delivered time on the line
    [invoice_id] = approve(world.hub, proposal_id, by="finance")
    assert [i["state"] for i in world.invoices()] == ["draft"]
    assert billed_keys(world.hub, [f"time:odoo:{late}"]) == {f"time:odoo:{late}": invoice_id}
    assert run_billing(world.hub, PERIOD).drafts == []
    assert run_monitors(world.hub, older_than_days=0).counts()["unbilled_time"] == 0


def test_a_fixed_fee_on_a_schedule_invoices_the_instalments_due_once(world: World) -> None:
    staged = world.deal(
        "Staged rollout",
        BillingModel.FIXED_FEE,
        [("STAGED-FEE", 1, 50000)],
        handoff_milestones=json.dumps(
            [
                {"name": "Signature", "amount": "20000", "due_date": "2026-01-15"},
                {"name": "Go-live", "amount": "30000", "due_date": "2099-06-01"},
            ]
        ),
    )
    world.deliver(staged)
    [draft] = run_billing(world.hub, PERIOD, dry_run=True).drafts
    assert draft.basis == "engine" and draft.total == 20000
    assert draft.source_keys == [f"fixed_fee:hubspot:deal:{staged}:Signature"]
    assert len(run_billing(world.hub, PERIOD).invoiced) == 1
    [invoice] = world.invoices()
    assert invoice["amount_untaxed"] == 20000.0
    assert run_billing(world.hub, PERIOD).drafts == []
    later = BillingPeriod.month("2099-06")
    [rest] = run_billing(world.hub, later).drafts
    assert rest.total == 30000
