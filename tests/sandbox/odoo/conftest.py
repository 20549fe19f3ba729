"""A fresh Odoo sandbox per test, for the sandbox's own tests (a module may override it)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff_sandbox.odoo.testing import RunningSandbox, running_odoo_sandbox


@pytest.fixture
def odoo() -> Iterator[RunningSandbox]:
    with running_odoo_sandbox() as sandbox:
        yield sandbox
