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
