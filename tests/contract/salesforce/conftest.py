"""Contract suite target: the sandbox, or a live org when HANDOFF_TEST_SALESFORCE_* are set.

Live org variables: HANDOFF_TEST_SALESFORCE_LOGIN_URL (e.g. https://test.salesforce.com),
_USERNAME, _CONSUMER_KEY and either _PRIVATE_KEY_FILE (JWT) or _PASSWORD, _SECURITY_TOKEN and
_CONSUMER_SECRET (password flow). The org needs the Handoff custom fields (see the connector
README). Records the suite creates carry a `handoff-contract-` external id and are deleted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox

LIVE = "HANDOFF_TEST_SALESFORCE_"


def _live_settings() -> SalesforceSettings | None:
    env = {k[len(LIVE) :].lower(): v for k, v in os.environ.items() if k.startswith(LIVE)}
    if not env.get("username"):
        return None
    key_file = env.pop("private_key_file", None)
    if key_file:
        env["private_key_pem"] = Path(key_file).read_text()
        env.setdefault("auth_flow", "jwt")
    else:
        env.setdefault("auth_flow", "password")
    return SalesforceSettings(**env)


@pytest.fixture(scope="module", params=["sandbox", "live"])
def contract_client(request: pytest.FixtureRequest) -> Iterator[SalesforceClient]:
    if request.param == "live":
        settings = _live_settings()
        if settings is None:
            pytest.skip(f"set {LIVE}USERNAME (and credentials) to run against a live org")
        with SalesforceClient(settings) as client:
            yield client
        return
    with running_salesforce_sandbox(seed=True) as sandbox:
        settings = SalesforceSettings(**sandbox.connector_settings())
        with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
            yield client
