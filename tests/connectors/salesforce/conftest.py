from __future__ import annotations

from collections.abc import Iterator

import pytest

from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff_sandbox.salesforce.testing import RunningSalesforceSandbox, running_salesforce_sandbox


@pytest.fixture
def sandbox() -> Iterator[RunningSalesforceSandbox]:
    with running_salesforce_sandbox(seed=True) as running:
        yield running


@pytest.fixture
def client(sandbox: RunningSalesforceSandbox) -> Iterator[SalesforceClient]:
    settings = SalesforceSettings(**sandbox.connector_settings())
    with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as connected:
        yield connected
