"""Money rules of the real Odoo 18 (see tests/contract/odoo/transcripts), reproduced by the sandbox.

Each test names the transcript whose recorded answers it checks, over real HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox

from .test_recorded_rules import error, ok


@pytest.fixture
def odoo() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("bad", "kind"),
    [
        ({"company_type": "bogus"}, "builtins.ValueError"),
        ({"parent_id": 99999999}, "odoo.exceptions.MissingError"),
        ({"name": False}, "odoo.exceptions.ValidationError"),
    ],
)
def test_a_batch_create_with_one_bad_row_leaves_nothing(
    odoo: RunningSandbox, bad: dict, kind: str
) -> None:
    """concurrency_and_limits.json #85-90: one RPC, one transaction."""
    rows = [{"name": f"BATCH-{i}"} for i in range(5)]
    rows[2].update(bad)
    name, _ = error(odoo, "res.partner", "create", [rows])
    assert name == kind
    assert ok(odoo, "res.partner", "search_count", [[["name", "=like", "BATCH-%"]]]) == 0


def _posted_invoice(odoo: RunningSandbox, quantity: float, price: float) -> int:
    partner = ok(odoo, "res.partner", "create", [{"name": "Adventure Works Refunds"}])
    invoice = ok(
        odoo,
        "account.move",
        "create",
        [
            {
                "move_type": "out_invoice",
                "partner_id": partner,
                "invoice_line_ids": [
                    [
                        0,
                        0,
                        {
                            "name": "fee",
                            "quantity": quantity,
                            "price_unit": price,
                            "tax_ids": [[6, 0, []]],
                        },
                    ]
                ],
            }
        ],
    )
    ok(odoo, "account.move", "action_post", [[invoice]])
    return int(invoice)


def _refund(odoo: RunningSandbox, invoice: int, method: str = "refund_moves") -> dict:
    context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    wizard = ok(
        odoo, "account.move.reversal", "create", [{"reason": "dispute", "journal_id": 1}], context
    )
    return dict(ok(odoo, "account.move.reversal", method, [[wizard]], context))


MONEY = ["amount_residual", "payment_state"]


def test_reversal_wizard_needs_a_journal_and_a_posted_move(odoo: RunningSandbox) -> None:
    """credit_note.json #11, #12, #42."""
    invoice = _posted_invoice(odoo, 1, 2000)
    context = {"context": {"active_model": "account.move", "active_ids": [invoice]}}
    name, message = error(odoo, "account.move.reversal", "create", [{"reason": "x"}], context)
    assert name == "odoo.exceptions.ValidationError" and "Field: Journal (journal_id)" in message
    defaults = ok(
        odoo,
        "account.move.reversal",
        "default_get",
        [["move_ids", "journal_id", "company_id"]],
        context,
    )
    assert defaults == {"company_id": 1, "move_ids": [[6, 0, [invoice]]]}
    draft = ok(odoo, "account.move", "create", [{"move_type": "out_invoice"}])
    draft_context = {"context": {"active_model": "account.move", "active_ids": [draft]}}
    assert error(odoo, "account.move.reversal", "create", [{"journal_id": 1}], draft_context) == (
        "odoo.exceptions.UserError",
        "You can only reverse posted moves.",
    )


def test_a_posted_credit_note_reverses_its_invoice(odoo: RunningSandbox) -> None:
    """credit_note.json #16-19: the draft credit note, once posted, is reconciled with it."""
    invoice = _posted_invoice(odoo, 1, 2000)
    action = _refund(odoo, invoice)
    assert action["context"] == {"default_move_type": "out_refund"}
    note = action["res_id"]
    ok(odoo, "account.move", "action_post", [[note]])
    got = ok(odoo, "account.move", "read", [[invoice, note], MONEY])
    assert [(r["amount_residual"], r["payment_state"]) for r in got] == [
        (0.0, "reversed"),
        (0.0, "paid"),
    ]


def test_a_partial_credit_note_leaves_the_invoice_partial(odoo: RunningSandbox) -> None:
    """credit_note.json #27-31: 4 x 500 credited for 1."""
    invoice = _posted_invoice(odoo, 4, 500)
    note = _refund(odoo, invoice)["res_id"]
    [line] = ok(odoo, "account.move.line", "search", [[["move_id", "=", note]]])
    ok(odoo, "account.move", "write", [[note], {"invoice_line_ids": [[1, line, {"quantity": 1}]]}])
    ok(odoo, "account.move", "action_post", [[note]])
    got = ok(odoo, "account.move", "read", [[invoice, note], MONEY])
    assert [(r["amount_residual"], r["payment_state"]) for r in got] == [
        (1500.0, "partial"),
        (0.0, "paid"),
    ]


def test_modify_moves_posts_the_credit_note_and_drafts_a_copy(odoo: RunningSandbox) -> None:
    """credit_note.json #39-41."""
    invoice = _posted_invoice(odoo, 1, 800)
    action = _refund(odoo, invoice, "modify_moves")
    copy = ok(
        odoo, "account.move", "read", [[action["res_id"]], ["move_type", "state", "amount_total"]]
    )[0]
    assert (copy["move_type"], copy["state"], copy["amount_total"]) == (
        "out_invoice",
        "draft",
        800.0,
    )
    assert ok(odoo, "account.move", "read", [[invoice], MONEY])[0]["payment_state"] == "reversed"


def _confirmed_order(odoo: RunningSandbox) -> int:
    """One line of 10,000 at the default 15% tax, invoiced on ordered quantity."""
    template = ok(
        odoo,
        "product.template",
        "create",
        [
            {
                "name": "Fixed-fee implementation package",
                "type": "service",
                "invoice_policy": "order",
                "service_type": "manual",
                "service_tracking": "no",
                "list_price": 10000.0,
            }
        ],
    )
    product = ok(odoo, "product.template", "read", [[template], ["product_variant_id"]])[0][
        "product_variant_id"
    ][0]
    partner = ok(odoo, "res.partner", "create", [{"name": "Contoso Fixed Fee Ltd"}])
    order = ok(
        odoo,
        "sale.order",
        "create",
        [
            {
                "partner_id": partner,
                "order_line": [[0, 0, {"product_id": product, "product_uom_qty": 1}]],
            }
        ],
    )
    ok(odoo, "sale.order", "action_confirm", [[order]])
    return int(order)


def _invoice(odoo: RunningSandbox, order: int, vals: dict) -> int:
    context = {"context": {"active_model": "sale.order", "active_ids": [order], "active_id": order}}
    wizard = ok(odoo, "sale.advance.payment.inv", "create", [vals], context)
    return int(
        ok(odoo, "sale.advance.payment.inv", "create_invoices", [[wizard]], context)["res_id"]
    )


TOTALS = ["amount_untaxed", "amount_tax", "amount_total"]


def test_down_payments_carry_taxes_and_are_deducted_from_the_final_invoice(
    odoo: RunningSandbox,
) -> None:
    """fixed_price_and_down_payment.json #10-30: 30% then 1,150 tax included, then the rest."""
    order = _confirmed_order(odoo)
    first = _invoice(odoo, order, {"advance_payment_method": "percentage", "amount": 30})
    ok(odoo, "account.move", "action_post", [[first]])
    second = _invoice(odoo, order, {"advance_payment_method": "fixed", "fixed_amount": 1150})
    ok(odoo, "account.move", "action_post", [[second]])
    final = _invoice(odoo, order, {"advance_payment_method": "delivered"})
    ok(odoo, "account.move", "action_post", [[final]])
    got = ok(odoo, "account.move", "read", [[first, second, final], TOTALS])
    assert [[r[k] for k in TOTALS] for r in got] == [
        [3000.0, 450.0, 3450.0],
        [1000.0, 150.0, 1150.0],
        [6000.0, 900.0, 6900.0],
    ]
    lines = ok(
        odoo,
        "account.move.line",
        "search_read",
        [[["move_id", "=", final]]],
        {"fields": ["display_type", "quantity", "price_subtotal"]},
    )
    assert [(r["display_type"], r["quantity"], r["price_subtotal"]) for r in lines] == [
        ("product", 1.0, 10000.0),
        ("line_section", 0.0, 0.0),
        ("product", -1.0, -3000.0),
        ("product", -1.0, -1000.0),
    ]
    status = ok(
        odoo,
        "sale.order",
        "read",
        [[order], ["invoice_status", "amount_invoiced", "amount_to_invoice"]],
    )[0]
    assert (status["invoice_status"], status["amount_invoiced"], status["amount_to_invoice"]) == (
        "invoiced",
        11500.0,
        0.0,
    )


def test_a_down_payment_names_its_posted_invoice_on_the_order(odoo: RunningSandbox) -> None:
    """fixed_price_and_down_payment.json #16: section 'Down Payments' + the line, 'to invoice'."""
    order = _confirmed_order(odoo)
    invoice = _invoice(odoo, order, {"advance_payment_method": "percentage", "amount": 30})
    ok(odoo, "account.move", "action_post", [[invoice]])
    name = ok(odoo, "account.move", "read", [[invoice], ["name", "invoice_date"]])[0]
    day = name["invoice_date"]
    lines = ok(
        odoo,
        "sale.order.line",
        "search_read",
        [[["order_id", "=", order]]],
        {"fields": ["name", "display_type", "qty_to_invoice", "price_unit", "invoice_status"]},
    )
    assert [
        (r["name"], r["display_type"], r["qty_to_invoice"], r["price_unit"], r["invoice_status"])
        for r in lines[1:]
    ] == [
        ("Down Payments", "line_section", 0.0, 0.0, "invoiced"),
        (
            f"Down Payment (ref: {name['name']} on {day[5:7]}/{day[8:10]}/{day[:4]})",
            False,
            -1.0,
            3000.0,
            "to invoice",
        ),
    ]


def test_external_ids_follow_their_record_and_refuse_duplicates_as_postgres(
    odoo: RunningSandbox,
) -> None:
    """external_ids.json #9, #10, #35-36."""
    partner = ok(odoo, "res.partner", "create", [{"name": "Globex"}])
    row = {
        "module": "__handoff__",
        "name": "hubspot_company_123",
        "model": "res.partner",
        "res_id": partner,
    }
    ok(odoo, "ir.model.data", "create", [row])
    _name, message = error(odoo, "ir.model.data", "create", [row])
    assert 'unique constraint "ir_model_data_module_name_uniq_index"' in message
    assert error(odoo, "ir.model.data", "create", [{**row, "name": "a b"}])[1] == (
        "The operation cannot be completed: External IDs cannot contain spaces"
    )
    ok(odoo, "res.partner", "unlink", [[partner]])
    assert ok(odoo, "ir.model.data", "search_count", [[["name", "=", "hubspot_company_123"]]]) == 0
