"""Every validation rule of a won deal: the field, the offending value and how to fix it; and all
of a deal's problems in ONE exception. Pure functions: no server needed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from delivery.builders import base_deal, customer, delivery_config, hand_reference, product
from handoff.canonical.crm import BillingModel, Deal, DealLine, DealMilestone
from handoff.canonical.errors import BusinessRuleError, ErrorKind
from handoff.config import DeliveryConfig, parse_settings, starter_config_text
from handoff.delivery import (
    DEAL_VALIDATION_RULE,
    Problem,
    check_deal,
    problems_to_error,
    validate_deal,
)
from handoff.delivery.reference import OdooReference
from handoff.delivery.validation import catalog_entry

TM, FIXED, MILESTONE, RETAINER = (
    BillingModel.TIME_AND_MATERIALS,
    BillingModel.FIXED_FEE,
    BillingModel.MILESTONE,
    BillingModel.RETAINER,
)


@pytest.mark.parametrize("model", list(BillingModel))
def test_a_complete_deal_of_every_billing_model_passes(
    model: BillingModel, config: DeliveryConfig, reference: OdooReference
) -> None:
    assert validate_deal(base_deal(model), customer(), config, reference) == []


def lines(*items: DealLine) -> list[DealLine]:
    return list(items)


def line(**values: Any) -> DealLine:
    return DealLine(**{"external_id": "x1", "name": "Consulting", **values})


# (case id, billing model, deal overrides, expected field, rule, value, words the fix must contain)
DEAL_RULES: list[tuple[str, BillingModel, dict[str, Any], str, str, Any, str]] = [
    ("owner", FIXED, {"owner_id": None}, "owner_id", "account_owner_missing", None,
     "assign an owner"),
    ("no billing model", FIXED, {"billing_model": None}, "billing_model",
     "billing_model_missing", None, "time_materials, fixed_fee, milestone, retainer"),
    ("no legal entity", FIXED, {"legal_entity": None}, "legal_entity", "legal_entity_missing",
     None, "delivery.defaults.legal_entity"),
    ("unmapped legal entity", FIXED, {"legal_entity": "UK"}, "legal_entity",
     "legal_entity_unmapped", "UK", "delivery.legal_entities"),
    ("no billing terms", FIXED, {"payment_terms": None}, "payment_terms",
     "payment_terms_missing", None, "delivery.defaults.payment_terms"),
    ("unmapped billing terms", FIXED, {"payment_terms": "net45"}, "payment_terms",
     "payment_terms_unmapped", "net45", "'net45: <Odoo payment term name>'"),
    ("no tax profile", FIXED, {"tax_profile": None}, "tax_profile", "tax_profile_missing", None,
     "delivery.defaults.tax_profile"),
    ("unknown tax profile", FIXED, {"tax_profile": "exempt"}, "tax_profile",
     "tax_profile_unknown", "exempt", "delivery.tax_profiles"),
    ("currency not allowed", FIXED, {"currency": "GBP"}, "currency", "currency_not_allowed",
     "GBP", "delivery.currencies"),
    ("currency inactive in Odoo", FIXED, {"currency": "EUR"}, "currency", "currency_inactive",
     "EUR", "activate EUR in Odoo"),
    ("no project template", FIXED, {"project_template": None}, "project_template",
     "project_template_missing", None, "delivery.defaults.project_template"),
    ("unknown project template", FIXED, {"project_template": "agile"}, "project_template",
     "project_template_unknown", "agile", "delivery.project_templates"),
    ("unknown sku", FIXED, {"lines": lines(line(sku="NOPE", unit_price=Decimal(5)))},
     "lines[0].sku", "line_unmapped", "NOPE", "delivery.service_catalog.by_sku"),
    ("zero quantity", FIXED, {"lines": lines(line(sku="AUDIT", quantity=Decimal(0),
                                                   unit_price=Decimal(5)))},
     "lines[0].quantity", "line_quantity_invalid", "0", "quantity"),
    ("negative price", FIXED, {"lines": lines(line(sku="AUDIT", unit_price=Decimal(-5)))},
     "lines[0].unit_price", "line_price_negative", "-5", "discount"),
    ("discount over 100", FIXED, {"lines": lines(line(sku="AUDIT", unit_price=Decimal(5),
                                                       discount=Decimal(120)))},
     "lines[0].discount", "line_discount_invalid", "120", "discount percentage"),
    ("unpriced line without role", FIXED, {"lines": lines(line(sku="AUDIT"))},
     "lines[0].unit_price", "line_price_missing", "0", "a role from delivery.rate_card.roles"),
    ("T&M without lines", TM, {"lines": []}, "lines", "lines_missing", None, "estimated hours"),
    ("fixed fee without lines or amount", FIXED, {"lines": [], "amount": None}, "amount",
     "amount_missing", None, "deal amount"),
    ("milestone deal without milestones", MILESTONE, {"milestones": []}, "milestones",
     "milestones_missing", None, "add the milestones"),
    ("milestone amounts off", MILESTONE,
     {"milestones": [DealMilestone(name="A", amount=Decimal(20000)),
                     DealMilestone(name="B", amount=Decimal(20000))]},
     "milestones", "milestones_sum_mismatch", "40000", "match"),
    ("milestone percentages off", MILESTONE,
     {"milestones": [DealMilestone(name="A", percentage=Decimal(30)),
                     DealMilestone(name="B", percentage=Decimal(60))]},
     "milestones", "milestones_sum_mismatch", "90", "add up to 100"),
    ("milestone with neither", MILESTONE,
     {"milestones": [DealMilestone(name="A")]}, "milestones[0]", "milestone_value_invalid", "A",
     "either its amount or its percentage"),
    ("milestones mixed", MILESTONE,
     {"milestones": [DealMilestone(name="A", percentage=Decimal(50)),
                     DealMilestone(name="B", amount=Decimal(25000))]},
     "milestones", "milestones_mixed", None, "every milestone"),
    ("milestone deal with two lines", MILESTONE,
     {"lines": lines(line(sku="IMPLEMENTATION", unit_price=Decimal(25000)),
                     line(external_id="x2", sku="IMPLEMENTATION", unit_price=Decimal(25000)))},
     "lines", "milestone_line_count", 2, "merge the lines"),
    ("fixed-fee schedule without dates", FIXED,
     {"lines": lines(line(sku="PAYPLAN", unit_price=Decimal(12000))),
      "milestones": [DealMilestone(name="Deposit", percentage=Decimal(30)),
                     DealMilestone(name="Balance", percentage=Decimal(70),
                                   due_date=date(2027, 1, 1))]},
     "milestones[0].due_date", "schedule_date_missing", "Deposit", "invoicing date"),
    ("retainer without amount", RETAINER, {"retainer_monthly_amount": None},
     "retainer_monthly_amount", "retainer_amount_missing", None, "monthly amount"),
    ("retainer with negative hours", RETAINER, {"retainer_hours": Decimal(-1)}, "retainer_hours",
     "retainer_hours_invalid", "-1", "included hours"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "overrides", "field", "rule", "value", "fix"),
    [case[1:] for case in DEAL_RULES],
    ids=[case[0] for case in DEAL_RULES],
)
def test_each_rule_names_the_field_the_value_and_the_fix(
    model: BillingModel,
    overrides: dict[str, Any],
    field: str,
    rule: str,
    value: Any,
    fix: str,
    config: DeliveryConfig,
    reference: OdooReference,
) -> None:
    problems = validate_deal(base_deal(model, **overrides), customer(), config, reference)
    assert [(p.field, p.rule, p.value) for p in problems] == [(field, rule, value)]
    assert fix in problems[0].fix
    assert problems[0].message


def test_a_deal_without_customer_is_a_problem(
    config: DeliveryConfig, reference: OdooReference
) -> None:
    deal = base_deal(FIXED, customer_external_id=None)
    [problem] = validate_deal(deal, None, config, reference)
    assert (problem.field, problem.rule, problem.value) == (
        "customer_external_id", "customer_missing", None)  # fmt: skip
    assert "associate the customer's company with the deal in hubspot" in problem.fix


# Rules about what Odoo holds: (case id, reference change, deal overrides, field, rule, value, fix)
def without(name: str) -> Callable[[OdooReference], None]:
    def change(reference: OdooReference) -> None:
        getattr(reference, name).clear()

    return change


def misconfigured_product(reference: OdooReference) -> None:
    reference.products["SVC-FIXED"] = product(
        "SVC-FIXED", 11, type="service", invoice_policy="delivery", service_type="timesheet",
        service_tracking="no",
    )  # fmt: skip


def foreign_product(reference: OdooReference) -> None:
    reference.products["SVC-FIXED"] = product(
        "SVC-FIXED", 11, type="service", invoice_policy="order", service_type="manual",
        service_tracking="task_in_project", company_id=2,
    )  # fmt: skip


ODOO_RULES: list[tuple[str, Callable[[OdooReference], None], str, str, Any, str]] = [
    ("company missing", without("companies"), "legal_entity", "company_not_in_odoo", "US",
     "create the company 'My Company' in Odoo"),
    ("payment term missing", without("payment_terms"), "payment_terms",
     "payment_term_not_in_odoo", "net30", "create the payment term '30 Days'"),
    ("tax missing", without("taxes"), "tax_profile", "tax_not_in_odoo", "15%",
     "create the sales tax '15%'"),
    ("product missing", without("products"), "lines[0].sku", "product_not_in_odoo", "SVC-FIXED",
     "Internal Reference 'SVC-FIXED'"),
    ("product misconfigured", misconfigured_product, "lines[0].sku", "product_misconfigured",
     "SVC-FIXED", "configured for fixed_fee"),
    ("product of another company", foreign_product, "lines[0].sku", "product_wrong_company",
     "SVC-FIXED", "share the product between companies"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("change", "field", "rule", "value", "fix"),
    [case[1:] for case in ODOO_RULES],
    ids=[case[0] for case in ODOO_RULES],
)
def test_each_odoo_reference_rule(
    change: Callable[[OdooReference], None],
    field: str,
    rule: str,
    value: Any,
    fix: str,
    config: DeliveryConfig,
    reference: OdooReference,
) -> None:
    change(reference)
    problems = validate_deal(base_deal(FIXED), customer(), config, reference)
    assert [(p.field, p.rule, p.value) for p in problems] == [(field, rule, value)]
    assert fix in problems[0].fix


def test_misconfigured_product_says_which_fields_are_wrong(
    config: DeliveryConfig, reference: OdooReference
) -> None:
    misconfigured_product(reference)
    [problem] = validate_deal(base_deal(FIXED), customer(), config, reference)
    assert "invoice_policy is delivery, needs order" in problem.message
    assert "service_type is timesheet, needs manual" in problem.message
    assert "service_tracking is no, needs task_in_project" in problem.message


def test_an_unmapped_crm_product_without_billing_model_product(reference: OdooReference) -> None:
    config = delivery_config(service_catalog={"by_sku": {"AUDIT": "SVC-FIXED"}})
    deal = base_deal(FIXED, lines=lines(line(product_external_id="p-9", unit_price=Decimal(5))))
    [problem] = validate_deal(deal, customer(), config, reference)
    assert (problem.field, problem.rule, problem.value) == (
        "lines[0].product_external_id", "line_unmapped", "p-9")  # fmt: skip
    assert "'p-9: <Odoo product Internal Reference>'" in problem.fix
    assert "delivery.service_catalog.by_product_id" in problem.fix


def test_a_rate_card_without_the_deal_currency_is_a_problem(reference: OdooReference) -> None:
    reference.currencies["EUR"] = 2
    deal = base_deal(TM, currency="EUR")
    [problem] = validate_deal(deal, customer(), delivery_config(), reference)
    assert (problem.field, problem.rule, problem.value) == (
        "lines[0].unit_price", "rate_missing", "consultant/EUR")  # fmt: skip
    assert "add EUR under delivery.rate_card.roles.consultant" in problem.fix


def test_the_template_project_must_exist_in_odoo(reference: OdooReference) -> None:
    config = delivery_config(
        project_templates={"standard": {"odoo_project": "Template: Implementation"}}
    )
    [problem] = validate_deal(base_deal(FIXED), customer(), config, reference)
    assert (problem.field, problem.rule, problem.value) == (
        "project_template", "template_project_not_in_odoo", "standard")  # fmt: skip


def test_account_owner_can_be_optional(reference: OdooReference) -> None:
    config = delivery_config(require_account_owner=False)
    assert validate_deal(base_deal(FIXED, owner_id=None), customer(), config, reference) == []


def test_defaults_fill_what_the_deal_leaves_empty(reference: OdooReference) -> None:
    config = delivery_config(
        defaults={
            "legal_entity": "US",
            "payment_terms": "net30",
            "tax_profile": "standard",
            "project_template": "standard",
        }
    )
    deal = base_deal(
        FIXED, legal_entity=None, payment_terms=None, tax_profile=None, project_template=None,
        currency=None,
    )  # fmt: skip
    assert validate_deal(deal, customer(), config, reference) == []


def test_odoo_names_are_accepted_as_they_are(
    config: DeliveryConfig, reference: OdooReference
) -> None:
    deal = base_deal(FIXED, legal_entity="My Company", payment_terms="30 Days")
    assert validate_deal(deal, customer(), config, reference) == []


def test_catalog_order_sku_product_id_name_then_billing_model() -> None:
    config = delivery_config(
        service_catalog={
            "by_sku": {"S": "FROM-SKU"},
            "by_product_id": {"P": "FROM-PRODUCT"},
            "by_name": [{"pattern": "*Workshop*", "product": "FROM-NAME"}],
            "by_billing_model": {"fixed_fee": "FROM-MODEL"},
        }
    )

    def chosen(**values: Any) -> str | None:
        entry, _ = catalog_entry(line(**values), FIXED, config)
        return entry.product if entry else None

    assert chosen(sku="S", product_external_id="P", name="workshop") == "FROM-SKU"
    assert chosen(sku="unknown", product_external_id="P") == "FROM-PRODUCT"
    assert chosen(name="Discovery WORKSHOP day") == "FROM-NAME"
    assert chosen(name="Anything") == "FROM-MODEL"
    assert chosen(sku="unknown", name="Anything") is None  # an unknown sku never falls back


def test_a_deal_broken_in_many_ways_is_one_exception_listing_everything(
    config: DeliveryConfig, reference: OdooReference
) -> None:
    deal = base_deal(
        MILESTONE,
        owner_id=None,
        legal_entity="UK",
        payment_terms="net45",
        tax_profile="exempt",
        currency="GBP",
        project_template="agile",
        lines=lines(line(sku="NOPE", unit_price=Decimal(1)),
                    line(external_id="x2", sku="IMPLEMENTATION", quantity=Decimal(-1),
                         unit_price=Decimal(5))),
        milestones=[],
    )  # fmt: skip
    problems = validate_deal(deal, None, config, reference)
    rules = [problem.rule for problem in problems]
    assert rules == [
        "customer_missing", "account_owner_missing", "legal_entity_unmapped",
        "payment_terms_unmapped", "tax_profile_unknown", "currency_not_allowed",
        "project_template_unknown", "line_unmapped", "line_quantity_invalid", "milestones_missing",
    ]  # fmt: skip

    error = problems_to_error(deal, problems)
    assert isinstance(error, BusinessRuleError) and error.kind is ErrorKind.BUSINESS_RULE
    assert error.rule == DEAL_VALIDATION_RULE == "deal_validation"
    assert error.value == "hubspot:deal-milestone"
    assert f"{len(problems)} problems" in error.message
    for problem in problems:
        assert problem.describe() in error.message
        assert f"{problem.field}: {problem.fix}" in (error.suggested_fix or "")
    listed = error.context["problems"]
    assert [Problem.model_validate(item) for item in listed] == problems
    assert {"field": "legal_entity", "rule": "legal_entity_unmapped", "value": "UK"}.items() <= (
        listed[2].items()
    )

    with pytest.raises(BusinessRuleError) as raised:
        check_deal(deal, None, config, reference)
    assert raised.value.context == error.context


def test_the_exception_survives_pickling_for_durable_steps(
    config: DeliveryConfig, reference: OdooReference
) -> None:
    import pickle

    deal = base_deal(FIXED, owner_id=None, legal_entity="UK")
    error = problems_to_error(deal, validate_deal(deal, customer(), config, reference))
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.rule, copy.context, copy.message) == (error.rule, error.context, error.message)


def test_problems_to_error_needs_a_problem() -> None:
    with pytest.raises(ValueError, match="at least one problem"):
        problems_to_error(base_deal(FIXED), [])


def test_the_starter_file_config_validates_a_deal(reference: OdooReference) -> None:
    delivery = parse_settings(starter_config_text()).delivery
    reference.products["SVC-FIXED"] = hand_reference().products["SVC-FIXED"]
    deal = Deal(
        source="hubspot", external_id="d-1", name="Workshop", amount=Decimal(3000),
        owner_id="o-1", billing_model=FIXED, currency="USD",
    )  # fmt: skip
    assert validate_deal(deal, customer(), delivery, reference) == []
    assert delivery.won_stage_ids("hubspot", "default") == ["closedwon"]
    assert delivery.won_stage_ids("hubspot", "partners") is None
    assert delivery.gates_for("enterprise") == ["signed_sow", "approval"]
    assert delivery.gates_for("default") == []
