"""Changes after won: extra order lines or one change-order exception, never a deletion."""

from __future__ import annotations

from decimal import Decimal

import pytest

from delivery.builders import base_deal, delivery_config
from handoff.canonical.crm import BillingModel, Deal, DealLine
from handoff.delivery.amendments import amendment_error, plan_amendment
from handoff.delivery.plan import DeliveryPlan, plan_delivery
from handoff.delivery.reference import OdooReference

TM = BillingModel.TIME_AND_MATERIALS


def plan(deal: Deal, reference: OdooReference) -> DeliveryPlan:
    return plan_delivery(deal, 7, delivery_config(), reference)


def changed_lines(deal: Deal, *lines: DealLine) -> Deal:
    return deal.model_copy(update={"lines": list(lines)})


def test_an_unchanged_deal_needs_nothing(reference: OdooReference) -> None:
    deal = base_deal(TM)
    amendment = plan_amendment(plan(deal, reference), plan(deal, reference), "order_lines")
    assert amendment.unchanged and amendment_error(deal, amendment) is None


def test_more_hours_and_a_new_line_become_extra_order_lines(reference: OdooReference) -> None:
    deal = base_deal(TM)
    first, second = deal.lines
    added = DealLine(external_id="l3", name="Training", sku="CONSULTING-HOUR", quantity=Decimal(8))
    now = changed_lines(deal, first.model_copy(update={"quantity": Decimal(50)}), second, added)
    amendment = plan_amendment(plan(deal, reference), plan(now, reference), "order_lines")
    assert amendment.changes == []
    assert [(line.deal_line_id, line.quantity, line.price_unit, line.name)
            for line in amendment.extra_lines] == [
        ("l1+10", Decimal(10), Decimal("150.0"), "Consulting (amendment: +10)"),
        ("l3", Decimal(8), Decimal("150.0"), "Training"),
    ]  # fmt: skip


def test_less_removed_or_repriced_needs_a_change_order(reference: OdooReference) -> None:
    deal = base_deal(TM)
    first, second = deal.lines
    now = changed_lines(
        deal,
        first.model_copy(update={"quantity": Decimal(30)}),
        second.model_copy(update={"unit_price": Decimal(250)}),
    )
    amendment = plan_amendment(plan(deal, reference), plan(now, reference), "order_lines")
    assert amendment.extra_lines == []
    assert [(p.field, p.rule) for p in amendment.changes] == [
        ("lines[l1]", "line_quantity_changed"), ("lines[l2]", "line_repriced")]  # fmt: skip
    error = amendment_error(deal, amendment)
    assert error is not None and error.rule == "deal_amendment"
    assert "changed after won: 2 problems" in error.message
    assert all("never deletes" in p["fix"] for p in error.context["problems"])

    removed = changed_lines(deal, first)
    [gone] = plan_amendment(plan(deal, reference), plan(removed, reference), "order_lines").changes
    assert (gone.field, gone.rule, gone.value) == ("lines[l2]", "line_removed", "Architecture")


def test_in_exception_mode_every_change_goes_to_finance(reference: OdooReference) -> None:
    deal = base_deal(TM)
    first, second = deal.lines
    added = DealLine(external_id="l3", name="Training", sku="CONSULTING-HOUR", quantity=Decimal(8))
    now = changed_lines(deal, first.model_copy(update={"quantity": Decimal(50)}), second, added)
    amendment = plan_amendment(plan(deal, reference), plan(now, reference), "exception")
    assert amendment.extra_lines == []
    assert [p.rule for p in amendment.changes] == ["line_quantity_changed", "line_added"]


def test_terms_changes_need_finance(reference: OdooReference) -> None:
    reference.currencies["EUR"] = 2
    deal = base_deal(BillingModel.FIXED_FEE)
    now = deal.model_copy(update={"currency": "EUR"})
    [change] = plan_amendment(plan(deal, reference), plan(now, reference), "order_lines").changes
    assert (change.field, change.rule, change.value) == ("currency", "currency_changed", "EUR")


def test_plans_of_different_deals_are_not_compared(reference: OdooReference) -> None:
    with pytest.raises(ValueError, match="different deals"):
        plan_amendment(
            plan(base_deal(TM), reference),
            plan(base_deal(TM, external_id="other"), reference),
            "order_lines",
        )


def test_won_stages_per_system_and_pipeline_else_the_crm_flag() -> None:
    config = delivery_config(won_stages={"hubspot": {"default": ["closedwon", "signed"]}})
    assert config.is_won("hubspot", "default", "signed", crm_says_won=False)
    assert not config.is_won("hubspot", "default", "contractsent", crm_says_won=True)
    assert config.is_won("hubspot", "partners", "anything", crm_says_won=True)
    assert not config.is_won("salesforce", None, "Closed Won", crm_says_won=False)
