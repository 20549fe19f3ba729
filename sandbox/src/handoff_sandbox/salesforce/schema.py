"""The sObjects the Salesforce sandbox knows: their fields, types and the rules Salesforce applies.

Field names, types and derived values follow the REST API reference (see shared/crm-apis.md).
Custom fields carry the ``Handoff_`` prefix a firm installs with the Handoff package; they are
the write-back targets documented in ``connectors/salesforce/README.md``.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, Field


class FieldType(StrEnum):
    ID = "id"
    STRING = "string"
    TEXTAREA = "textarea"
    PICKLIST = "picklist"
    REFERENCE = "reference"
    CURRENCY = "currency"
    DOUBLE = "double"
    PERCENT = "percent"
    DATE = "date"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    PHONE = "phone"
    URL = "url"
    EMAIL = "email"


NUMERIC_TYPES = frozenset({FieldType.CURRENCY, FieldType.DOUBLE, FieldType.PERCENT})
TEXT_TYPES = frozenset(
    {
        FieldType.STRING,
        FieldType.TEXTAREA,
        FieldType.PICKLIST,
        FieldType.PHONE,
        FieldType.URL,
        FieldType.EMAIL,
    }
)


class FieldDef(BaseModel):
    name: str
    type: FieldType
    label: str = ""
    length: int = 255
    # Required on create: not nillable, createable, and no default value.
    required: bool = False
    createable: bool = True
    updateable: bool = True
    external_id: bool = False
    unique: bool = False
    reference_to: str | None = None
    picklist: list[str] | None = None
    restricted_picklist: bool = False

    @property
    def relationship_name(self) -> str | None:
        """``AccountId`` -> ``Account``: the name SOQL uses to reach the parent record."""
        if self.type is FieldType.REFERENCE and self.name.endswith("Id"):
            return self.name[:-2]
        return None


class SObjectDef(BaseModel):
    name: str
    label: str
    key_prefix: str
    fields: dict[str, FieldDef] = Field(default_factory=dict)

    def field(self, name: str) -> FieldDef | None:
        # SOQL and the REST API match field names case-insensitively.
        found = self.fields.get(name)
        if found is not None:
            return found
        lowered = name.lower()
        for candidate in self.fields.values():
            if candidate.name.lower() == lowered:
                return candidate
        return None

    def relationship(self, name: str) -> FieldDef | None:
        lowered = name.lower()
        for candidate in self.fields.values():
            relationship = candidate.relationship_name
            if relationship is not None and relationship.lower() == lowered:
                return candidate
        return None


# Standard Opportunity stages with the probability and forecast category Salesforce derives.
OPPORTUNITY_STAGES: dict[str, tuple[float, str, bool, bool]] = {
    # stage: (probability, forecast category, IsClosed, IsWon)
    "Prospecting": (10.0, "Pipeline", False, False),
    "Qualification": (10.0, "Pipeline", False, False),
    "Needs Analysis": (20.0, "Pipeline", False, False),
    "Value Proposition": (50.0, "Pipeline", False, False),
    "Id. Decision Makers": (60.0, "Pipeline", False, False),
    "Perception Analysis": (70.0, "Pipeline", False, False),
    "Proposal/Price Quote": (75.0, "Pipeline", False, False),
    "Negotiation/Review": (90.0, "Pipeline", False, False),
    "Closed Won": (100.0, "Closed", True, True),
    "Closed Lost": (0.0, "Omitted", True, False),
}

CONTRACT_TYPES = ["Time and Materials", "Fixed Fee", "Milestone", "Retainer"]
SYNC_STATUSES = ["Pending", "Synced", "Invoiced", "Partially Paid", "Paid", "Error"]


def _system_fields() -> list[FieldDef]:
    read_only = {"createable": False, "updateable": False}
    return [
        FieldDef(name="Id", type=FieldType.ID, label="Record ID", length=18, **read_only),
        FieldDef(name="IsDeleted", type=FieldType.BOOLEAN, label="Deleted", **read_only),
        FieldDef(name="CreatedDate", type=FieldType.DATETIME, label="Created Date", **read_only),
        FieldDef(
            name="CreatedById",
            type=FieldType.REFERENCE,
            reference_to="User",
            label="Created By ID",
            **read_only,
        ),
        FieldDef(
            name="LastModifiedDate",
            type=FieldType.DATETIME,
            label="Last Modified Date",
            **read_only,
        ),
        FieldDef(
            name="LastModifiedById",
            type=FieldType.REFERENCE,
            reference_to="User",
            label="Last Modified By ID",
            **read_only,
        ),
        FieldDef(
            name="SystemModstamp", type=FieldType.DATETIME, label="System Modstamp", **read_only
        ),
    ]


def _f(name: str, type_: FieldType, **kwargs: object) -> FieldDef:
    return FieldDef(name=name, type=type_, label=kwargs.pop("label", name), **kwargs)  # type: ignore[arg-type]


def _external_id() -> FieldDef:
    return _f(
        "Handoff_External_Id__c",
        FieldType.STRING,
        label="Handoff External ID",
        external_id=True,
        unique=True,
    )


def _delivery_fields() -> list[FieldDef]:
    """What the delivery side needs from a won deal (mapped by salesforce_deal.yaml)."""
    return [
        _f("Handoff_Legal_Entity__c", FieldType.STRING, label="Contracting legal entity"),
        _f("Handoff_Payment_Terms__c", FieldType.STRING, label="Payment terms"),
        _f("Handoff_Tax_Profile__c", FieldType.STRING, label="Tax profile"),
        _f("Handoff_Project_Template__c", FieldType.STRING, label="Project template"),
        # Long text area: JSON list of {name, amount | percentage, due_date}.
        _f("Handoff_Milestones__c", FieldType.TEXTAREA, label="Milestones (JSON)", length=131072),
        _f("Handoff_Retainer_Monthly_Amount__c", FieldType.CURRENCY, label="Retainer per month"),
        _f("Handoff_Retainer_Hours__c", FieldType.DOUBLE, label="Retainer hours per month"),
    ]


def _billing_fields(with_order: bool) -> list[FieldDef]:
    fields = [
        _f("Handoff_Invoiced_To_Date__c", FieldType.CURRENCY, label="Invoiced to date"),
        _f("Handoff_Paid_To_Date__c", FieldType.CURRENCY, label="Paid to date"),
        _f("Handoff_Outstanding__c", FieldType.CURRENCY, label="Outstanding"),
        _f(
            "Handoff_Sync_Status__c",
            FieldType.PICKLIST,
            label="Handoff sync status",
            picklist=SYNC_STATUSES,
            restricted_picklist=True,
        ),
        _f("Handoff_Last_Sync__c", FieldType.DATETIME, label="Handoff last sync"),
    ]
    if with_order:
        fields += [
            _f("Handoff_Odoo_Order__c", FieldType.STRING, label="Odoo sales order"),
            _f("Handoff_Last_Invoice__c", FieldType.STRING, label="Last Odoo invoice"),
        ]
    else:
        fields.append(_f("Handoff_Odoo_Partner__c", FieldType.STRING, label="Odoo partner"))
    return fields


def _sobject(name: str, label: str, key_prefix: str, fields: list[FieldDef]) -> SObjectDef:
    return SObjectDef(
        name=name,
        label=label,
        key_prefix=key_prefix,
        fields={field.name: field for field in [*_system_fields(), *fields]},
    )


_READ_ONLY = {"createable": False, "updateable": False}

SOBJECTS: dict[str, SObjectDef] = {
    definition.name: definition
    for definition in [
        _sobject(
            "User",
            "User",
            "005",
            [
                _f("Username", FieldType.STRING, required=True),
                _f("LastName", FieldType.STRING, required=True),
                _f("FirstName", FieldType.STRING),
                _f("Name", FieldType.STRING, **_READ_ONLY),
                _f("Email", FieldType.EMAIL, required=True),
                _f("IsActive", FieldType.BOOLEAN),
            ],
        ),
        _sobject(
            "Account",
            "Account",
            "001",
            [
                _f("Name", FieldType.STRING, required=True, label="Account Name"),
                _f("AccountNumber", FieldType.STRING, length=40),
                _f(
                    "Type",
                    FieldType.PICKLIST,
                    picklist=["Prospect", "Customer - Direct", "Customer - Channel", "Partner"],
                ),
                _f("Industry", FieldType.PICKLIST),
                _f("BillingStreet", FieldType.TEXTAREA),
                _f("BillingCity", FieldType.STRING, length=40),
                _f("BillingState", FieldType.STRING, length=80),
                _f("BillingPostalCode", FieldType.STRING, length=20),
                _f("BillingCountry", FieldType.STRING, length=80),
                _f("Phone", FieldType.PHONE, length=40),
                _f("Website", FieldType.URL),
                _f("Description", FieldType.TEXTAREA, length=32000),
                _f("OwnerId", FieldType.REFERENCE, reference_to="User"),
                _external_id(),
                *_billing_fields(with_order=False),
            ],
        ),
        _sobject(
            "Contact",
            "Contact",
            "003",
            [
                _f("AccountId", FieldType.REFERENCE, reference_to="Account"),
                _f("FirstName", FieldType.STRING, length=40),
                _f("LastName", FieldType.STRING, length=80, required=True),
                _f("Name", FieldType.STRING, **_READ_ONLY),
                _f("Email", FieldType.EMAIL, length=80),
                _f("Phone", FieldType.PHONE, length=40),
                _f("Title", FieldType.STRING, length=128),
                _f("MailingStreet", FieldType.TEXTAREA),
                _f("MailingCity", FieldType.STRING, length=40),
                _f("MailingPostalCode", FieldType.STRING, length=20),
                _f("MailingCountry", FieldType.STRING, length=80),
                _external_id(),
            ],
        ),
        _sobject(
            "Pricebook2",
            "Price Book",
            "01s",
            [
                _f("Name", FieldType.STRING, required=True),
                _f("IsActive", FieldType.BOOLEAN),
                _f("IsStandard", FieldType.BOOLEAN, **_READ_ONLY),
                _f("Description", FieldType.TEXTAREA),
            ],
        ),
        _sobject(
            "Product2",
            "Product",
            "01t",
            [
                _f("Name", FieldType.STRING, required=True, label="Product Name"),
                _f("ProductCode", FieldType.STRING),
                _f("Description", FieldType.TEXTAREA),
                _f("IsActive", FieldType.BOOLEAN),
                _f(
                    "Family",
                    FieldType.PICKLIST,
                    picklist=["Consulting", "Implementation", "Support", "Training", "Licence"],
                ),
                _f("QuantityUnitOfMeasure", FieldType.PICKLIST, picklist=["Each", "Hour", "Day"]),
                _external_id(),
            ],
        ),
        _sobject(
            "PricebookEntry",
            "Price Book Entry",
            "01u",
            [
                _f("Name", FieldType.STRING, **_READ_ONLY),
                _f(
                    "Pricebook2Id",
                    FieldType.REFERENCE,
                    reference_to="Pricebook2",
                    required=True,
                    updateable=False,
                ),
                _f(
                    "Product2Id",
                    FieldType.REFERENCE,
                    reference_to="Product2",
                    required=True,
                    updateable=False,
                ),
                _f("ProductCode", FieldType.STRING, **_READ_ONLY),
                _f("UnitPrice", FieldType.CURRENCY, required=True, label="List Price"),
                _f("IsActive", FieldType.BOOLEAN),
                _f("UseStandardPrice", FieldType.BOOLEAN),
            ],
        ),
        _sobject(
            "Opportunity",
            "Opportunity",
            "006",
            [
                _f("Name", FieldType.STRING, length=120, required=True),
                _f("AccountId", FieldType.REFERENCE, reference_to="Account"),
                _f("Amount", FieldType.CURRENCY),
                _f("CloseDate", FieldType.DATE, required=True),
                _f(
                    "StageName",
                    FieldType.PICKLIST,
                    required=True,
                    picklist=list(OPPORTUNITY_STAGES),
                    restricted_picklist=True,
                ),
                _f("Probability", FieldType.PERCENT),
                _f("IsClosed", FieldType.BOOLEAN, **_READ_ONLY),
                _f("IsWon", FieldType.BOOLEAN, **_READ_ONLY),
                _f("ForecastCategory", FieldType.PICKLIST, **_READ_ONLY),
                _f(
                    "Type",
                    FieldType.PICKLIST,
                    picklist=[
                        "New Customer",
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                    ],
                ),
                _f("Description", FieldType.TEXTAREA, length=32000),
                _f("Pricebook2Id", FieldType.REFERENCE, reference_to="Pricebook2"),
                _f("OwnerId", FieldType.REFERENCE, reference_to="User"),
                _f(
                    "Handoff_Contract_Type__c",
                    FieldType.PICKLIST,
                    label="Contract type",
                    picklist=CONTRACT_TYPES,
                    restricted_picklist=True,
                ),
                *_delivery_fields(),
                _external_id(),
                *_billing_fields(with_order=True),
            ],
        ),
        _sobject(
            "OpportunityLineItem",
            "Opportunity Product",
            "00k",
            [
                _f(
                    "OpportunityId",
                    FieldType.REFERENCE,
                    reference_to="Opportunity",
                    required=True,
                    updateable=False,
                ),
                _f(
                    "PricebookEntryId",
                    FieldType.REFERENCE,
                    reference_to="PricebookEntry",
                    updateable=False,
                ),
                _f("Product2Id", FieldType.REFERENCE, reference_to="Product2", updateable=False),
                _f("Name", FieldType.STRING, **_READ_ONLY),
                _f("ProductCode", FieldType.STRING, **_READ_ONLY),
                _f("Quantity", FieldType.DOUBLE, required=True),
                _f("UnitPrice", FieldType.CURRENCY, label="Sales Price"),
                _f("ListPrice", FieldType.CURRENCY, **_READ_ONLY),
                _f("TotalPrice", FieldType.CURRENCY),
                _f("Discount", FieldType.PERCENT),
                _f("ServiceDate", FieldType.DATE),
                _f("Description", FieldType.STRING),
                _external_id(),
            ],
        ),
    ]
}

# Objects whose writes the sandbox publishes as Change Data Capture events.
CDC_ENTITIES = frozenset(
    {"Account", "Contact", "Opportunity", "OpportunityLineItem", "Product2", "PricebookEntry"}
)


def sobject_by_name(name: str) -> SObjectDef | None:
    found = SOBJECTS.get(name)
    if found is not None:
        return found
    lowered = name.lower()
    return next((s for s in SOBJECTS.values() if s.name.lower() == lowered), None)


def sobject_by_prefix(prefix: str) -> SObjectDef | None:
    return next((s for s in SOBJECTS.values() if s.key_prefix == prefix), None)
