"""The demo world on an Odoo the stack does not start (``handoff-demo --odoo-url``): seeded
idempotently, and refused when the database holds someone else's data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox
from handoff_sandbox.stack import ExternalOdoo, ForeignDataError, running_stack
from support.servers import free_port


@pytest.fixture
def odoo() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox


def external(odoo: RunningSandbox, *, allow: bool = False) -> ExternalOdoo:
    return ExternalOdoo(odoo.url, odoo.db, odoo.login, odoo.api_key, allow_existing_data=allow)


def test_a_database_with_someone_elses_orders_is_refused_untouched(
    odoo: RunningSandbox, tmp_path: Path
) -> None:
    with OdooClient(odoo.url, odoo.db, odoo.login, odoo.password) as client:
        adapter = OdooAdapter(client)
        partner = adapter.create("res.partner", {"name": "A real client", "is_company": True})
        adapter.create("sale.order", {"partner_id": partner, "client_order_ref": "PO-4471"})
        companies = adapter.call("res.company", "search_count", [[]])
        with (
            pytest.raises(ForeignDataError, match="1 sale orders"),
            running_stack(tmp_path, hub_port=free_port(), odoo=external(odoo)),
        ):
            pass
        assert adapter.call("res.company", "search_count", [[]]) == companies, "nothing seeded"
        # Told to, the demo seeds it anyway.
        with running_stack(tmp_path / "allowed", hub_port=free_port(),
                           odoo=external(odoo, allow=True)) as stack:  # fmt: skip
            assert stack.odoo_seed is not None


def test_the_stack_seeds_an_external_odoo_and_points_the_hub_at_it(
    odoo: RunningSandbox, tmp_path: Path
) -> None:
    with running_stack(tmp_path, hub_port=free_port(), odoo=external(odoo)) as stack:
        assert stack.odoo.url == odoo.url and stack.odoo_seed is not None
        assert stack.env[stack.names.odoo_api_key] == odoo.api_key
        assert f"url: {odoo.url}" in stack.config_path.read_text()
        first = stack.odoo_seed
    # A database the demo seeded before is the demo's own: seeded again, nothing doubled.
    with running_stack(tmp_path / "again", hub_port=free_port(), odoo=external(odoo)) as again:
        assert again.odoo_seed == first
