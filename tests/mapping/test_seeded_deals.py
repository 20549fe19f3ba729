"""The sandboxes' demo deals, read over HTTP by the connectors and mapped by the shared engine,
carry what the delivery side needs: every billing model, entity, terms, tax profile, template."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from handoff.canonical.crm import BillingModel, Deal
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import HubSpotClient
from handoff.connectors.hubspot.mapping import HubSpotMappers, MappingContext
from handoff.connectors.salesforce.adapter import SalesforceAdapter
from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff_sandbox.hubspot.testing import running_hubspot_sandbox
from handoff_sandbox.salesforce.testing import running_salesforce_sandbox


def assert_delivery_ready(deals: list[Deal]) -> None:
    assert {d.billing_model for d in deals} == set(BillingModel)
    for deal in deals:
        assert (
            deal.legal_entity and deal.payment_terms and deal.tax_profile and deal.project_template
        )
        if deal.billing_model is BillingModel.MILESTONE:
            assert len(deal.milestones) == 3 and all(m.due_date for m in deal.milestones)
        else:
            assert deal.milestones == []


def test_hubspot_demo_deals_map_with_delivery_properties() -> None:
    with (
        running_hubspot_sandbox(seed=True, search_per_second=100) as sandbox,
        HubSpotClient(sandbox.token, base_url=sandbox.url) as client,
    ):
        adapter = HubSpotAdapter(client)
        mappers = HubSpotMappers()
        records = [
            r
            for page in adapter.iter_modified("deals", 0, 2**42, mappers.deal.spec.properties())
            for r in page
        ]
        context = MappingContext(pipelines=adapter.pipelines(refresh=True))
        deals = [mappers.deal.to_canonical(r, context) for r in adapter.expand_deals(records)]
    assert len(deals) == 12
    assert_delivery_ready(deals)
    copperleaf = next(d for d in deals if d.name == "Copperleaf — finance transformation")
    assert copperleaf.billing_model is BillingModel.MILESTONE and copperleaf.amount is not None
    assert sum(m.amount or 0 for m in copperleaf.milestones) == copperleaf.amount


def test_salesforce_demo_opportunities_map_with_delivery_fields() -> None:
    with running_salesforce_sandbox(seed=True) as sandbox:
        settings = SalesforceSettings(**sandbox.connector_settings())
        with SalesforceClient(settings, ca_path=str(sandbox.ca_path)) as client:
            batches = list(
                SalesforceAdapter(client).changed_deals(
                    None, until=datetime.now(UTC) + timedelta(seconds=5)
                )
            )
    assert not any(batch.rejected for batch in batches)
    deals = [deal for batch in batches for deal in batch.records]
    assert len(deals) == 24
    assert_delivery_ready(deals)
    milestone = next(d for d in deals if d.billing_model is BillingModel.MILESTONE)
    assert sum(m.percentage or 0 for m in milestone.milestones) == Decimal(100)
    swiss = next(d for d in deals if d.name.startswith("Contoso"))
    assert (
        swiss.legal_entity == "Northwind Advisory GmbH"
        and swiss.tax_profile == "Export of services"
    )
