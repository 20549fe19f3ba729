"""Each contract type's plan, written to the Odoo sandbox over real HTTP and read back.

The expected values are the recorded Odoo 18 behaviour (quote_to_cash.json): the timesheet product
reads back exactly as exchange #5 (service_policy ``delivered_timesheet``), the order line's
``qty_delivered_method`` as #11, and confirming creates the project and task found by
``sale_order_id`` (#10-#13).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from delivery.builders import PRODUCT_CODES, base_deal, customer, delivery_config
from handoff.billing.products import expected_service_policy, product_fits, required_product_setup
from handoff.canonical.crm import BillingModel, DealLine, DealMilestone
from handoff.canonical.errors import BusinessRuleError
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import CustomerIn, QuoteToCashAdapter
from handoff.delivery import load_reference, validate_deal
from handoff.delivery.plan import DeliveryPlan, plan_delivery
from handoff.delivery.reference import OdooReference
from handoff_sandbox.odoo.testing import running_odoo_sandbox

QUOTE_TO_CASH = (
    Path(__file__).parents[1] / "contract" / "odoo" / "transcripts" / "quote_to_cash.json"
)
HOURS_UOM = 4  # quote_to_cash.json #3
TM, FIXED, MILESTONE, RETAINER = (
    BillingModel.TIME_AND_MATERIALS,
    BillingModel.FIXED_FEE,
    BillingModel.MILESTONE,
    BillingModel.RETAINER,
)
PRODUCT_READ = ["name", "type", "invoice_policy", "service_type", "service_policy",
                "service_tracking", "uom_id", "default_code"]  # fmt: skip


def recorded(seq: int) -> Any:
    exchanges = json.loads(QUOTE_TO_CASH.read_text())["exchanges"]
    return next(e for e in exchanges if e["seq"] == seq)


class Odoo:
    def __init__(self, adapter: OdooAdapter, requests: list[httpx.Request]) -> None:
        self.adapter = adapter
        self.q2c = QuoteToCashAdapter(adapter, system="hubspot")
        self.requests = requests


@pytest.fixture(scope="module")
def odoo() -> Iterator[Odoo]:
    requests: list[httpx.Request] = []
    with running_odoo_sandbox() as sandbox, OdooClient(
        sandbox.url, sandbox.db, sandbox.login, sandbox.password,
        event_hooks={"request": [requests.append]},
    ) as client:  # fmt: skip
        adapter = OdooAdapter(client)
        for key, code in PRODUCT_CODES.items():
            model, scheduled = (FIXED, True) if key == "fixed_fee_scheduled" else (key, False)
            setup = required_product_setup(model, scheduled=scheduled)
            extra = {"uom_id": HOURS_UOM, "uom_po_id": HOURS_UOM} if model == TM else {}
            adapter.create(
                "product.template",
                {"name": f"Service {code}", "default_code": code, "list_price": 150.0,
                 **setup, **extra},
            )  # fmt: skip
        yield Odoo(adapter, requests)


@pytest.fixture(scope="module")
def reference(odoo: Odoo) -> OdooReference:
    return load_reference(odoo.adapter, delivery_config())


def test_load_reference_reads_what_the_config_names_in_a_few_batched_calls(odoo: Odoo) -> None:
    odoo.adapter.search_read("res.company", [], ["id"])  # logged in before counting
    before = len(odoo.requests)
    reference = load_reference(odoo.adapter, delivery_config())
    calls = [json.loads(r.content)["params"]["args"][3:5] for r in odoo.requests[before:]]
    assert calls == [
        ["res.company", "search_read"], ["res.currency", "search_read"],
        ["account.payment.term", "search_read"], ["account.tax", "search_read"],
        ["product.template", "search_read"],
    ]  # fmt: skip
    assert reference.companies["My Company"].model_dump() == {
        "id": 1, "name": "My Company", "currency": "USD"}  # fmt: skip
    assert reference.currencies == {"USD": 1}  # EUR is seeded inactive
    assert [t.name for t in reference.payment_terms["30 Days"]] == ["30 Days"]
    assert [(t.id, t.company_id) for t in reference.taxes["15%"]] == [(1, 1)]  # sale tax only
    assert set(reference.products) == set(PRODUCT_CODES.values())
    tm = reference.products["SVC-TM"]
    assert (tm.type, tm.invoice_policy, tm.service_type, tm.service_tracking, tm.uom) == (
        "service", "delivery", "timesheet", "task_in_project", "Hours")  # fmt: skip
    variant = odoo.adapter.read("product.template", [tm.template_id], ["product_variant_id"])
    assert variant[0]["product_variant_id"][0] == tm.id


def test_template_projects_are_read_when_the_config_names_them(odoo: Odoo) -> None:
    project = odoo.adapter.create("project.project", {"name": "Template: Implementation"})
    config = delivery_config(
        project_templates={"impl": {"odoo_project": "Template: Implementation"}}
    )
    reference = load_reference(odoo.adapter, config)
    assert reference.projects["Template: Implementation"].id == project


@pytest.mark.parametrize(
    ("code", "model", "scheduled"),
    [("SVC-TM", TM, False), ("SVC-FIXED", FIXED, False), ("SVC-FIXED-SCHED", FIXED, True),
     ("SVC-MILESTONE", MILESTONE, False), ("SVC-RETAINER", RETAINER, False)],
)  # fmt: skip
def test_products_created_from_the_setup_read_back_as_odoo_computes_them(
    odoo: Odoo, code: str, model: BillingModel, scheduled: bool
) -> None:
    [row] = odoo.adapter.search_read("product.template", [["default_code", "=", code]],
                                     PRODUCT_READ)  # fmt: skip
    setup = required_product_setup(model, scheduled=scheduled)
    assert {field: row[field] for field in setup} == setup
    assert row["service_policy"] == expected_service_policy(model, scheduled=scheduled)
    assert product_fits(row, model, scheduled=scheduled) is None


def test_the_timesheet_product_matches_the_recorded_one(odoo: Odoo) -> None:
    [ours] = odoo.adapter.search_read("product.template", [["default_code", "=", "SVC-TM"]],
                                      PRODUCT_READ)  # fmt: skip
    # What the recorded run created (#4) and read back (#5) on a real Odoo 18.
    created = recorded(4)["request"]["params"]["args"][5][0]
    [theirs] = recorded(5)["response"]["result"]
    fields = ["type", "invoice_policy", "service_type", "service_policy", "service_tracking",
              "uom_id"]  # fmt: skip
    assert {f: ours[f] for f in fields} == {f: theirs[f] for f in fields}
    assert required_product_setup(TM) == {
        f: created[f] for f in ("type", "invoice_policy", "service_type", "service_tracking")
    }


def test_product_fits_rejects_the_other_models_setups() -> None:
    for model in BillingModel:
        for other in BillingModel:
            fits = product_fits(required_product_setup(other), model)
            same_setup = required_product_setup(other) == required_product_setup(model)
            assert (fits is None) == same_setup, (model, other, fits)


def partner(odoo: Odoo, name: str) -> int:
    return odoo.q2c.upsert_customer(CustomerIn(external_id=f"co-{name}", name=name)).company.id


def write_plan(odoo: Odoo, plan: DeliveryPlan, partner_id: int) -> dict[str, Any]:
    """What the deal-to-delivery flow does with a plan: order, confirm, milestones."""
    delivery = odoo.q2c.create_sale_order(plan.order.sale_order_in(partner_id))
    lines = odoo.adapter.read(
        "sale.order.line", delivery.line_ids,
        ["product_id", "product_uom_qty", "price_unit", "discount", "tax_id", "name",
         "qty_delivered_method", "project_id", "task_id", "invoice_status", "qty_to_invoice"],
    )  # fmt: skip
    milestone_ids: list[int] = []
    if plan.milestones:
        project = delivery.project_ids[0]
        milestone_ids = odoo.q2c.place_milestones(project, [
            milestone.milestone_in(project, lines[milestone.line_index]["id"])
            for milestone in plan.milestones
        ])  # fmt: skip
    [order] = odoo.adapter.read(
        "sale.order", [delivery.order_id],
        ["state", "client_order_ref", "payment_term_id", "company_id", "currency_id",
         "amount_untaxed", "project_ids", "tasks_ids"],
    )  # fmt: skip
    return {"delivery": delivery, "order": order, "lines": lines, "milestones": milestone_ids}


def test_time_and_materials_plan_creates_a_timesheet_billed_order_project_and_task(
    odoo: Odoo, reference: OdooReference
) -> None:
    deal = base_deal(TM, external_id="tm-1")
    assert validate_deal(deal, customer(), delivery_config(), reference) == []
    plan = plan_delivery(deal, None, delivery_config(), reference, customer_name="Acme")
    # 40 h at the rate card's consultant rate, 10 h at the deal's 200 less 10 %.
    assert [(line.quantity, line.price_unit, line.price_source, line.discount)
            for line in plan.order.lines] == [
        (Decimal(40), Decimal("150.0"), "rate_card", Decimal(0)),
        (Decimal(10), Decimal(200), "deal", Decimal(10)),
    ]  # fmt: skip
    assert plan.order.amount_untaxed == Decimal("7800.00")
    assert plan.billing.service_policy == "delivered_timesheet"
    assert [e.trigger for e in plan.billing.events] == ["timesheets"]

    written = write_plan(odoo, plan, partner(odoo, "Acme TM"))
    order, lines = written["order"], written["lines"]
    assert order["state"] == "sale" and order["client_order_ref"] == "hubspot:tm-1"
    assert order["payment_term_id"][1] == "30 Days" and order["company_id"][0] == 1
    assert order["currency_id"][1] == "USD" and order["amount_untaxed"] == 7800.0
    recorded_line = recorded(11)["response"]["result"][0]
    assert [line["qty_delivered_method"] for line in lines] == [
        recorded_line["qty_delivered_method"]] * 2  # fmt: skip
    assert [(line["product_uom_qty"], line["price_unit"], line["discount"], line["tax_id"])
            for line in lines] == [(40.0, 150.0, 0.0, [1]), (10.0, 200.0, 10.0, [1])]  # fmt: skip
    # Confirmation created one project for the order and one task per line (#10-#13).
    projects = odoo.adapter.search_read(
        "project.project", [["sale_order_id", "=", order["id"]]], ["sale_line_id"]
    )
    tasks = odoo.adapter.search_read(
        "project.task", [["sale_order_id", "=", order["id"]]], ["sale_line_id", "project_id"]
    )
    assert len(projects) == 1 and order["project_ids"] == [projects[0]["id"]]
    assert sorted(t["sale_line_id"][0] for t in tasks) == sorted(line["id"] for line in lines)
    assert {t["project_id"][0] for t in tasks} == {projects[0]["id"]}
    assert all(line["project_id"] and line["task_id"] for line in lines)


def test_fixed_fee_on_order_is_invoiceable_as_soon_as_confirmed(
    odoo: Odoo, reference: OdooReference
) -> None:
    plan = plan_delivery(base_deal(FIXED, external_id="ff-1"), None, delivery_config(), reference)
    assert plan.billing.product_setup["invoice_policy"] == "order"
    assert [(e.trigger, e.percentage, e.amount) for e in plan.billing.events] == [
        ("order_confirmed", Decimal(100), Decimal("12000.00"))]  # fmt: skip
    written = write_plan(odoo, plan, partner(odoo, "Acme FF"))
    [line] = written["lines"]
    assert (line["qty_delivered_method"], line["invoice_status"], line["qty_to_invoice"]) == (
        "manual", "to invoice", 1.0)  # fmt: skip
    assert written["order"]["project_ids"] and written["order"]["tasks_ids"]


def test_fixed_fee_on_a_schedule_waits_for_the_delivered_quantity(
    odoo: Odoo, reference: OdooReference
) -> None:
    from datetime import date

    deal = base_deal(
        FIXED, external_id="ff-2",
        lines=[DealLine(external_id="l1", name="Audit", sku="PAYPLAN", unit_price=Decimal(12000))],
        milestones=[
            DealMilestone(name="Deposit", percentage=Decimal(30), due_date=date(2026, 12, 1)),
            DealMilestone(name="Balance", percentage=Decimal(70), due_date=date(2027, 1, 31)),
        ],
    )  # fmt: skip
    plan = plan_delivery(deal, None, delivery_config(), reference)
    assert plan.billing.scheduled and plan.billing.service_policy == "delivered_manual"
    assert plan.milestones == []  # a schedule, not project milestones
    assert [(e.trigger, e.due_date, e.percentage, e.amount) for e in plan.billing.events] == [
        ("date", date(2026, 12, 1), Decimal("30.00"), Decimal("3600.00")),
        ("date", date(2027, 1, 31), Decimal("70.00"), Decimal("8400.00")),
    ]  # fmt: skip
    [line] = write_plan(odoo, plan, partner(odoo, "Acme FF2"))["lines"]
    assert (line["qty_delivered_method"], line["invoice_status"], line["qty_to_invoice"]) == (
        "manual", "no", 0.0)  # fmt: skip


def test_milestone_plan_creates_milestones_linked_to_the_order_line(
    odoo: Odoo, reference: OdooReference
) -> None:
    plan = plan_delivery(base_deal(MILESTONE, external_id="ms-1"), None, delivery_config(),
                         reference)  # fmt: skip
    assert plan.billing.service_policy == "delivered_milestones"
    assert [(m.name, m.quantity_percentage, m.amount) for m in plan.milestones] == [
        ("Design", Decimal("0.3"), Decimal("15000.00")),
        ("Build", Decimal("0.5"), Decimal("25000.00")),
        ("Go-live", Decimal("0.2"), Decimal("10000.00")),
    ]  # fmt: skip
    assert plan.project.allow_milestones
    written = write_plan(odoo, plan, partner(odoo, "Acme MS"))
    [line] = written["lines"]
    assert line["qty_delivered_method"] == "milestones"
    milestones = odoo.adapter.read(
        "project.milestone", written["milestones"],
        ["name", "project_id", "sale_line_id", "quantity_percentage", "deadline"],
    )  # fmt: skip
    project = written["delivery"].project_ids[0]
    assert [(m["name"], m["project_id"][0], m["sale_line_id"][0], m["quantity_percentage"],
             m["deadline"]) for m in milestones] == [
        ("Design", project, line["id"], 0.3, "2026-12-15"),
        ("Build", project, line["id"], 0.5, "2027-02-01"),
        ("Go-live", project, line["id"], 0.2, "2027-03-01"),
    ]  # fmt: skip
    # The 100 % milestone Odoo makes on confirmation became "Design": the line is billed once.
    on_line = odoo.adapter.search_read(
        "project.milestone", [["sale_line_id", "=", line["id"]]], ["quantity_percentage"]
    )
    assert sorted(m["id"] for m in on_line) == sorted(written["milestones"])
    assert sum(m["quantity_percentage"] for m in on_line) == pytest.approx(1.0)
    # Placing them again (a retried step) changes nothing.
    assert write_plan(odoo, plan, partner(odoo, "Acme MS"))["milestones"] == written["milestones"]
    # Reaching a milestone delivers its share of the line, which becomes invoiceable.
    odoo.q2c.mark_milestones_reached(written["milestones"][:1])
    [after] = odoo.adapter.read(
        "sale.order.line", [line["id"]], ["qty_delivered", "qty_to_invoice", "invoice_status"]
    )
    assert (after["qty_delivered"], after["qty_to_invoice"], after["invoice_status"]) == (
        0.3, 0.3, "to invoice")  # fmt: skip


def test_retainer_plan_records_the_monthly_amount_and_hours(
    odoo: Odoo, reference: OdooReference
) -> None:
    plan = plan_delivery(base_deal(RETAINER, external_id="rt-1"), None, delivery_config(),
                         reference)  # fmt: skip
    assert plan.billing.retainer is not None
    assert (plan.billing.retainer.monthly_amount, plan.billing.retainer.included_hours,
            plan.billing.retainer.currency) == (Decimal(4000), Decimal(25), "USD")  # fmt: skip
    assert [(e.trigger, e.amount) for e in plan.billing.events] == [("monthly", Decimal(4000))]
    [line] = write_plan(odoo, plan, partner(odoo, "Acme RT"))["lines"]
    assert (line["qty_delivered_method"], line["price_unit"], line["invoice_status"]) == (
        "manual", 4000.0, "no")  # fmt: skip


def test_a_deal_without_lines_is_one_line_for_its_amount(
    odoo: Odoo, reference: OdooReference
) -> None:
    deal = base_deal(FIXED, external_id="ff-3", lines=[], amount=Decimal(9000))
    plan = plan_delivery(deal, None, delivery_config(), reference)
    [line] = plan.order.lines
    assert (line.product_code, line.quantity, line.price_unit, line.name) == (
        "SVC-FIXED", Decimal(1), Decimal(9000), deal.name)  # fmt: skip


def test_the_same_plan_written_twice_makes_one_order(odoo: Odoo, reference: OdooReference) -> None:
    plan = plan_delivery(base_deal(FIXED, external_id="ff-4"), None, delivery_config(), reference)
    customer_id = partner(odoo, "Acme twice")
    first = write_plan(odoo, plan, customer_id)["delivery"]
    second = write_plan(odoo, plan, customer_id)["delivery"]
    assert first.order_id == second.order_id
    assert odoo.adapter.search_read(
        "sale.order", [["client_order_ref", "=", "hubspot:ff-4"]], ["id"]) == [
        {"id": first.order_id}]  # fmt: skip


def test_plan_order_values_are_a_valid_sale_order_create(
    odoo: Odoo, reference: OdooReference
) -> None:
    plan = plan_delivery(base_deal(FIXED, external_id="ff-5"), None, delivery_config(), reference)
    with pytest.raises(ValueError, match="partner id"):
        plan.order.odoo_values()
    order_id = odoo.adapter.create("sale.order", plan.order.odoo_values(partner(odoo, "Acme V")))
    [order] = odoo.adapter.read("sale.order", [order_id], ["client_order_ref", "amount_untaxed"])
    assert (order["client_order_ref"], order["amount_untaxed"]) == ("hubspot:ff-5", 12000.0)


def test_plan_raises_the_deals_one_exception(reference: OdooReference) -> None:
    deal = base_deal(FIXED, legal_entity="UK", tax_profile="exempt")
    with pytest.raises(BusinessRuleError) as raised:
        plan_delivery(deal, 7, delivery_config(), reference)
    assert raised.value.rule == "deal_validation"
    assert [p["rule"] for p in raised.value.context["problems"]] == [
        "legal_entity_unmapped", "tax_profile_unknown"]  # fmt: skip


def test_project_name_from_the_template(reference: OdooReference) -> None:
    plan = plan_delivery(base_deal(FIXED), 7, delivery_config(), reference, customer_name="Acme")
    assert plan.project.name("S00042") == "S00042 - Acme fixed_fee"
    assert (plan.project.tasks, plan.project.stages) == (
        ["Kick-off", "Delivery", "Handover"], ["To Do", "In Progress", "Done"])  # fmt: skip
    assert plan.order.partner_id == 7 and not plan.order.needs_pricelist
