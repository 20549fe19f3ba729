"""The demo firm's data names its contract types itself (the emulators' seeds import nothing from
the hub); these must stay the values the hub's configuration and mappings read."""

from __future__ import annotations

from handoff.canonical.crm import BillingModel as HubBillingModel
from handoff_sandbox.demo_firm import HUBSPOT_DEALS, BillingModel


def test_the_firms_contract_types_are_the_hubs() -> None:
    assert {m.name: m.value for m in BillingModel} == {m.name: m.value for m in HubBillingModel}


def test_a_firm_deal_reads_as_the_hubs_contract_type() -> None:
    kinds = {deal.billing_model for deal in HUBSPOT_DEALS}
    assert {HubBillingModel(kind) for kind in kinds} == set(HubBillingModel)
    assert all(kind == HubBillingModel(kind.value) for kind in kinds)
