"""Northwind Advisory: the one demo services firm every sandbox and the hub's configuration share.

A consulting firm with three contracting entities (US, UK, Germany) that sells consulting by the
day or hour (time & materials), fixed-fee implementations and training, milestone-billed
programmes and monthly support retainers. This module is the firm *as data*:

- what exists in Odoo (companies, payment terms, taxes, service products, consultants with hourly
  cost, one client that already exists under a slightly different name) -> written there by
  ``handoff_sandbox.odoo_firm.seed_odoo``;
- what the CRMs hold (clients, contacts, the product catalogue, deals across pipelines and all
  four contract types) -> read by ``sandbox/hubspot/seed.py`` and ``sandbox/salesforce/seed.py``;
- how the hub maps one to the other -> ``delivery_config()`` and ``hub_config()``.

Because every name is defined once here, a deal seeded in either CRM validates against the
Odoo the same module seeded, except for the few deals that carry a deliberate defect
(``DemoDeal.defect`` says which and why; ``expected_problems`` lists the validation rules they
must break).
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

Crm = Literal["hubspot", "salesforce"]
Uom = Literal["Hours", "Days", "Units"]


class BillingModel(StrEnum):
    """The firm's four contract types, as its CRMs' contract-type property spells them (the values
    the hub's configuration reads; tests/sandbox/test_demo_firm_data.py keeps them the hub's)."""

    TIME_AND_MATERIALS = "time_materials"
    FIXED_FEE = "fixed_fee"
    MILESTONE = "milestone"
    RETAINER = "retainer"


TM, FIXED, MILESTONE, RETAINER = (
    BillingModel.TIME_AND_MATERIALS,
    BillingModel.FIXED_FEE,
    BillingModel.MILESTONE,
    BillingModel.RETAINER,
)


class Fact(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ── The firm ──────────────────────────────────────────────────────────────────────────────


class LegalEntity(Fact):
    """A contracting entity: the deal's legal entity value, and its Odoo res.company name."""

    name: str
    currency: str
    country_code: str
    city: str


INC = LegalEntity(name="Northwind Advisory Inc.", currency="USD", country_code="US", city="Boston")
LTD = LegalEntity(name="Northwind Advisory Ltd", currency="GBP", country_code="GB", city="London")
GMBH = LegalEntity(name="Northwind Advisory GmbH", currency="EUR", country_code="DE", city="Berlin")
LEGAL_ENTITIES = (INC, LTD, GMBH)


class PaymentTerm(Fact):
    crm: str  # what sales types in the CRM
    odoo: str  # the Odoo account.payment.term name
    days: int


PAYMENT_TERMS = (
    PaymentTerm(crm="Net 15", odoo="15 Days", days=15),
    PaymentTerm(crm="Net 30", odoo="30 Days", days=30),
    PaymentTerm(crm="Net 45", odoo="45 Days", days=45),
    PaymentTerm(crm="Net 60", odoo="60 Days", days=60),
)


class Tax(Fact):
    """A sales tax (Odoo account.tax, type_tax_use=sale) and the companies that have it."""

    name: str
    amount: float
    companies: tuple[str, ...]


TAXES = (
    Tax(name="Exempt services 0%", amount=0.0, companies=(INC.name,)),
    Tax(name="VAT 20%", amount=20.0, companies=(LTD.name,)),
    Tax(name="Reverse charge 0%", amount=0.0, companies=(LTD.name, GMBH.name)),
    Tax(name="MwSt. 19%", amount=19.0, companies=(GMBH.name,)),
    Tax(name="Export 0%", amount=0.0, companies=(INC.name, LTD.name, GMBH.name)),
)
# Tax profile (the deal's value) -> Odoo sales tax names.
TAX_PROFILES: dict[str, tuple[str, ...]] = {
    "US sales tax exempt services": ("Exempt services 0%",),
    "UK VAT 20%": ("VAT 20%",),
    "EU B2B reverse charge": ("Reverse charge 0%",),
    "Domestic VAT 19%": ("MwSt. 19%",),
    "Export of services": ("Export 0%",),
}

# Role -> hourly rate per currency (the rate card prices lines sold without a unit price).
RATE_CARD: dict[str, dict[str, float]] = {
    "partner": {"USD": 320.0, "GBP": 260.0, "EUR": 290.0},
    "senior_consultant": {"USD": 220.0, "GBP": 175.0, "EUR": 200.0},
    "consultant": {"USD": 150.0, "GBP": 120.0, "EUR": 135.0},
    "developer": {"USD": 125.0, "GBP": 100.0, "EUR": 110.0},
    "trainer": {"USD": 160.0, "GBP": 130.0, "EUR": 145.0},
}


class Consultant(Fact):
    name: str
    email: str
    role: str
    entity: str  # the legal entity that employs them
    hourly_cost: float  # in the entity's currency (Odoo hr.employee.hourly_cost)
    hubspot_owner_id: str | None = None  # partners own deals in HubSpot


CONSULTANTS = (
    Consultant(name="Maya Chen", email="maya.chen@northwind-advisory.example", role="partner",
               entity=INC.name, hourly_cost=145.0, hubspot_owner_id="81000001"),
    Consultant(name="Daniel Brooks", email="daniel.brooks@northwind-advisory.example",
               role="consultant", entity=INC.name, hourly_cost=68.0),
    Consultant(name="Tom Okafor", email="tom.okafor@northwind-advisory.example", role="partner",
               entity=LTD.name, hourly_cost=118.0, hubspot_owner_id="81000002"),
    Consultant(name="Priya Raman", email="priya.raman@northwind-advisory.example",
               role="senior_consultant", entity=LTD.name, hourly_cost=74.0),
    Consultant(name="Oliver Hughes", email="oliver.hughes@northwind-advisory.example",
               role="trainer", entity=LTD.name, hourly_cost=52.0),
    Consultant(name="Lukas Berger", email="lukas.berger@northwind-advisory.example",
               role="senior_consultant", entity=GMBH.name, hourly_cost=82.0,
               hubspot_owner_id="81000003"),
    Consultant(name="Sofia Marino", email="sofia.marino@northwind-advisory.example",
               role="developer", entity=GMBH.name, hourly_cost=58.0),
    Consultant(name="Jana Novak", email="jana.novak@northwind-advisory.example",
               role="consultant", entity=GMBH.name, hourly_cost=55.0),
)  # fmt: skip
_STAFF_FIRST = [
    "Amara",
    "Ben",
    "Carla",
    "Dev",
    "Eva",
    "Felix",
    "Hana",
    "Ivo",
    "Julia",
    "Kofi",
    "Lea",
]
_STAFF_LAST = ["Adeyemi", "Schmidt", "Walsh", "Kowalski", "Nakamura"]
_STAFF_ROLES = ("consultant", "senior_consultant", "developer", "consultant", "trainer")
_STAFF_COST = {"consultant": 60.0, "senior_consultant": 78.0, "developer": 57.0, "trainer": 50.0}


def _staff(count: int) -> tuple[Consultant, ...]:
    """The rest of the firm's 30 consultants: deterministic names, roles and employers."""
    people = []
    for n in range(count):
        first, last = _STAFF_FIRST[n % len(_STAFF_FIRST)], _STAFF_LAST[n % len(_STAFF_LAST)]
        role, entity = _STAFF_ROLES[n % len(_STAFF_ROLES)], LEGAL_ENTITIES[n % len(LEGAL_ENTITIES)]
        people.append(
            Consultant(
                name=f"{first} {last}",
                email=f"{first.lower()}.{last.lower()}@northwind-advisory.example",
                role=role,
                entity=entity.name,
                hourly_cost=_STAFF_COST[role],
            )
        )
    return tuple(people)


CONSULTANTS = (*CONSULTANTS, *_staff(30 - len(CONSULTANTS)))


class Service(Fact):
    """One line of the catalogue: the CRM product (sku, price per CRM unit) and the Odoo service
    product it is delivered as (default_code, unit of measure, the setup its billing model needs).
    """

    sku: str
    name: str
    billing_model: BillingModel
    odoo_code: str
    odoo_name: str
    uom: Uom
    price: float
    crm_unit: str  # Salesforce QuantityUnitOfMeasure
    family: str
    role: str | None = None  # the rate-card role of an unpriced line
    recurring: str | None = None  # HubSpot recurringbillingfrequency


SERVICES = (
    Service(sku="CONS-SR-DAY", name="Consulting day (senior)", billing_model=TM,
            odoo_code="NW-TM-SENIOR-DAY", odoo_name="Senior consulting (days, on timesheets)",
            uom="Days", price=1400.0, crm_unit="Day", family="Consulting",
            role="senior_consultant"),
    Service(sku="CONS-DAY", name="Consulting day (consultant)", billing_model=TM,
            odoo_code="NW-TM-CONSULTANT-DAY", odoo_name="Consulting (days, on timesheets)",
            uom="Days", price=950.0, crm_unit="Day", family="Consulting", role="consultant"),
    Service(sku="DEV-HOUR", name="Developer hour", billing_model=TM, odoo_code="NW-TM-DEV-HOUR",
            odoo_name="Development (hours, on timesheets)", uom="Hours", price=110.0,
            crm_unit="Hour", family="Implementation", role="developer"),
    Service(sku="IMPL-FIXED", name="Implementation package", billing_model=FIXED,
            odoo_code="NW-FIXED-IMPL", odoo_name="Implementation (fixed fee)", uom="Units",
            price=25000.0, crm_unit="Each", family="Implementation"),
    Service(sku="TRN-WS", name="Training workshop (1 day)", billing_model=FIXED,
            odoo_code="NW-FIXED-TRAINING", odoo_name="Training workshop (fixed fee)", uom="Units",
            price=4500.0, crm_unit="Each", family="Training"),
    Service(sku="PROG-MS", name="Transformation programme (milestone-billed)",
            billing_model=MILESTONE, odoo_code="NW-MILESTONE-PROGRAMME",
            odoo_name="Transformation programme (milestones)", uom="Units", price=60000.0,
            crm_unit="Each", family="Consulting"),
    Service(sku="SUP-RET-M", name="Managed services retainer (month)", billing_model=RETAINER,
            odoo_code="NW-RETAINER-MONTH", odoo_name="Managed services retainer (month)",
            uom="Units", price=3000.0, crm_unit="Each", family="Support", recurring="monthly"),
)  # fmt: skip
SERVICES_BY_SKU = {service.sku: service for service in SERVICES}
# Lines without a sku (or deals without lines) use the billing model's default product.
DEFAULT_SERVICE: dict[BillingModel, str] = {
    TM: "CONS-DAY", FIXED: "IMPL-FIXED", MILESTONE: "PROG-MS", RETAINER: "SUP-RET-M",
}  # fmt: skip


class ExpenseCategory(Fact):
    """What consultants spend on a client's behalf, re-invoiced through the sale order."""

    code: str  # the time tracker's category = the Odoo product's internal reference
    name: str
    policy: Literal["cost", "sales_price"]  # Odoo expense_policy: at cost, or at its sales price
    typical: tuple[int, int]  # a usual amount, low and high, in the project's currency


EXPENSE_CATEGORIES = (
    ExpenseCategory(code="travel", name="Travel (re-invoiced at cost)", policy="cost",
                    typical=(180, 900)),
    ExpenseCategory(code="hotel", name="Hotel (re-invoiced at cost)", policy="cost",
                    typical=(140, 600)),
    ExpenseCategory(code="meals", name="Meals (re-invoiced at cost)", policy="cost",
                    typical=(20, 120)),
)  # fmt: skip


class ProjectTemplate(Fact):
    name: str
    tasks: tuple[str, ...]
    project_name: str = "{order} - {deal}"


PROJECT_TEMPLATES = (
    ProjectTemplate(name="T&M engagement", tasks=(
        "Kick-off", "Discovery workshops", "Delivery sprints", "Weekly status", "Handover")),
    ProjectTemplate(name="Fixed-fee implementation", tasks=(
        "Kick-off", "Design", "Build", "Test", "Go-live", "Hypercare")),
    ProjectTemplate(name="Milestone delivery", tasks=(
        "Kick-off", "Design", "Build", "Acceptance", "Go-live")),
    ProjectTemplate(name="Support retainer", tasks=(
        "Onboarding", "Monthly service review", "Ticket handling")),
    ProjectTemplate(name="Training", tasks=(
        "Needs analysis", "Material preparation", "Workshop delivery", "Feedback")),
)  # fmt: skip
TEMPLATE_FOR: dict[BillingModel, str] = {
    TM: "T&M engagement", FIXED: "Fixed-fee implementation", MILESTONE: "Milestone delivery",
    RETAINER: "Support retainer",
}  # fmt: skip

# ── Clients ───────────────────────────────────────────────────────────────────────────────

EU_COUNTRIES = frozenset({"FR", "NL", "BE", "IE", "IT", "ES", "AT", "DE"})


class Client(Fact):
    name: str  # as the CRM spells it
    crm: Crm
    domain: str
    city: str
    country_code: str
    country: str  # Salesforce BillingCountry
    industry: str | None = None

    @property
    def entity(self) -> LegalEntity:
        """Which Northwind entity contracts with this client."""
        if self.country_code in ("US", "CA"):
            return INC
        return LTD if self.country_code == "GB" else GMBH

    @property
    def tax_profile(self) -> str:
        if self.country_code == "US":
            return "US sales tax exempt services"
        if self.country_code == "GB":
            return "UK VAT 20%"
        if self.country_code == "DE":
            return "Domestic VAT 19%"
        return (
            "EU B2B reverse charge" if self.country_code in EU_COUNTRIES else ("Export of services")
        )


def _hubspot(name: str, domain: str, city: str, code: str, country: str, industry: str) -> Client:
    return Client(name=name, crm="hubspot", domain=domain, city=city, country_code=code,
                  country=country, industry=industry)  # fmt: skip


def _salesforce(name: str, city: str, code: str, country: str) -> Client:
    return Client(name=name, crm="salesforce", domain=f"{name.split()[0].lower()}.example.com",
                  city=city, country_code=code, country=country)  # fmt: skip


HUBSPOT_CLIENTS = (
    _hubspot("Acme Logistics", "acme-logistics.example", "Lyon", "FR", "France",
             "TRANSPORTATION_TRUCKING_RAILROAD"),
    _hubspot("Brightwater Health", "brightwater.example", "Leeds", "GB", "United Kingdom",
             "HOSPITAL_HEALTH_CARE"),
    _hubspot("Copperleaf Energy", "copperleaf.example", "Rotterdam", "NL", "Netherlands",
             "OIL_ENERGY"),
    _hubspot("Delta Retail Group", "deltaretail.example", "Munich", "DE", "Germany", "RETAIL"),
    _hubspot("Evergreen Foods", "evergreenfoods.example", "Ghent", "BE", "Belgium",
             "FOOD_PRODUCTION"),
    _hubspot("Fjord Maritime", "fjordmaritime.example", "Bergen", "NO", "Norway", "MARITIME"),
    _hubspot("Granite Insurance", "granite-ins.example", "Zurich", "CH", "Switzerland",
             "INSURANCE"),
    _hubspot("Harbor City Council", "harborcity.example", "Cork", "IE", "Ireland",
             "GOVERNMENT_ADMINISTRATION"),
    # Already an Odoo customer as "Globex Corporation" (see GLOBEX_IN_ODOO): sales typed it
    # differently, the hub must find it rather than create a second partner.
    _hubspot("GLOBEX corp.", "globex.example", "Springfield", "US", "United States",
             "COMPUTER_SOFTWARE"),
)  # fmt: skip
SALESFORCE_CLIENTS = (
    _salesforce("Northwind Traders", "Seattle", "US", "United States"),
    _salesforce("Contoso Pharmaceuticals", "Basel", "CH", "Switzerland"),
    _salesforce("Fabrikam Logistics", "Rotterdam", "NL", "Netherlands"),
    _salesforce("Tailspin Toys", "Lyon", "FR", "France"),
    _salesforce("Wide World Importers", "Hamburg", "DE", "Germany"),
    _salesforce("Adventure Works Cycles", "Bristol", "GB", "United Kingdom"),
    _salesforce("Litware Insurance", "Toronto", "CA", "Canada"),
    _salesforce("Proseware Media", "Milan", "IT", "Italy"),
)
CLIENTS = (*HUBSPOT_CLIENTS, *SALESFORCE_CLIENTS)


class OdooPartner(Fact):
    """A customer Odoo already has before any deal is won."""

    name: str
    website: str
    email: str
    city: str
    country_code: str


GLOBEX_IN_ODOO = OdooPartner(name="Globex Corporation", website="https://www.globex.example",
                             email="accounts@globex.example", city="Springfield",
                             country_code="US")  # fmt: skip


class Person(Fact):
    first_name: str
    last_name: str
    email: str
    job_title: str
    client: str


_FIRST = ["Alice", "Bruno", "Chloé", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas"]
_LAST = ["Martin", "Okafor", "Dubois", "Ivanova", "Rossi", "Haddad", "Larsen", "Moreau", "Silva",
         "Berg"]  # fmt: skip
_TITLES = ["CFO", "Head of Operations", "IT Director", "Procurement Manager", "COO"]
_SF_FIRST = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Edsger"]
_SF_LAST = ["Lovelace", "Hopper", "Turing", "Torvalds", "Hamilton", "Thompson", "Liskov",
            "Dijkstra"]  # fmt: skip


def contacts_of(client: Client) -> list[Person]:
    """Two buyers per client (deterministic names; the first is the deal's contact)."""
    clients = HUBSPOT_CLIENTS if client.crm == "hubspot" else SALESFORCE_CLIENTS
    index = clients.index(client)
    people = []
    for offset in range(2):
        if client.crm == "hubspot":
            first = _FIRST[(index * 2 + offset) % len(_FIRST)]
            last = _LAST[(index * 3 + offset) % len(_LAST)]
            title = _TITLES[(index + offset) % len(_TITLES)]
            email = f"{first.lower().replace('é', 'e')}.{last.lower()}@{client.domain}"
        else:
            first, last = _SF_FIRST[(index + offset) % 8], _SF_LAST[(index * 3 + offset) % 8]
            title = "Head of Operations" if offset == 0 else "Finance Manager"
            email = f"{first}.{last}@{client.domain}".lower()
        people.append(Person(first_name=first, last_name=last, email=email, job_title=title,
                             client=client.name))  # fmt: skip
    return people


# ── Deals ─────────────────────────────────────────────────────────────────────────────────

HUBSPOT_SERVICES_PIPELINE = "87654321"  # the custom "Professional services" pipeline
HUBSPOT_WON_STAGES: dict[str, list[str]] = {
    "default": ["closedwon"],
    HUBSPOT_SERVICES_PIPELINE: ["110382976"],  # "SOW signed"
}
# The HubSpot app's webhook subscriptions (deal.propertyChange per property, as an app is set up
# in HubSpot): what sales edits on a deal. Not the properties HubSpot derives from the stage
# (probability, is_closed...), which would send one event each for a single move, nor the ones
# the hub writes back, which would echo every write-back to it.
HUBSPOT_DEAL_SUBSCRIPTIONS = (
    "dealstage", "pipeline", "amount", "deal_currency_code", "closedate", "hubspot_owner_id",
    "handoff_contract_type", "handoff_legal_entity", "handoff_payment_terms",
    "handoff_tax_profile", "handoff_project_template", "handoff_milestones",
    "handoff_retainer_monthly_amount", "handoff_retainer_hours",
)  # fmt: skip
SALESFORCE_WON_STAGE = "Closed Won"
RETAINER_HOURS_PER_MONTH = Decimal(20)
MilestoneStyle = Literal["amounts", "percentages"]


class DealLineSpec(Fact):
    sku: str
    quantity: float


class DemoDeal(Fact):
    """One deal as the firm's sales team entered it, with what the delivery side needs."""

    crm: Crm
    key: str  # stable id of the deal in the demo (HubSpot has no external id of ours)
    name: str
    client: str
    pipeline: str
    stage: str
    billing_model: BillingModel
    lines: tuple[DealLineSpec, ...]
    legal_entity: str
    payment_terms: str
    tax_profile: str
    project_template: str
    currency: str
    close_date: date
    owner: bool = True
    milestones: MilestoneStyle | None = None
    # Why this deal cannot be delivered as entered (None: it can), and the validation rules of
    # handoff.delivery it must break.
    defect: str | None = None
    expected_problems: frozenset[str] = frozenset()

    @property
    def amount(self) -> Decimal:
        return sum(
            (Decimal(str(SERVICES_BY_SKU[line.sku].price)) * Decimal(str(line.quantity))
             for line in self.lines),
            Decimal(0),
        )  # fmt: skip

    @property
    def lost(self) -> bool:
        return self.stage in ("closedlost", "110382977", "Closed Lost")

    @property
    def won(self) -> bool:
        if self.crm == "salesforce":
            return self.stage == SALESFORCE_WON_STAGE
        return self.stage in HUBSPOT_WON_STAGES.get(self.pipeline, [])

    @property
    def retainer_monthly_amount(self) -> Decimal | None:
        if self.billing_model is not RETAINER:
            return None
        return Decimal(str(SERVICES_BY_SKU[self.lines[0].sku].price))

    @property
    def retainer_hours(self) -> Decimal | None:
        """Consultant hours included each month (the retainer's "bucket")."""
        return RETAINER_HOURS_PER_MONTH if self.billing_model is RETAINER else None

    def milestone_plan(self) -> list[dict[str, Any]]:
        """30 / 50 / 20 % of the deal, due one, three and five months after closing."""
        if self.milestones is None:
            return []
        shares = (("Design signed off", 30, 1), ("Build accepted", 50, 3), ("Go-live", 20, 5))
        plan = []
        for name, share, months in shares:
            due = _months_after(self.close_date, months)
            if self.milestones == "amounts":
                value: dict[str, Any] = {"amount": f"{self.amount * share / 100:.2f}"}
            else:
                value = {"percentage": share}
            plan.append({"name": name, **value, "due_date": due.isoformat()})
        return plan


def _months_after(day: date, months: int) -> date:
    month = day.month - 1 + months
    return date(day.year + month // 12, month % 12 + 1, 28)


def _lines(*pairs: tuple[str, float]) -> tuple[DealLineSpec, ...]:
    return tuple(DealLineSpec(sku=sku, quantity=quantity) for sku, quantity in pairs)


def client_named(name: str) -> Client:
    return next(client for client in CLIENTS if client.name == name)


def _hubspot_deal(
    position: int, name: str, client_name: str, pipeline: str, stage: str,
    model: BillingModel, lines: tuple[DealLineSpec, ...], **overrides: Any,
) -> DemoDeal:  # fmt: skip
    client = client_named(client_name)
    values: dict[str, Any] = {
        "crm": "hubspot", "key": f"hubspot-{position + 1:02d}", "name": name,
        "client": client.name, "pipeline": pipeline, "stage": stage, "billing_model": model,
        "lines": lines, "legal_entity": client.entity.name,
        "payment_terms": "Net 15" if model is RETAINER else "Net 30",
        "tax_profile": client.tax_profile, "project_template": TEMPLATE_FOR[model],
        "currency": client.entity.currency, "close_date": date(2025, position % 12 + 1, 15),
        "milestones": "amounts" if model is MILESTONE else None,
    }  # fmt: skip
    return DemoDeal(**{**values, **overrides})


SERVICES_STAGE = {"discovery": "110382973", "scoping": "110382974", "proposal": "110382975",
                  "won": "110382976", "lost": "110382977"}  # fmt: skip
_P = HUBSPOT_SERVICES_PIPELINE

HUBSPOT_DEALS = (
    _hubspot_deal(0, "Acme — WMS rollout", "Acme Logistics", "default", "closedwon", FIXED,
                  _lines(("IMPL-FIXED", 1), ("TRN-WS", 2))),
    _hubspot_deal(1, "Acme — support retainer 2025", "Acme Logistics", "default", "contractsent",
                  RETAINER, _lines(("SUP-RET-M", 12))),
    _hubspot_deal(2, "Brightwater — data platform discovery", "Brightwater Health", _P,
                  SERVICES_STAGE["scoping"], TM, _lines(("CONS-SR-DAY", 5), ("CONS-DAY", 15))),
    _hubspot_deal(3, "Copperleaf — finance transformation", "Copperleaf Energy", _P,
                  SERVICES_STAGE["won"], MILESTONE,
                  _lines(("IMPL-FIXED", 1), ("CONS-DAY", 40), ("TRN-WS", 2)),
                  defect="a milestone deal sold as three lines of other contract types (a fixed "
                  "fee, consulting days, training): Odoo bills milestones on one line",
                  expected_problems=frozenset({"milestone_line_count", "product_misconfigured"})),
    _hubspot_deal(4, "Delta — POS integration", "Delta Retail Group", "default",
                  "presentationscheduled", TM, _lines(("CONS-DAY", 30), ("DEV-HOUR", 80))),
    _hubspot_deal(5, "Delta — staff training", "Delta Retail Group", "default", "closedwon",
                  FIXED, _lines(("TRN-WS", 3)), project_template="Training"),
    _hubspot_deal(6, "Evergreen — traceability audit", "Evergreen Foods", _P,
                  SERVICES_STAGE["proposal"], TM, _lines(("CONS-SR-DAY", 8)),
                  payment_terms="Net 45", legal_entity="Northwind Advisory BV",
                  defect="contracted by 'Northwind Advisory BV', an entity the firm does not have",
                  expected_problems=frozenset({"legal_entity_unmapped"})),
    _hubspot_deal(7, "Fjord — fleet reporting", "Fjord Maritime", "default", "closedlost", TM,
                  _lines(("CONS-DAY", 20))),
    _hubspot_deal(8, "Granite — claims process redesign", "Granite Insurance", _P,
                  SERVICES_STAGE["won"], MILESTONE, _lines(("PROG-MS", 1))),
    _hubspot_deal(9, "Harbor City — citizen portal", "Harbor City Council", "default",
                  "qualifiedtobuy", FIXED, _lines(("IMPL-FIXED", 1)), payment_terms="Net 60",
                  owner=False, defect="nobody owns the deal in HubSpot",
                  expected_problems=frozenset({"account_owner_missing"})),
    _hubspot_deal(10, "Globex — managed services", "GLOBEX corp.", _P,
                  SERVICES_STAGE["discovery"], RETAINER, _lines(("SUP-RET-M", 24))),
    _hubspot_deal(11, "Brightwater — BI training", "Brightwater Health", "default",
                  "decisionmakerboughtin", FIXED, _lines(("TRN-WS", 2)),
                  project_template="Training"),
)  # fmt: skip

CONTRACT_TYPE_LABELS: dict[BillingModel, str] = {
    TM: "Time and Materials", FIXED: "Fixed Fee", MILESTONE: "Milestone", RETAINER: "Retainer",
}  # fmt: skip
SALESFORCE_STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won",
    "Closed Lost",
)  # fmt: skip
# (client index, opportunity number) -> defect, the rules it breaks, and the change to the deal.
_SALESFORCE_DEFECTS: dict[tuple[int, int], tuple[str, frozenset[str], dict[str, Any]]] = {
    (6, 1): ("billed 'Net 90', terms the firm does not offer",
             frozenset({"payment_terms_unmapped"}), {"payment_terms": "Net 90"}),
    (7, 2): ("nobody owns the opportunity in Salesforce",
             frozenset({"account_owner_missing"}), {"owner": False}),
}  # fmt: skip


def salesforce_deals(today: date | None = None, *, seed: int = 42) -> list[DemoDeal]:
    """Three opportunities per account, contract types in rotation, the first one won."""
    today = today or date.today()
    rng = random.Random(seed)
    models = list(CONTRACT_TYPE_LABELS)
    deals = []
    for index, client in enumerate(SALESFORCE_CLIENTS):
        for number in range(3):
            model = models[(index + number) % len(models)]
            stage = (
                SALESFORCE_WON_STAGE
                if number == 0
                else SALESFORCE_STAGES[rng.randrange(len(SALESFORCE_STAGES))]
            )
            close = today + timedelta(days=rng.randint(-60, 90))
            values: dict[str, Any] = {
                "crm": "salesforce", "key": f"deal:{index + 1:04d}-{number + 1}",
                "name": f"{client.name} - {CONTRACT_TYPE_LABELS[model]} {number + 1}",
                "client": client.name, "pipeline": "default", "stage": stage,
                "billing_model": model, "lines": _salesforce_lines(model, rng),
                "legal_entity": client.entity.name,
                "payment_terms": "Net 15" if model is RETAINER else "Net 30",
                "tax_profile": client.tax_profile, "project_template": TEMPLATE_FOR[model],
                "currency": client.entity.currency, "close_date": close,
                "milestones": "percentages" if model is MILESTONE else None,
            }  # fmt: skip
            if (index, number) in _SALESFORCE_DEFECTS:
                defect, rules, change = _SALESFORCE_DEFECTS[(index, number)]
                values.update(change, defect=defect, expected_problems=rules)
            deals.append(DemoDeal(**values))
    return deals


def _salesforce_lines(model: BillingModel, rng: random.Random) -> tuple[DealLineSpec, ...]:
    if model is TM:
        return _lines(("CONS-SR-DAY", rng.randint(5, 40)), ("DEV-HOUR", rng.randint(40, 400)))
    if model is FIXED:
        return _lines(("IMPL-FIXED", 1), ("TRN-WS", rng.randint(1, 3)))
    if model is MILESTONE:
        return _lines(("PROG-MS", 1))
    return _lines(("SUP-RET-M", 12))


def generated_deals(crm: Crm, count: int, *, today: date | None = None) -> list[DemoDeal]:
    """``count`` more open, valid deals in ``crm``, for end-to-end runs and benchmarks.

    Every client in turn (GLOBEX corp. included, so the existing Odoo partner is found again and
    again), the four contract types in turn, quantities and payment terms varying; each can be
    moved to won and must then be delivered.
    """
    clients = HUBSPOT_CLIENTS if crm == "hubspot" else SALESFORCE_CLIENTS
    models = list(CONTRACT_TYPE_LABELS)
    today = today or date.today()
    separator = " — " if crm == "hubspot" else " - "
    deals = []
    for n in range(count):
        client = clients[n % len(clients)]
        model = models[(n + n // len(clients)) % len(models)]
        if crm == "salesforce":
            pipeline, stage = "default", "Negotiation/Review"
        elif n % 2:
            pipeline, stage = HUBSPOT_SERVICES_PIPELINE, SERVICES_STAGE["proposal"]
        else:
            pipeline, stage = "default", "contractsent"
        terms = "Net 15" if model is RETAINER else ("Net 30", "Net 45", "Net 60")[n % 3]
        deals.append(DemoDeal(
            crm=crm, key=f"{crm}-bulk-{n + 1:05d}",
            name=f"{client.name.split()[0].title()}{separator}"
                 f"{CONTRACT_TYPE_LABELS[model]} #{n + 1:04d}",
            client=client.name, pipeline=pipeline, stage=stage, billing_model=model,
            lines=_generated_lines(model, n), legal_entity=client.entity.name,
            payment_terms=terms, tax_profile=client.tax_profile,
            project_template=TEMPLATE_FOR[model], currency=client.entity.currency,
            close_date=today + timedelta(days=n % 90),
            milestones=(
                ("amounts" if crm == "hubspot" else "percentages") if model is MILESTONE else None
            ),
        ))  # fmt: skip
    return deals


def _generated_lines(model: BillingModel, n: int) -> tuple[DealLineSpec, ...]:
    if model is TM:
        return _lines(("CONS-SR-DAY", 2 + n % 9), ("DEV-HOUR", 20 + n % 60))
    if model is FIXED:
        return _lines(("IMPL-FIXED", 1), ("TRN-WS", 1 + n % 3))
    if model is MILESTONE:
        return _lines(("PROG-MS", 1))
    return _lines(("SUP-RET-M", 6 * (1 + n % 3)))


# ── The hub's configuration ───────────────────────────────────────────────────────────────


def delivery_config() -> dict[str, Any]:
    """The `delivery:` section of handoff.yaml for this firm."""
    return {
        "won_stages": {"hubspot": {k: list(v) for k, v in HUBSPOT_WON_STAGES.items()}},
        "gates": [],
        "legal_entities": {entity.name: entity.name for entity in LEGAL_ENTITIES},
        "payment_terms": {term.crm: term.odoo for term in PAYMENT_TERMS},
        "tax_profiles": {profile: list(names) for profile, names in TAX_PROFILES.items()},
        "rate_card": {
            "roles": {role: dict(rates) for role, rates in RATE_CARD.items()},
        },
        "service_catalog": {
            "by_sku": {s.sku: _catalog_target(s) for s in SERVICES},
            "by_billing_model": {
                model.value: _catalog_target(SERVICES_BY_SKU[sku])
                for model, sku in DEFAULT_SERVICE.items()
            },
        },
        "project_templates": {
            t.name: {"project_name": t.project_name, "tasks": list(t.tasks)}
            for t in PROJECT_TEMPLATES
        },
        "currencies": sorted({entity.currency for entity in LEGAL_ENTITIES}),
        "amendments": "order_lines",
        "require_account_owner": True,
        "defaults": {"payment_terms": "Net 30"},
    }


def _catalog_target(service: Service) -> dict[str, str]:
    target = {"product": service.odoo_code}
    if service.role is not None:
        target["role"] = service.role
    return target


class SecretNames(Fact):
    """The environment variables handoff.yaml references for each credential."""

    odoo_api_key: str = "HANDOFF_DEMO_ODOO_API_KEY"
    hubspot_token: str = "HANDOFF_DEMO_HUBSPOT_TOKEN"
    hubspot_webhook_secret: str = "HANDOFF_DEMO_HUBSPOT_CLIENT_SECRET"
    salesforce_consumer_key: str = "HANDOFF_DEMO_SALESFORCE_CONSUMER_KEY"
    salesforce_consumer_secret: str = "HANDOFF_DEMO_SALESFORCE_CONSUMER_SECRET"
    salesforce_password: str = "HANDOFF_DEMO_SALESFORCE_PASSWORD"
    salesforce_security_token: str = "HANDOFF_DEMO_SALESFORCE_SECURITY_TOKEN"
    salesforce_cdc_secret: str = "HANDOFF_DEMO_SALESFORCE_CDC_SECRET"
    docusign_hmac_key: str = "HANDOFF_DEMO_DOCUSIGN_HMAC_KEY"
    timetracker_secret: str = "HANDOFF_DEMO_TIMETRACKER_SECRET"
    stripe_webhook_secret: str = "HANDOFF_DEMO_STRIPE_WEBHOOK_SECRET"


class SystemUrls(Fact):
    odoo: str
    hubspot: str
    salesforce: str
    docusign: str = "https://demo.docusign.net"
    timetracker: str = "https://time.northwind-advisory.example"
    stripe: str = "https://api.stripe.com"
    odoo_database: str = "psa"
    odoo_username: str = "admin"
    salesforce_username: str = "admin@handoff_sandbox"


def hub_config(
    urls: SystemUrls,
    secrets: SecretNames | None = None,
    *,
    store_url: str | None = None,
    salesforce_ca_file: str | None = None,
) -> dict[str, Any]:
    """A whole handoff.yaml (as a dict) wiring the hub to the firm's systems; every credential
    is a `${ENV}` reference named by ``secrets``. ``salesforce_ca_file`` is written as
    ``systems.salesforce.tls_ca_file``."""
    names = secrets or SecretNames()

    def ref(name: str) -> str:
        return f"${{{name}}}"

    salesforce: dict[str, Any] = {
        "kind": "salesforce",
        "url": urls.salesforce,
        "username": urls.salesforce_username,
        "credentials": {
            "consumer_key": ref(names.salesforce_consumer_key),
            "consumer_secret": ref(names.salesforce_consumer_secret),
            "password": ref(names.salesforce_password),
            "security_token": ref(names.salesforce_security_token),
        },
        "webhook_secret": ref(names.salesforce_cdc_secret),
    }
    if salesforce_ca_file:
        salesforce["tls_ca_file"] = salesforce_ca_file
    config: dict[str, Any] = {
        "version": 1,
        "systems": {
            "odoo": {
                "kind": "odoo",
                "url": urls.odoo,
                "database": urls.odoo_database,
                "username": urls.odoo_username,
                "credentials": {"api_key": ref(names.odoo_api_key)},
                "concurrency": 8,
            },
            "hubspot": {
                "kind": "hubspot",
                "url": urls.hubspot,
                "credentials": {"token": ref(names.hubspot_token)},
                "webhook_secret": ref(names.hubspot_webhook_secret),
            },
            "salesforce": salesforce,
            "docusign": {
                "kind": "docusign",
                "url": urls.docusign,
                "webhook_secret": ref(names.docusign_hmac_key),
            },
            # The firm's time tracker posts approved time and expenses to /webhooks/time, which
            # starts time_entry: allowed here, and nothing else (deny by default). The same
            # list governs what it may start on /webhooks/events/timetracker.
            "timetracker": {
                "kind": "http",
                "url": urls.timetracker,
                "webhook_secret": ref(names.timetracker_secret),
                "allowed_flows": ["time_entry"],
            },
            "stripe": {
                "kind": "stripe",
                "url": urls.stripe,
                "webhook_secret": ref(names.stripe_webhook_secret),
            },
        },
        "ownership": {
            "customer": "hubspot",
            # Finance keeps the legal name, tax ids and billing terms in Odoo: a CRM spelling
            # ("GLOBEX corp.") names a new partner but never renames an existing one.
            "field_groups": {"customer.identity": "odoo", "customer.billing": "odoo"},
        },
        "flows": {
            "deal_to_delivery": {"queue": "odoo"},  # started by the CRMs' webhooks
            # A demo is watched: invoice and payment status reach the CRM within seconds.
            "invoice_status": {"trigger": {"poll": {"system": "odoo", "interval_seconds": 5}}},
        },
        "delivery": delivery_config(),
    }
    if store_url is not None:
        config["store"] = {"url": store_url}
    return config


def deals(today: date | None = None) -> list[DemoDeal]:
    """Every deal of the demo, HubSpot's then Salesforce's."""
    return [*HUBSPOT_DEALS, *salesforce_deals(today)]


__all__ = [
    "CLIENTS",
    "CONSULTANTS",
    "GLOBEX_IN_ODOO",
    "HUBSPOT_CLIENTS",
    "HUBSPOT_DEALS",
    "LEGAL_ENTITIES",
    "PAYMENT_TERMS",
    "PROJECT_TEMPLATES",
    "RATE_CARD",
    "SALESFORCE_CLIENTS",
    "SERVICES",
    "TAXES",
    "TAX_PROFILES",
    "Client",
    "DemoDeal",
    "SecretNames",
    "SystemUrls",
    "client_named",
    "contacts_of",
    "deals",
    "delivery_config",
    "generated_deals",
    "hub_config",
    "salesforce_deals",
]
