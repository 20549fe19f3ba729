"""Rounding, exchange rates and the validation of the canonical delivery models."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from billing.builders import D, entry, expense
from handoff.billing.engine import BillingPeriod
from handoff.billing.money import FxRates, minor_unit, round_money
from handoff.canonical.delivery import (
    ApprovalStatus,
    BillingTerms,
    ExpensePolicy,
    FixedFeeInstallment,
    FixedFeeTerms,
    Milestone,
    Rate,
    RateCard,
)


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("0.005", "EUR", "0.01"),  # a tie goes up
        ("0.0049999", "EUR", "0.00"),
        ("2.675", "EUR", "2.68"),  # binary floats would say 2.67
        ("-0.005", "EUR", "-0.01"),  # half-up is away from zero
        ("1234.5", "JPY", "1235"),
        ("1234.4999", "JPY", "1234"),
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        ("10", "USD", "10.00"),
    ],
)
def test_round_money_is_half_up_to_the_minor_unit(
    amount: str, currency: str, expected: str
) -> None:
    rounded = round_money(Decimal(amount), currency)
    assert rounded == Decimal(expected)
    assert str(rounded) == expected  # the exponent too: JPY has none, KWD three


def test_minor_units() -> None:
    assert (minor_unit("JPY"), minor_unit("EUR"), minor_unit("KWD"), minor_unit("CHF")) == (
        0,
        2,
        3,
        2,
    )


def test_fx_factor_goes_through_the_base() -> None:
    fx = FxRates(base="USD", rates={"EUR": D("0.9"), "JPY": D("150")})
    assert fx.factor("USD", "EUR") == D("0.9")
    assert fx.factor("EUR", "USD") == 1 / D("0.9")
    assert fx.factor("EUR", "JPY") == D("150") / D("0.9")
    assert fx.factor("EUR", "EUR") == 1
    assert fx.factor("GBP", "EUR") is None


def test_fx_rates_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="must be positive"):
        FxRates(base="USD", rates={"EUR": D(0)})


def test_keys_and_billable_now() -> None:
    assert entry(7, "1").key == "time:psa:7"
    assert expense(7, "1").key == "expense:psa:7"
    assert entry(1, "1").billable_now
    assert not entry(1, "1", billable=False).billable_now
    for status in ("draft", "submitted", "rejected"):
        assert not entry(1, "1", approval=ApprovalStatus(status)).billable_now


def test_a_record_must_belong_to_a_project_or_deal() -> None:
    with pytest.raises(ValidationError, match="project_ref or a deal_ref"):
        entry(1, "1", project_ref=None)
    assert entry(1, "1", project_ref=None, deal_ref="DEAL-1").deal_ref == "DEAL-1"


def test_bad_hours_amounts_and_currencies_are_refused() -> None:
    with pytest.raises(ValidationError):
        entry(1, "-1")
    with pytest.raises(ValidationError):
        expense(1, "-5")
    with pytest.raises(ValidationError):
        expense(1, "5", currency="eur")


def test_a_rate_is_for_a_consultant_or_a_role() -> None:
    with pytest.raises(ValidationError, match="exactly one"):
        Rate(consultant="a", role="b", currency="EUR", hourly=D(1))
    with pytest.raises(ValidationError, match="exactly one"):
        Rate(currency="EUR", hourly=D(1))
    with pytest.raises(ValidationError, match="before valid_from"):
        Rate(
            role="b",
            currency="EUR",
            hourly=D(1),
            valid_from=date(2026, 2, 1),
            valid_to=date(2026, 1, 1),
        )


def test_rate_card_refuses_overlapping_rates_and_accepts_adjacent_ones() -> None:
    first = Rate(consultant="a", currency="EUR", hourly=D(100), valid_to=date(2026, 6, 30))
    adjacent = Rate(consultant="a", currency="EUR", hourly=D(110), valid_from=date(2026, 7, 1))
    card = RateCard(rates=[adjacent, first])
    assert card.lookup(day=date(2026, 6, 30), consultant="a")[0].hourly == 100
    assert card.lookup(day=date(2026, 7, 1), consultant="a")[0].hourly == 110
    overlapping = Rate(consultant="a", currency="EUR", hourly=D(120), valid_from=date(2026, 6, 30))
    with pytest.raises(ValidationError, match="overlapping EUR rates for consultant a"):
        RateCard(rates=[first, overlapping])
    # The same subject in another currency is not an overlap.
    RateCard(rates=[first, Rate(consultant="a", currency="USD", hourly=D(120))])


def test_fixed_fee_schedule_must_add_up_to_100() -> None:
    with pytest.raises(ValidationError, match="add up to 90"):
        FixedFeeTerms(
            amount=D(1000),
            schedule=[
                FixedFeeInstallment(label="a", percentage=D(50), due=date(2026, 1, 1)),
                FixedFeeInstallment(label="b", percentage=D(40), due=date(2026, 2, 1)),
            ],
        )


def test_contract_terms_need_their_model_specific_part() -> None:
    with pytest.raises(ValidationError, match="fixed_fee terms"):
        BillingTerms(billing_model="fixed_fee", currency="EUR")
    with pytest.raises(ValidationError, match="retainer terms"):
        BillingTerms(billing_model="retainer", currency="EUR")
    with pytest.raises(ValidationError):
        BillingTerms(billing_model="barter", currency="EUR")


def test_milestone_and_expense_policy_validation() -> None:
    with pytest.raises(ValidationError, match="both an amount and a percentage"):
        Milestone(milestone_id="m", name="M", amount=D(1), percentage=D(10))
    with pytest.raises(ValidationError, match="markup_percent above 0"):
        ExpensePolicy(mode="markup")


def test_billing_period() -> None:
    november = BillingPeriod.month("2026-11")
    assert (november.start, november.end, november.label) == (
        date(2026, 11, 1),
        date(2026, 11, 30),
        "2026-11",
    )
    assert BillingPeriod.month("2028-02").end == date(2028, 2, 29)
    assert (
        BillingPeriod(start=date(2026, 11, 1), end=date(2026, 11, 15)).label
        == "2026-11-01..2026-11-15"
    )
    with pytest.raises(ValueError, match="not YYYY-MM"):
        BillingPeriod.month("2026-13")
    with pytest.raises(ValidationError, match="before it starts"):
        BillingPeriod(start=date(2026, 2, 1), end=date(2026, 1, 1))
