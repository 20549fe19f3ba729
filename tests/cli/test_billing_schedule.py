"""The billing run's cron job (``handoff worker``/``handoff run`` schedule it from
``flows.billing_run.trigger.cron``), called directly: which month it bills, and that it bills it
over the sandboxes (no waiting on a real cron)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from handoff.canonical.crm import BillingModel
from handoff.flows.billing_run import request_scheduled
from handoff.invoicing.records import Proposals
from handoff.invoicing.service import scheduled_period
from invoicing.conftest import world  # noqa: F401  (the delivered world fixture)
from invoicing.world import World
from support.waiting import wait_for


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


def test_the_cron_job_bills_the_month_that_just_ended_once_per_firing(world: World) -> None:  # noqa: F811
    deal = world.deal("Discovery", BillingModel.TIME_AND_MATERIALS, [("CONSULTING-HOUR", 40, 150)])
    world.deliver(deal)
    october, november = world.log_dated(deal, [("2025-10-15", 3.0), ("2025-11-01", 2.0)])
    fired = datetime(2025, 11, 1, 6, 0, tzinfo=UTC)
    first = request_scheduled(world.hub, fired)
    again = request_scheduled(world.hub, fired)  # the same firing seen by a second worker
    assert not first.duplicate and again.duplicate
    wait_for(world.settled(1, "billing_run"), timeout=60, what="the scheduled run")
    [closing] = Proposals(world.hub.store).list(project=None)
    assert closing.period == "2025-10" and closing.status == "invoiced"
    [invoice] = closing.invoice_ids
    assert [line["quantity"] for line in world.invoice_lines(invoice)] == [3.0]
    assert world.invoiced_by([october, november]) == {october: invoice, november: None}

    request_scheduled(world.hub, datetime(2025, 11, 20, 6, 0, tzinfo=UTC))
    wait_for(world.settled(2, "billing_run"), timeout=60, what="the mid-month run")
    mid_month = Proposals(world.hub.store).list()[0]
    assert mid_month.period == "2025-11"
    [later] = mid_month.invoice_ids
    assert world.invoiced_by([november]) == {november: later}
