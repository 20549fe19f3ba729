"""Money rules of the real Odoo 18 (see tests/contract/odoo/transcripts), reproduced by the sandbox.

Each test names the transcript whose recorded answers it checks, over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox

from .test_recorded_rules import error, ok


@pytest.fixture
def odoo() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox


@pytest.mark.parametrize(("bad", "kind"), [
    ({"company_type": "bogus"}, "builtins.ValueError"),
    ({"parent_id": 99999999}, "odoo.exceptions.MissingError"),
    ({"name": False}, "odoo.exceptions.ValidationError"),
])
def test_a_batch_create_with_one_bad_row_leaves_nothing(odoo: RunningSandbox, bad: dict,
                                                       kind: str) -> None:
    """concurrency_and_limits.json #85-90: one RPC, one transaction."""
    rows = [{"name": f"BATCH-{i}"} for i in range(5)]
    rows[2].update(bad)
    name, _ = error(odoo, "res.partner", "create", [rows])
    assert name == kind
    assert ok(odoo, "res.partner", "search_count", [[["name", "=like", "BATCH-%"]]]) == 0


def _posted_invoice(odoo: RunningSandbox, quantity: float, price: float) -> int:
    partner = ok(odoo, "res.partner", "create", [{"name": "Adventure Works Refunds"}])
    invoice = ok(odoo, "account.move", "create", [{
        "move_type": "out_invoice", "partner_id": partner,
        "invoice_line_ids": [[0, 0, {"name": "fee", "quantity": quantity, "price_unit": price,
                                     "tax_ids": [[6, 0, []]]}]]}])
    ok(odoo, "account.move", "action_post", [[invoice]])
    return int(invoice)


def _refund(odoo: RunningSandbox, invoice: int, method: str = "refund_moves") -> dict:
    context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    wizard = ok(odoo, "account.move.reversal", "create", [{"reason": "dispute", "journal_id": 1}],
                context)
    return dict(ok(odoo, "account.move.reversal", method, [[wizard]], context))


MONEY = ["amount_residual", "payment_state"]


def test_reversal_wizard_needs_a_journal_and_a_posted_move(odoo: RunningSandbox) -> None:
    """credit_note.json #11, #12, #42."""
    invoice = _posted_invoice(odoo, 1, 2000)
    context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    name, message = error(odoo, "account.move.reversal", "create", [{"reason": "x"}], context)
    assert name == "odoo.exceptions.ValidationError" and "Field: Journal (journal_id)" in message
    defaults = ok(odoo, "account.move.reversal", "default_get",
                  [["move_ids", "journal_id", "company_id"]], context)
    assert defaults == {"company_id": 1, "move_ids": [[6, 0, [invoice]]]}
    draft = ok(odoo, "account.move", "create", [{"move_type": "out_invoice"}])
    draft_context = {"context": {"active_model": "account.move", "active_ids": [draft]}}
    assert error(odoo, "account.move.reversal", "create", [{"journal_id": 1}], draft_context) == (
        "odoo.exceptions.UserError", "You can only reverse posted moves.")


def test_a_posted_credit_note_reverses_its_invoice(odoo: RunningSandbox) -> None:
    """credit_note.json #16-19: the draft credit note, once posted, is reconciled with it."""
    invoice = _posted_invoice(odoo, 1, 2000)
    action = _refund(odoo, invoice)
    assert action["context"] == {"default_move_type": "out_refund"}
    note = action["res_id"]
    ok(odoo, "account.move", "action_post", [[note]])
    got = ok(odoo, "account.move", "read", [[invoice, note], MONEY])
    assert [(r["amount_residual"], r["payment_state"]) for r in got] == [
        (0.0, "reversed"), (0.0, "paid")]


def test_a_partial_credit_note_leaves_the_invoice_partial(odoo: RunningSandbox) -> None:
    """credit_note.json #27-31: 4 x 500 credited for 1."""
    invoice = _posted_invoice(odoo, 4, 500)
    note = _refund(odoo, invoice)["res_id"]
    [line] = ok(odoo, "account.move.line", "search", [[["move_id", "=", note]]])
    ok(odoo, "account.move", "write", [[note], {"invoice_line_ids": [[1, line, {"quantity": 1}]]}])
    ok(odoo, "account.move", "action_post", [[note]])
    got = ok(odoo, "account.move", "read", [[invoice, note], MONEY])
    assert [(r["amount_residual"], r["payment_state"]) for r in got] == [
        (1500.0, "partial"), (0.0, "paid")]


def test_modify_moves_posts_the_credit_note_and_drafts_a_copy(odoo: RunningSandbox) -> None:
    """credit_note.json #39-41."""
    invoice = _posted_invoice(odoo, 1, 800)
    action = _refund(odoo, invoice, "modify_moves")
    copy = ok(odoo, "account.move", "read", [[action["res_id"]], [
        "move_type", "state", "amount_total"]])[0]
    assert (copy["move_type"], copy["state"], copy["amount_total"]) == (
        "out_invoice", "draft", 800.0)
    assert ok(odoo, "account.move", "read", [[invoice], MONEY])[0]["payment_state"] == "reversed"
