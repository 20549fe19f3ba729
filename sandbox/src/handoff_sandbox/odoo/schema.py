"""Model definitions of the sandbox, built from the `fields_get` answers recorded on a real Odoo 18.

The recorded files (data/fields/*.json) are the source of truth for the 30 models they cover.
Models they only point to (res.country, account.account, ...) get a small declared schema here,
and any other relation target gets a minimal "name" model, so every many2one can be validated.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

FIELDS_DIR = Path(__file__).parent / "data" / "fields"

SCALAR_SQL_TYPES: dict[str, str] = {
    "char": "TEXT",
    "text": "TEXT",
    "html": "TEXT",
    "selection": "TEXT",
    "date": "TEXT",
    "datetime": "TEXT",
    "binary": "TEXT",
    "reference": "TEXT",
    "integer": "INTEGER",
    "many2one": "INTEGER",
    "many2one_reference": "INTEGER",
    "boolean": "INTEGER",
    "float": "REAL",
    "monetary": "REAL",
    "json": "TEXT",
    "properties": "TEXT",
    "properties_definition": "TEXT",
    "many2many": "TEXT",  # a JSON list of ids kept on the owning row
}


class FieldSpec(BaseModel):
    name: str
    type: str
    string: str = ""
    required: bool = False
    readonly: bool = False
    store: bool = True
    relation: str | None = None
    selection: list[list[Any]] | None = None
    company_dependent: bool = False
    help: str | bool | None = None  # only where a recording gave it
    # The many2one on `relation` that a one2many reads back through (not part of fields_get).
    inverse_name: str | None = None
    # Non-stored in Odoo but kept in a column here, because flows search on it (not reported).
    shadow: bool = Field(default=False, exclude=True)

    @property
    def is_x2many(self) -> bool:
        return self.type in ("one2many", "many2many")

    @property
    def has_column(self) -> bool:
        """Whether the value lives in the model's own table (company-dependent values included)."""
        return self.type != "one2many" and (self.store or self.company_dependent or self.shadow)

    def public_attributes(self, wanted: list[str] | None) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "company_dependent": self.company_dependent,
            "readonly": self.readonly,
            "required": self.required,
            "store": self.store,
            "string": self.string,
            "type": self.type,
        }
        if self.relation:
            attrs["relation"] = self.relation
        if self.selection is not None:
            attrs["selection"] = self.selection
        if self.help is not None:
            attrs["help"] = self.help
        if wanted:
            return {k: v for k, v in attrs.items() if k in wanted}
        return attrs


class ModelSpec(BaseModel):
    name: str
    description: str
    fields: dict[str, FieldSpec] = Field(default_factory=dict)
    transient: bool = False
    rec_name: str = "name"
    order: str = "id"

    @property
    def table(self) -> str:
        return self.name.replace(".", "_")

    def column_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields.values() if f.has_column and f.name != "id"]


# The `_description` of each model: Odoo puts it in ValidationError / AccessError texts.
MODEL_DESCRIPTIONS: dict[str, str] = {
    "res.partner": "Contact",
    "res.company": "Companies",
    "res.currency": "Currency",
    "res.users": "User",
    "res.country": "Country",
    "res.groups": "Access Groups",
    "crm.lead": "Lead/Opportunity",
    "crm.stage": "CRM Stages",
    "sale.order": "Sales Order",
    "sale.order.line": "Sales Order Line",
    "sale.order.template": "Quotation Template",
    "product.template": "Product",
    "product.product": "Product Variant",
    "product.category": "Product Category",
    "uom.uom": "Product Unit of Measure",
    "uom.category": "Product UoM Categories",
    "project.project": "Project",
    "project.task": "Task",
    "project.milestone": "Project Milestone",
    "project.task.type": "Task Stage",
    "account.analytic.account": "Analytic Account",
    "account.analytic.plan": "Analytic Plans",
    "account.analytic.line": "Analytic Line",
    "account.move": "Journal Entry",
    "account.move.line": "Journal Item",
    "account.move.reversal": "Account Move Reversal",
    "account.payment": "Payments",
    "account.payment.register": "Pay",
    "account.payment.term": "Payment Terms",
    "account.payment.method.line": "Payment Methods",
    "account.tax": "Tax",
    "account.tax.group": "Tax Group",
    "account.journal": "Journal",
    "account.account": "Account",
    "hr.employee": "Employee",
    "hr.expense": "Expense",
    "hr.expense.sheet": "Expense Report",
    "sale.advance.payment.inv": "Sales Advance Payment Invoice",
    "res.users.apikeys.description": "API Key Description",
    "res.users.apikeys": "Users API Keys",
    "ir.model.data": "Model Data",
    "ir.model": "Models",
}

TRANSIENT_MODELS = {
    "sale.advance.payment.inv",
    "account.payment.register",
    "account.move.reversal",
    "res.users.apikeys.description",
}

# Default `_order` where it changes what a search returns (README transcripts: partners by name).
MODEL_ORDERS: dict[str, str] = {
    "res.partner": "complete_name asc, id desc",
    "sale.order": "date_order desc, id desc",
    "account.move": "date desc, name desc, id desc",
    "account.payment": "date desc, name desc, id desc",
    "uom.uom": "factor desc, id",
    "res.currency": "active desc, name",
    "ir.module.module": "application desc, sequence, name",
    "ir.model.data": "module, model, name",
}

REC_NAMES: dict[str, str] = {
    "account.move": "name",
    "res.users": "name",
}

# one2many inverses that the heuristic (the only many2one back to the parent) cannot pick.
INVERSE_OVERRIDES: dict[tuple[str, str], str] = {
    ("res.partner", "child_ids"): "parent_id",
    ("sale.order", "order_line"): "order_id",
    ("account.move", "line_ids"): "move_id",
    ("account.move", "invoice_line_ids"): "move_id",
    ("project.project", "tasks"): "project_id",
    ("project.project", "task_ids"): "project_id",
    ("project.task", "child_ids"): "parent_id",
    ("project.task", "timesheet_ids"): "task_id",
    ("project.project", "timesheet_ids"): "project_id",
    ("project.project", "milestone_ids"): "project_id",
    ("sale.order.line", "invoice_lines"): "sale_line_ids",
    ("hr.expense.sheet", "expense_line_ids"): "sheet_id",
}


# Fields Odoo computes (related / non-stored searchable) that the sandbox keeps in a column.
SHADOW_COLUMNS: dict[str, set[str]] = {
    "project.project": {"sale_order_id"},
    "product.product": {
        "name",
        "type",
        "service_tracking",
        "service_type",
        "invoice_policy",
        "uom_id",
        "uom_po_id",
        "categ_id",
        "sale_line_warn",
        "sale_ok",
        "default_code",
        "description_sale",
        "expense_policy",
        "project_id",
        "project_template_id",
        "company_id",
    },
}


def _field(name: str, type_: str, string: str, **extra: Any) -> FieldSpec:
    return FieldSpec(name=name, type=type_, string=string, **extra)


def _base_fields() -> dict[str, FieldSpec]:
    return {
        "id": _field("id", "integer", "ID", readonly=True),
        "display_name": _field("display_name", "char", "Display Name", readonly=True, store=False),
        "create_date": _field("create_date", "datetime", "Created on", readonly=True),
        "write_date": _field("write_date", "datetime", "Last Updated on", readonly=True),
        "create_uid": _field(
            "create_uid", "many2one", "Created by", readonly=True, relation="res.users"
        ),
        "write_uid": _field(
            "write_uid", "many2one", "Last Updated by", readonly=True, relation="res.users"
        ),
    }


def _declared(model: str, *fields: FieldSpec) -> ModelSpec:
    spec = ModelSpec(name=model, description=MODEL_DESCRIPTIONS.get(model, model))
    spec.fields = _base_fields() | {f.name: f for f in fields}
    return spec


def _declared_models() -> dict[str, ModelSpec]:
    """Models the recorded files do not cover but the flows and official clients need."""
    char, m2o, intf, boolf = "char", "many2one", "integer", "boolean"
    models = [
        _declared(
            "ir.model.data",
            _field("name", char, "External Identifier", required=True),
            _field("module", char, "Module", required=True),
            _field("model", char, "Model Name", required=True),
            _field("res_id", "many2one_reference", "Record ID"),
            _field("noupdate", boolf, "Non Updatable"),
            _field("complete_name", char, "Complete ID", store=False),
        ),
        _declared(
            "ir.model",
            _field("name", char, "Model Description", required=True),
            _field("model", char, "Model", required=True),
            _field("transient", boolf, "Transient Model"),
        ),
        _declared(
            "res.country",
            _field("name", char, "Country Name", required=True),
            _field("code", char, "Country Code"),
        ),
        _declared(
            "res.groups",
            _field("name", char, "Name", required=True),
            _field("full_name", char, "Group Name", store=False),
        ),
        _declared(
            "res.users.apikeys",
            _field("name", char, "Description", required=True, readonly=True),
            _field("user_id", m2o, "User", relation="res.users", readonly=True),
            _field("scope", char, "Scope", readonly=True),
            _field("expiration_date", "datetime", "Expiration Date", readonly=True),
            _field("key", char, "Key", readonly=True),
        ),
        _declared(
            "res.users.identitycheck",
            _field("request", char, "Request"),
            _field("password", char, "Password"),
            _field("res_id", intf, "Record"),
        ),
        _declared(
            "account.account",
            _field("name", char, "Account Name", required=True),
            _field("code", char, "Code"),
            _field(
                "account_type",
                "selection",
                "Type",
                selection=[
                    ["asset_receivable", "Receivable"],
                    ["asset_cash", "Bank and Cash"],
                    ["liability_payable", "Payable"],
                    ["income", "Income"],
                    ["expense", "Expenses"],
                    ["liability_current", "Current Liabilities"],
                    ["asset_current", "Current Assets"],
                ],
            ),
            _field("reconcile", boolf, "Allow Reconciliation"),
        ),
        _declared(
            "account.move.reversal",
            _field("move_ids", "many2many", "Journal Entry", relation="account.move"),
            _field("new_move_ids", "many2many", "New Move", relation="account.move"),
            _field("date", "date", "Reversal date"),
            _field("reason", char, "Reason displayed on Credit Note"),
            _field("journal_id", m2o, "Journal", relation="account.journal"),
            _field("company_id", m2o, "Company", relation="res.company"),
        ),
        _declared(
            "account.tax.group",
            _field("name", char, "Name", required=True),
            _field("sequence", intf, "Sequence"),
            _field("company_id", m2o, "Company", relation="res.company", required=True),
            _field("country_id", m2o, "Country", relation="res.country"),
            _field("active", boolf, "Active"),
        ),
        # Abstract in Odoo (no table); the sandbox keeps an empty one.
        _declared("account.chart.template"),
        _declared(
            "account.payment.method.line",
            _field("name", char, "Name"),
            _field("journal_id", m2o, "Journal", relation="account.journal"),
            _field(
                "payment_type",
                "selection",
                "Payment Type",
                selection=[["inbound", "Inbound"], ["outbound", "Outbound"]],
            ),
        ),
    ]
    return {m.name: m for m in models}


# Fields the modules of the reference install add after the recorded fields_get (the template
# database has the UK, German and US localisations and account_peppol installed; see
# company_required_field_from_localisation.json).
LOCALISATION_FIELDS: dict[str, list[FieldSpec]] = {
    "res.company": [
        FieldSpec(
            name="account_peppol_proxy_state",
            type="selection",
            string="PEPPOL status",
            required=True,
            selection=[
                ["not_registered", "Not registered"],
                ["in_verification", "In verification"],
                ["sender", "Can send but not receive"],
                ["smp_registration", "Can send, pending registration to receive"],
                ["receiver", "Can send and receive"],
                ["rejected", "Rejected"],
            ],
        )
    ],
}


def _load_recorded(path: Path) -> ModelSpec:
    raw = json.loads(path.read_text())
    model = raw["model"]
    spec = ModelSpec(name=model, description=MODEL_DESCRIPTIONS.get(model, model))
    for name, attrs in raw["fields"].items():
        spec.fields[name] = FieldSpec(name=name, **attrs)
    return spec


def _minimal_model(model: str) -> ModelSpec:
    return _declared(model, _field("name", "char", "Name"), _field("active", "boolean", "Active"))


def _resolve_inverse(models: dict[str, ModelSpec], owner: ModelSpec, field: FieldSpec) -> None:
    override = INVERSE_OVERRIDES.get((owner.name, field.name))
    target = models[field.relation or ""]
    if override and override in target.fields:
        field.inverse_name = override
        return
    backs = [
        f.name
        for f in target.fields.values()
        if f.type == "many2one" and f.relation == owner.name and f.store
    ]
    preferred = [n for n in backs if n in ("parent_id", "order_id", "move_id", f"{owner.table}_id")]
    choice = preferred[0] if preferred else (backs[0] if len(backs) == 1 else None)
    field.inverse_name = choice


@cache
def load_models() -> dict[str, ModelSpec]:
    models: dict[str, ModelSpec] = {}
    for path in sorted(FIELDS_DIR.glob("*.json")):
        spec = _load_recorded(path)
        models[spec.name] = spec
    for name, spec in _declared_models().items():
        models.setdefault(name, spec)
    for name, extra in LOCALISATION_FIELDS.items():
        for field in extra:
            models[name].fields.setdefault(field.name, field)
    # Every relation target must exist so that many2one values can be checked and named.
    targets = {f.relation for m in list(models.values()) for f in m.fields.values() if f.relation}
    for target in sorted(t for t in targets if t not in models):
        models[target] = _minimal_model(target)
    for spec in models.values():
        spec.transient = spec.name in TRANSIENT_MODELS
        spec.order = MODEL_ORDERS.get(spec.name, "id")
        spec.rec_name = REC_NAMES.get(spec.name, "name" if "name" in spec.fields else "id")
        for field in spec.fields.values():
            field.shadow = field.name in SHADOW_COLUMNS.get(spec.name, set())
            if field.type == "one2many" and field.relation in models:
                _resolve_inverse(models, spec, field)
    return models
