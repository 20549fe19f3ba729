from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox, running_salesforce_sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSalesforceSandbox]:
    with running_salesforce_sandbox(seed=True) as running:
        yield running
