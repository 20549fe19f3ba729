"""An invoice committed after the status poll's cursor passed its write_date still reaches the
CRM. Odoo stamps write_date with its transaction's start (``cr.now()``), so an invoice posted by
a long transaction carries a stamp older than changes the poll already read; the poll read
strictly after its cursor and the deal's figures never reached the CRM (found by the live month
on a real Odoo 18: a deal left at 0 invoiced). The late commit is made in the sandbox's own
storage: no API can set write_date (Odoo drops it from the values it writes)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from handoff.canonical.crm import BillingModel
from handoff.flows.invoicing import ODOO_DATETIME, STREAM, poll_invoices
from handoff.invoicing.service import run_billing
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox
from invoicing.conftest import OdooTarget, _world
from invoicing.world import PERIOD, World
from support.waiting import wait_for


@pytest.fixture
def box_and_world(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningSandbox, World]]:
    with running_odoo_sandbox() as box:
        target = OdooTarget(box.url, box.db, box.login, box.password)
        with _world(target, store_url, monkeypatch) as world:
            yield box, world


def test_an_invoice_committed_behind_the_cursor_still_reaches_the_crm(
    box_and_world: tuple[RunningSandbox, World],
) -> None:
    box, world = box_and_world
    first = world.deal("ERP rollout", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 48000)])
    world.deliver(first)
    run_billing(world.hub, PERIOD)
    assert poll_invoices(world.hub) == 1
    wait_for(world.settled(1, "invoice_status"), timeout=30, what="the first deal's status")
    cursor = world.hub.cursors.get("odoo", STREAM)

    late = world.deal("CRM rollout", BillingModel.FIXED_FEE, [("IMPLEMENTATION", 1, 12000)])
    world.deliver(late)
    wait_for(world.settled(2, "deal_to_delivery"), timeout=60, what="the second delivery")
    run_billing(world.hub, PERIOD)
    invoices = world.invoices()
    found = [i for i in invoices if i["amount_untaxed"] == 12000.0]
    assert len(found) == 1, invoices
    [invoice] = found
    # Its transaction began 30 s before the cursor's stamp and committed only now.
    stamp = datetime.strptime(cursor["write_date"], ODOO_DATETIME) - timedelta(seconds=30)
    with box.database.lock:
        box.database.conn.execute(
            "UPDATE account_move SET write_date = ? WHERE id = ?",
            (stamp.strftime(ODOO_DATETIME), invoice["id"]),
        )

    assert poll_invoices(world.hub) == 1
    wait_for(world.settled(2, "invoice_status"), timeout=30, what="the late deal's status")
    assert world.deal_props(late)["handoff_invoiced_to_date"] == "12000.00"
    assert poll_invoices(world.hub) == 0  # read again in the look-back: already seen
