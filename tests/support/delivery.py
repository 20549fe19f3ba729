"""What the delivery test worlds (tests/flows, tests/invoicing) set up in the sandboxes."""

from __future__ import annotations

from handoff.canonical.crm import BillingModel
from handoff.connectors.hubspot.adapter import CustomProperty

# The deal properties a firm creates in HubSpot for Handoff (connectors/hubspot/README.md).
DELIVERY_PROPERTIES = [
    CustomProperty(name=name, label=name, type="string", fieldType="text", description=name)
    for name in (
        "handoff_contract_type",
        "handoff_legal_entity",
        "handoff_payment_terms",
        "handoff_tax_profile",
        "handoff_project_template",
        "handoff_milestones",
        "handoff_retainer_monthly_amount",
        "handoff_retainer_hours",
    )
]
# One Odoo service product per billing model (Internal Reference).
PRODUCTS = {
    BillingModel.TIME_AND_MATERIALS: "SVC-TM",
    BillingModel.FIXED_FEE: "SVC-FIXED",
    BillingModel.MILESTONE: "SVC-MILESTONE",
    BillingModel.RETAINER: "SVC-RETAINER",
}
