"""Contract suite target: the Odoo sandbox by default, a live Odoo when HANDOFF_TEST_ODOO_* are set."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff_sandbox.odoo.testing import running_odoo_sandbox

LIVE_VARIABLES = (
    "HANDOFF_TEST_ODOO_URL",
    "HANDOFF_TEST_ODOO_DB",
    "HANDOFF_TEST_ODOO_USER",
    "HANDOFF_TEST_ODOO_KEY",
)


@dataclass(frozen=True)
class OdooTarget:
    url: str
    db: str
    login: str
    password: str
    live: bool


def live_target() -> OdooTarget | None:
    values = [os.environ.get(name) for name in LIVE_VARIABLES]
    if not all(values):
        return None
    url, db, login, key = (v or "" for v in values)
    return OdooTarget(url.rstrip("/"), db, login, key, live=True)


@pytest.fixture
def odoo_target() -> Iterator[OdooTarget]:
    """A fresh sandbox per test (or the live server from the environment)."""
    live = live_target()
    if live is not None:
        yield live
        return
    with running_odoo_sandbox() as sandbox:
        yield OdooTarget(sandbox.url, sandbox.db, sandbox.login, sandbox.password, live=False)


@contextmanager
def live_or_sandbox_adapter() -> Iterator[OdooAdapter]:
    """An adapter on the live Odoo of HANDOFF_TEST_ODOO_*, else on a fresh sandbox: for tests of
    Odoo behaviour that must hold on both (a module-scoped fixture wraps it)."""
    target = live_target()
    if target is not None:
        with OdooClient(target.url, target.db, target.login, target.password) as client:
            yield OdooAdapter(client)
        return
    with (
        running_odoo_sandbox() as sandbox,
        OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client,
    ):
        yield OdooAdapter(client)
