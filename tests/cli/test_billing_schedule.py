"""The billing run's cron job (``handoff worker``/``handoff run`` schedule it from
``flows.billing_run.trigger.cron``), called directly: which month it bills, and that it bills it
over the sandboxes (no waiting on a real cron)."""

from __future__ import annotations

from datetime import date

import pytest

from handoff.canonical.crm import BillingModel
from handoff.invoicing.service import scheduled_billing_run, scheduled_period
from invoicing.conftest import world  # noqa: F401  (the delivered world fixture)
from invoicing.world import World


@pytest.mark.parametrize(
    ("today", "label"),
    [
        (date(2026, 11, 1), "2026-10"),  # the usual "0 6 1 * *": the month just ended
        (date(2026, 1, 3), "2025-12"),  # across the year
        (date(2026, 3, 7), "2026-02"),  # last closing day
        (date(2026, 3, 8), "2026-03"),  # mid-month: the current month
        (date(2026, 2, 28), "2026-02"),
    ],
)
def test_the_period_a_scheduled_run_bills(today: date, label: str) -> None:
    period = scheduled_period(today)
    assert period.label == label and period.start.day == 1


def test_the_cron_job_bills_the_month_that_just_ended(world: World) -> None:  # noqa: F811
    deal = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(deal)
    october, november = world.log_dated(deal, [("2025-10-15", 3.0), ("2025-11-01", 2.0)])

    closing = scheduled_billing_run(world.hub, today=date(2025, 11, 1))
    assert closing.period == "2025-10" and not closing.failed
    [[invoice]] = closing.invoiced.values()
    assert [line["quantity"] for line in world.invoice_lines(invoice)] == [3.0]
    assert world.invoiced_by([october, november]) == {october: invoice, november: None}

    mid_month = scheduled_billing_run(world.hub, today=date(2025, 11, 20))
    assert mid_month.period == "2025-11"
    [[later]] = mid_month.invoiced.values()
    assert world.invoiced_by([november]) == {november: later}
