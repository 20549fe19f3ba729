"""Per-model business rules: defaults, computed fields, constraints and the RPC-callable actions.

Each `Behaviour` subclass covers one model; `behaviour_for(model)` falls back to the generic one.
Stored computed fields (amounts, delivered/invoiced quantities, states) are written into their
columns when what they depend on changes, so domains and `read_group` work on them as in Odoo.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from . import uom as units
from .errors import InvalidValue, UserError, ValidationError, missing_record
from .schema import FieldSpec

if TYPE_CHECKING:
    from .orm import Model

Vals = dict[str, Any]
Method = Callable[..., Any]

NO_ITEMS_TO_INVOICE = (
    "Cannot create an invoice. No items are available to invoice.\n\nTo resolve this issue, please "
    "ensure that:\n   \u2022 The products have been delivered before attempting to invoice them.\n"
    "   \u2022 The invoicing policy of the product is configured correctly.\n\nIf you want to invoice "
    "based on ordered quantities instead:\n   \u2022 For consumable or storable products, open the "
    "product, go to the 'General Information' tab and change the 'Invoicing Policy' from 'Delivered "
    "Quantities' to 'Ordered Quantities'.\n   \u2022 For services (and other products), change the "
    "'Invoicing Policy' to 'Prepaid/Fixed Price'.\n"
)
SALES_JOURNAL, BANK_JOURNAL, MISC_JOURNAL = 1, 6, 3
PRODUCT_SALES_ACCOUNT = 27
DRAFT_MOVE_NAMES = {
    "out_invoice": "Draft Invoice",
    "out_refund": "Draft Credit Note",
    "in_invoice": "Draft Bill",
    "in_refund": "Draft Vendor Credit Note",
    "entry": "Draft Entry",
}
# sale_timesheet `_check_can_write`: what may not change on a timesheet of an invoice.
INVOICED_TIMESHEET_FIELDS = (
    "unit_amount",
    "employee_id",
    "project_id",
    "task_id",
    "so_line",
    "date",
)
HOURS_UOM = 4
UNITS_UOM = 1
BANK_MANUAL_IN = 1


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def rpc(model_level: bool = False) -> Callable[[Method], Method]:
    """Mark a behaviour method as callable over RPC (model-level ones take no ids)."""

    def mark(func: Method) -> Method:
        func.__rpc__ = "model" if model_level else "records"  # type: ignore[attr-defined]
        return func

    return mark


class Behaviour:
    model: ClassVar[str] = ""
    cascade: ClassVar[set[str]] = set()
    fixed_defaults: ClassVar[Vals] = {}

    def method(self, name: str) -> Method | None:
        func = getattr(self, name, None)
        return func if getattr(func, "__rpc__", None) else None

    def model_level(self, name: str) -> bool:
        return getattr(getattr(self, name, None), "__rpc__", "") == "model"

    # -- defaults and stored computes
    def defaults(self, model: Model) -> Vals:
        fields = model.spec.fields
        out: Vals = {}
        for name, field in fields.items():
            if not field.has_column:
                continue
            if name == "active":
                out[name] = True
            elif (
                field.type == "many2one"
                and field.relation == "res.company"
                and name == "company_id"
            ) or (field.type == "many2one" and field.relation == "res.currency" and field.required):
                out[name] = 1
            elif field.required and field.type == "selection" and field.selection:
                out[name] = field.selection[0][0]
            elif field.required and field.type == "date":
                out[name] = _today()
            elif field.required and field.type == "datetime":
                out[name] = _now()
        for key, value in model.env.context.items():
            if key.startswith("default_") and key[8:] in fields:
                out[key[8:]] = value
        return {**out, **self.fixed_defaults}

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        return vals_list

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        self._stub_required_relations(model, rows)

    def _stub_required_relations(self, model: Model, rows: list[Vals]) -> None:
        """Required links to models the sandbox only sketches (mail.alias, resource.resource...)."""
        from .schema import load_models

        for field in model.spec.column_fields():
            if not (field.required and field.type == "many2one"):
                continue
            target = load_models()[field.relation or ""]
            if len(target.fields) > 8:  # a real (recorded) model: leave the check to required
                continue
            for row in rows:
                if not row.get(field.name):
                    row[field.name] = model.env[target.name].create(
                        [{"name": f"{model.name} {field.name}"}]
                    )[0]

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        return None

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        return None

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        return None

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        return None

    def before_unlink(self, model: Model, ids: list[int]) -> None:
        return None

    def after_unlink(self, model: Model, ids: list[int]) -> None:
        return None

    def write_nonstored(
        self,
        model: Model,
        field: FieldSpec,
        value: Any,
        columns: Vals,
        record_id: int | None = None,
    ) -> None:
        """Values for computed, non-stored fields are ignored, as Odoo ignores non-inverse ones."""
        return None

    # -- reads
    def compute(self, model: Model, ids: list[int], names: list[str]) -> dict[str, dict[int, Any]]:
        out: dict[str, dict[int, Any]] = {}
        for name in names:
            compute = getattr(self, f"compute_{name}", None)
            if name == "display_name":
                out[name] = self.display_names(model, ids)
            elif compute is not None:
                out[name] = compute(model, ids)
        return out

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rec = model.spec.rec_name
        if rec == "id" or rec not in model.spec.fields:
            return {i: f"{model.name},{i}" for i in ids}
        rows = model.raw_rows(ids, [rec])
        return {i: str(rows[i][rec] or "") for i in ids if i in rows}


REGISTRY: dict[str, Behaviour] = {}


def register(cls: type[Behaviour]) -> type[Behaviour]:
    REGISTRY[cls.model] = cls()
    return cls


def behaviour_for(model: str) -> Behaviour:
    return REGISTRY.get(model) or _GENERIC


_GENERIC = Behaviour()


def check_company(model: Model, rows: list[Vals], fields: tuple[str, ...]) -> None:
    """Odoo's `_check_company`: every record a `check_company` many2one points to belongs to no
    company or to the record's company; otherwise UserError "Incompatible companies on records"."""
    for row in rows:
        company = row.get("company_id")
        if not company:
            continue
        for name in fields:
            target_id = row.get(name)
            field = model.spec.fields.get(name)
            if not target_id or field is None or not field.relation:
                continue
            target = model.env[field.relation]
            if (
                "company_id" not in target.spec.fields
                or not target.spec.fields["company_id"].has_column
            ):
                continue
            other = target.raw_rows([target_id], ["company_id"]).get(target_id, {})
            if other.get("company_id") and other["company_id"] != company:
                record = row.get(model.spec.rec_name) or ""
                company_name = model.env["res.company"].display_names([company]).get(company)
                target_name = target.display_names([target_id]).get(target_id, "")
                raise UserError(
                    f"Incompatible companies on records:\n- \u201c{record}\u201d belongs to "
                    f"company \u201c{company_name}\u201d and \u201c{field.string}\u201d "
                    f"({name}: '{target_name}') belongs to another company."
                )


def m2o_id(value: Any) -> int | None:
    if isinstance(value, list):
        return value[0] if value else None
    return value or None


# ------------------------------------------------------------------------------------ base
@register
class Partner(Behaviour):
    model = "res.partner"
    fixed_defaults: ClassVar[Vals] = {"type": "contact", "lang": "en_US", "autopost_bills": "ask"}

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        parents = {r["parent_id"] for r in rows if r.get("parent_id")}
        names = model.raw_rows(list(parents), ["complete_name"]) if parents else {}
        missing = sorted(parents - set(names))
        if missing:  # res.partner's create reads the parent while computing (MissingError)
            raise missing_record(model.name, missing[:1], model.env.uid)
        for row in rows:
            parent = names.get(row.get("parent_id") or 0)
            name = row.get("name") or ""
            if parent and not row.get("is_company"):
                row["complete_name"] = f"{parent['complete_name']}, {name}"
            else:
                row["complete_name"] = name

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        if any(not row.get("name") and row.get("type", "contact") == "contact" for row in rows):
            raise ValidationError("The operation cannot be completed: Contacts require a name")

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self._commercial(model, ids)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if {"name", "parent_id", "is_company"} & set(vals):
            rows = model.raw_rows(ids, ["name", "parent_id", "is_company"])
            for row in rows.values():
                self.complete_rows(model, [row])
                model.write_columns([row["id"]], {"complete_name": row["complete_name"]})
            self._commercial(model, ids)

    def _commercial(self, model: Model, ids: list[int]) -> None:
        rows = model.raw_rows(ids, ["parent_id", "is_company"])
        parents = {r["parent_id"] for r in rows.values() if r["parent_id"]}
        parent_rows = model.raw_rows(list(parents), ["commercial_partner_id"]) if parents else {}
        for record_id, row in rows.items():
            parent = row["parent_id"]
            commercial = record_id
            if parent and not row["is_company"]:
                commercial = parent_rows.get(parent, {}).get("commercial_partner_id") or parent
            model.write_columns([record_id], {"commercial_partner_id": commercial})

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["complete_name", "name"])
        return {i: r["complete_name"] or r["name"] or "" for i, r in rows.items()}


@register
class Users(Behaviour):
    model = "res.users"
    fixed_defaults: ClassVar[Vals] = {"notification_type": "email", "autopost_bills": "ask"}

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        for vals in vals_list:
            vals.setdefault("groups_id", [[6, 0, [1]]])
            if not vals.get("partner_id"):
                vals["partner_id"] = model.env["res.partner"].create(
                    [
                        {
                            "name": vals.get("name") or vals.get("login") or "",
                            "email": vals.get("login"),
                        }
                    ]
                )[0]
        return vals_list

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        for row in rows:
            row.setdefault("company_ids", json.dumps([1]))

    def write_nonstored(
        self,
        model: Model,
        field: FieldSpec,
        value: Any,
        columns: Vals,
        record_id: int | None = None,
    ) -> None:
        if field.name == "password":
            columns["__password"] = value

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        for record_id, vals in zip(ids, vals_list, strict=True):
            self._after(model, record_id, vals)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        for record_id in ids:
            self._after(model, record_id, vals)

    def _after(self, model: Model, record_id: int, vals: Vals) -> None:
        if "password" in vals:
            model.env.conn.execute(
                "INSERT OR REPLACE INTO sandbox_password(uid, password) VALUES(?, ?)",
                (record_id, vals["password"]),
            )
        groups = model.values([record_id], ["groups_id"])[0]["groups_id"]
        model.write_columns([record_id], {"share": int(10 in groups)})
        partner = model.raw_rows([record_id], ["partner_id", "name"])[record_id]
        if vals.get("name"):
            model.env["res.partner"].write([partner["partner_id"]], {"name": vals["name"]})

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["partner_id"])
        names = model.env["res.partner"].display_names(
            [r["partner_id"] for r in rows.values() if r["partner_id"]]
        )
        return {i: names.get(r["partner_id"], "") for i, r in rows.items()}

    def compute_name(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self.display_names(model, ids)

    def compute_employee_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return model.env["hr.employee"].children_of("user_id", ids)

    @rpc(model_level=True)
    def context_get(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> Vals:
        return {"lang": "en_US", "tz": False, "uid": model.env.uid}

    @rpc()
    def has_group(
        self, model: Model, ids: list[int], group_ext_id: str, *_: Any, **__: Any
    ) -> bool:
        """Whether the user is in the group named by its external id (unknown group: False)."""
        module, _, name = group_ext_id.partition(".")
        row = model.conn.execute(
            "SELECT res_id FROM ir_model_data WHERE module=? AND name=? AND model='res.groups'",
            (module, name),
        ).fetchone()
        user = ids[0] if ids else model.env.uid
        groups = model.values([user], ["groups_id"])
        return bool(row and groups and row[0] in groups[0]["groups_id"])


@register
class ModelData(Behaviour):
    model = "ir.model.data"
    fixed_defaults: ClassVar[Vals] = {"module": "__import__"}

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["module", "name"])
        return {i: f"{r['module']}.{r['name']}" for i, r in rows.items()}

    def compute_complete_name(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self.display_names(model, ids)

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        """The table's constraints, with PostgreSQL's words (external_ids.json #9, #10)."""
        for row in rows:
            if " " in (row.get("name") or ""):  # CHECK(name NOT LIKE '% %')
                raise ValidationError(
                    "The operation cannot be completed: External IDs cannot contain spaces"
                )
            clash = model.conn.execute(
                "SELECT id FROM ir_model_data WHERE module=? AND name=?",
                (row.get("module"), row.get("name")),
            ).fetchone()
            if clash:
                raise ValidationError(
                    "The operation cannot be completed: duplicate key value violates unique "
                    'constraint "ir_model_data_module_name_uniq_index"\nDETAIL:  Key (module, '
                    f"name)=({row.get('module')}, {row.get('name')}) already exists.\n"
                )

    def lookup(self, model: Model, xmlid: str) -> tuple[str, int] | None:
        module, _, name = xmlid.partition(".")
        if not name:
            module, name = "__import__", module
        row = model.conn.execute(
            "SELECT model, res_id FROM ir_model_data WHERE module=? AND name=?", (module, name)
        ).fetchone()
        return (row[0], row[1]) if row else None

    @rpc(model_level=True)
    def xmlid_to_res_model_res_id(
        self, model: Model, ids: list[int], xmlid: str, raise_if_not_found: bool = False
    ) -> list[Any]:
        found = self.lookup(model, xmlid)
        if found is None:
            if raise_if_not_found:
                raise InvalidValue(f"External ID not found in the system: {xmlid}")
            return [False, False]
        return list(found)

    @rpc(model_level=True)
    def xmlid_to_res_id(
        self, model: Model, ids: list[int], xmlid: str, raise_if_not_found: bool = False
    ) -> Any:
        return self.xmlid_to_res_model_res_id(model, ids, xmlid, raise_if_not_found)[1]

    @rpc(model_level=True)
    def check_object_reference(
        self,
        model: Model,
        ids: list[int],
        module: str,
        name: str,
        raise_on_access_error: bool = False,
    ) -> list[Any]:
        return self.xmlid_to_res_model_res_id(model, ids, f"{module}.{name}", True)


@register
class ApiKeyDescription(Behaviour):
    model = "res.users.apikeys.description"

    @rpc()
    def make_key(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> Any:
        if not model.env.context.get("__http_session__"):
            raise UserError("This method can only be accessed over HTTP")
        from .auth import issue_api_key

        row = model.raw_rows(ids, ["name"])[ids[0]]
        key = issue_api_key(model.env, model.env.uid, row["name"] or "")
        return {
            "type": "ir.actions.act_window",
            "res_model": "res.users.apikeys.show",
            "name": "API Key Ready",
            "views": [[False, "form"]],
            "target": "new",
            "context": {"default_key": key},
        }


# ------------------------------------------------------------------------------------ units
@register
class UnitOfMeasure(Behaviour):
    """uom.uom: ``factor`` (units per reference unit of the category), ``factor_inv`` computed
    (or given instead of ``factor``), rounding 0.01 unless set; the SQL constraints of uom."""

    model = "uom.uom"
    fixed_defaults: ClassVar[Vals] = {
        "rounding": 0.01,
        "factor": 1.0,
        "uom_type": "reference",
        "active": True,
    }

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        for vals in vals_list:
            self._factor_from_inverse(vals)
        return vals_list

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        self._factor_from_inverse(vals)

    @staticmethod
    def _factor_from_inverse(vals: Vals) -> None:
        if "factor_inv" in vals:
            inverse = vals.pop("factor_inv")
            vals["factor"] = (1.0 / inverse) if inverse else 0.0

    def compute_factor_inv(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {
            i: (1.0 / r["factor"]) if r["factor"] else 0.0
            for i, r in model.raw_rows(ids, ["factor"]).items()
        }

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        for row in rows:
            if not row.get("factor"):
                raise ValidationError("The conversion ratio for a unit of measure cannot be 0!")
            if (row.get("rounding") or 0.0) <= 0:
                raise ValidationError("The rounding precision must be strictly positive.")
            if row.get("uom_type") == "reference" and row.get("factor") != 1.0:
                raise ValidationError(
                    "The reference unit must have a conversion factor equal to 1."
                )


# --------------------------------------------------------------------------------- product
PRODUCT_SHARED = (
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
    "active",
    "default_code",
    "description_sale",
    "expense_policy",
    "project_id",
    "project_template_id",
    "company_id",
)


def _service_policy(invoice_policy: str | None, service_type: str | None) -> str | bool:
    if invoice_policy == "delivery":
        if service_type == "timesheet":
            return "delivered_timesheet"
        if service_type == "milestones":
            return "delivered_milestones"
        return "delivered_manual"
    return "ordered_prepaid"


@register
class ProductTemplate(Behaviour):
    model = "product.template"
    fixed_defaults: ClassVar[Vals] = {
        "type": "consu",
        "service_tracking": "no",
        "sale_line_warn": "no-message",
        "categ_id": 1,
        "uom_id": 1,
        "uom_po_id": 1,
        "invoice_policy": "order",
        "service_type": "manual",
        "list_price": 1.0,
        "sale_ok": True,
        "taxes_id": [1],
        "expense_policy": "no",
        "company_id": False,  # products are shared by every company unless told (recorded)
    }

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values["taxes_id"] = json.dumps([1])
        return values

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        for row in rows:
            row.setdefault("product_variant_ids", "[]")
            if row.get("uom_id") and not row.get("uom_po_id"):
                row["uom_po_id"] = row["uom_id"]

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        if model.env.context.get("__creating_variant__"):
            return
        variants = model.env["product.product"]
        rows = model.raw_rows(ids, [n for n in PRODUCT_SHARED if n in model.spec.fields])
        variant_vals = [
            {
                "product_tmpl_id": i,
                **{
                    k: v
                    for k, v in rows[i].items()
                    if k in variants.spec.fields
                    and k != "id"
                    and variants.spec.fields[k].has_column
                },
            }
            for i in ids
        ]
        variants.env.with_context(__from_template__=True)["product.product"].create(variant_vals)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        shared = {k: v for k, v in vals.items() if k in PRODUCT_SHARED}
        variants = model.env["product.product"]
        if shared:
            variant_ids = variants.search_ids([["product_tmpl_id", "in", ids]], active_test=False)
            columns, _ = variants.convert_for_write(
                {k: v for k, v in shared.items() if variants.spec.fields[k].has_column},
                creating=False,
            )
            variants.write_columns(variant_ids, columns)

    def compute_service_policy(self, model: Model, ids: list[int]) -> dict[int, Any]:
        rows = model.raw_rows(ids, ["invoice_policy", "service_type", "type"])
        return {
            i: _service_policy(r["invoice_policy"], r["service_type"])
            if r["type"] == "service"
            else False
            for i, r in rows.items()
        }

    def compute_product_variant_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        children = model.env["product.product"].children_of("product_tmpl_id", ids)
        return {i: children[i][0] for i in ids if children.get(i)}

    def compute_product_variant_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return model.env["product.product"].children_of("product_tmpl_id", ids)


@register
class Product(Behaviour):
    model = "product.product"
    fixed_defaults: ClassVar[Vals] = ProductTemplate.fixed_defaults

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        if model.env.context.get("__from_template__"):
            return vals_list
        templates = model.env.with_context(__creating_variant__=True)["product.template"]
        for vals in vals_list:
            if not vals.get("product_tmpl_id"):
                tmpl_vals = {
                    k: v for k, v in vals.items() if k in templates.spec.fields and k not in ("id",)
                }
                vals["product_tmpl_id"] = templates.create([tmpl_vals])[0]
                for key in list(vals):
                    field = model.spec.fields.get(key)
                    if field is not None and not field.has_column:
                        vals.pop(key)
        return vals_list

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values.pop("taxes_id", None)
        values.pop("list_price", None)
        return values

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        tmpl_ids = [r["product_tmpl_id"] for r in rows if r.get("product_tmpl_id")]
        templates = model.env["product.template"].raw_rows(
            tmpl_ids, [n for n in PRODUCT_SHARED if n in model.spec.fields]
        )
        for row in rows:
            for key, value in templates.get(row.get("product_tmpl_id") or 0, {}).items():
                if key != "id" and model.spec.fields[key].has_column:
                    row[key] = value
            row.setdefault("product_variant_ids", "[]")

    def _template_values(self, model: Model, ids: list[int], name: str) -> dict[int, Any]:
        rows = model.raw_rows(ids, ["product_tmpl_id"])
        tmpl = model.env["product.template"].values(
            [r["product_tmpl_id"] for r in rows.values()], [name]
        )
        by_tmpl = {t["id"]: t[name] for t in tmpl}
        return {i: by_tmpl.get(r["product_tmpl_id"]) for i, r in rows.items()}

    def compute_lst_price(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._template_values(model, ids, "list_price")

    compute_list_price = compute_lst_price

    def compute_taxes_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._template_values(model, ids, "taxes_id")

    def compute_service_policy(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._template_values(model, ids, "service_policy")

    def compute_product_variant_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: [i] for i in ids}


def product_facts(model: Model, product_ids: list[int]) -> dict[int, Vals]:
    """What sales and invoicing need to know about products, in one read."""
    if not product_ids:
        return {}
    products = model.env["product.product"]
    rows = products.values(
        list(set(product_ids)),
        [
            "name",
            "product_tmpl_id",
            "type",
            "service_tracking",
            "service_type",
            "invoice_policy",
            "uom_id",
        ],
    )
    tmpl = model.env["product.template"].values(
        list({r["product_tmpl_id"] for r in rows}), ["list_price", "taxes_id"]
    )
    by_tmpl = {t["id"]: t for t in tmpl}
    out = {}
    for row in rows:
        template = by_tmpl.get(row["product_tmpl_id"], {})
        out[row["id"]] = {
            **row,
            "list_price": template.get("list_price", 0.0),
            "taxes_id": template.get("taxes_id", []),
        }
    return out


@register
class Tax(Behaviour):
    model = "account.tax"

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        super().check_constraints(model, rows)
        self._check_group_country(model, rows)
        check_company(model, rows, ("tax_group_id",))

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if {"tax_group_id", "country_id"} & set(vals):
            self._check_group_country(model, model.values(ids, ["tax_group_id", "country_id"]))

    @staticmethod
    def _check_group_country(model: Model, rows: list[Vals]) -> None:
        """account.tax `_validate_tax_group_id`: the group's country is the tax's country."""
        groups = model.env["account.tax.group"]
        for row in rows:
            group, country = row.get("tax_group_id"), row.get("country_id")
            if not group or not country or "country_id" not in groups.spec.fields:
                continue
            found = groups.raw_rows([group], ["country_id"]).get(group, {})
            if found.get("country_id") and found["country_id"] != country:
                raise ValidationError(
                    "The tax group must have the same country_id as the tax using it."
                )


def tax_rate(model: Model, tax_ids: list[int]) -> float:
    if not tax_ids:
        return 0.0
    rows = model.env["account.tax"].raw_rows(list(tax_ids), ["amount", "amount_type"])
    return sum((r["amount"] or 0.0) for r in rows.values() if r["amount_type"] == "percent") / 100


def company_taxes(model: Model, tax_ids: list[int], company_id: int | None) -> list[int]:
    """account.tax `_filter_taxes_by_company`: of a product's taxes (shared by every company),
    those of the document's company, else of its nearest parent company that has some."""
    if not tax_ids or not company_id:
        return list(tax_ids)
    owners = {
        tid: r["company_id"]
        for tid, r in model.env["account.tax"].raw_rows(list(tax_ids), ["company_id"]).items()
    }
    companies = model.env["res.company"]
    company: int | None = company_id
    while company:
        found = [t for t in tax_ids if owners.get(t) == company]
        if found:
            return found
        company = companies.raw_rows([company], ["parent_id"]).get(company, {}).get("parent_id")
    return []


def money(value: float) -> float:
    return round(value + 0.0, 2)


# ------------------------------------------------------------------------------------ sales
@register
class SaleOrder(Behaviour):
    model = "sale.order"
    cascade: ClassVar[set[str]] = {"order_line"}

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values.update(
            {
                "state": "draft",
                "date_order": _now(),
                "invoice_status": "no",
                "currency_id": 1,
                "pricelist_id": False,
                "picking_policy": "direct",
            }
        )
        values.pop("name", None)
        return {k: v for k, v in values.items() if k in model.spec.fields}

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        for row in rows:
            if row.get("partner_id"):
                row.setdefault("partner_invoice_id", row["partner_id"])
                row.setdefault("partner_shipping_id", row["partner_id"])
                if row.get("partner_invoice_id") is None:
                    row["partner_invoice_id"] = row["partner_id"]
                if row.get("partner_shipping_id") is None:
                    row["partner_shipping_id"] = row["partner_id"]
            if not row.get("name") or row.get("name") == "New":
                row["name"] = f"S{model.env.db.next_sequence('sale.order'):05d}"
        # With no pricelist (none is recorded here) an order is in its company's currency.
        companies = {row.get("company_id") or 1 for row in rows}
        currency = {
            company_id: values.get("currency_id") or 1
            for company_id, values in model.env["res.company"]
            .raw_rows(sorted(companies), ["currency_id"])
            .items()
        }
        # With one, the pricelist's currency (sale.order ``_compute_currency_id``).
        lists = model.env["product.pricelist"].raw_rows(
            sorted({row["pricelist_id"] for row in rows if row.get("pricelist_id")}),
            ["currency_id"],
        )
        for row in rows:
            listed = lists.get(row.get("pricelist_id") or 0, {}).get("currency_id")
            row["currency_id"] = listed or currency.get(row.get("company_id") or 1, 1)
        super().complete_rows(model, rows)

    def before_unlink(self, model: Model, ids: list[int]) -> None:
        rows = model.raw_rows(ids, ["state"])
        if any(r["state"] == "sale" for r in rows.values()):
            raise UserError(
                "You can not delete a sent quotation or a confirmed sales order. "
                "You must first cancel it."
            )

    def recompute(self, model: Model, ids: list[int]) -> None:
        lines = model.env["sale.order.line"]
        children = lines.children_of("order_id", ids)
        all_lines = [i for ls in children.values() for i in ls]
        rows = lines.raw_rows(
            all_lines,
            ["price_subtotal", "price_tax", "invoice_status", "display_type", "is_downpayment"],
        )
        for order_id in ids:
            mine = [rows[i] for i in children.get(order_id, []) if i in rows]
            untaxed = sum(r["price_subtotal"] or 0 for r in mine)
            tax = sum(r["price_tax"] or 0 for r in mine)
            statuses = {
                r["invoice_status"]
                for r in mine
                if not r["display_type"] and not r["is_downpayment"]
            }
            if "to invoice" in statuses:
                status = "to invoice"
            elif statuses and statuses <= {"invoiced"}:
                status = "invoiced"
            elif statuses and statuses <= {"invoiced", "upselling"}:
                status = "upselling"
            else:
                status = "no"
            model.write_columns(
                [order_id],
                {
                    "amount_untaxed": money(untaxed),
                    "amount_tax": money(tax),
                    "amount_total": money(untaxed + tax),
                    "invoice_status": status,
                },
            )

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if "order_line" in vals or "state" in vals:
            SaleOrderLine().recompute(
                model.env["sale.order.line"],
                [
                    i
                    for ls in model.env["sale.order.line"].children_of("order_id", ids).values()
                    for i in ls
                ],
            )
            self.recompute(model, ids)

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self.recompute(model, ids)

    def _invoices(self, model: Model, ids: list[int]) -> dict[int, list[int]]:
        """`order_line.invoice_lines.move_id`: in the order of the lines, then of their items."""
        lines = model.env["sale.order.line"].children_of("order_id", ids)
        sequences = model.env["sale.order.line"].raw_rows(
            [i for ls in lines.values() for i in ls], ["sequence"]
        )
        lines = {
            o: sorted(ls, key=lambda i: (sequences[i]["sequence"] or 0, i))
            for o, ls in lines.items()
        }
        line_to_order = {line: order for order, ls in lines.items() for line in ls}
        moves: dict[int, list[int]] = defaultdict(list)
        invoice_lines = model.env["account.move.line"]
        by_line = invoice_lines.children_of("sale_line_ids", list(line_to_order))
        move_rows = invoice_lines.raw_rows([i for ls in by_line.values() for i in ls], ["move_id"])
        for order, order_lines in lines.items():
            for line_id in order_lines:
                for aml in by_line.get(line_id, []):
                    move = move_rows[aml]["move_id"]
                    if move not in moves[order]:
                        moves[order].append(move)
        return {i: moves.get(i, []) for i in ids}

    def compute_invoice_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._invoices(model, ids)

    def compute_invoice_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: len(v) for i, v in self._invoices(model, ids).items()}

    def compute_amount_invoiced(self, model: Model, ids: list[int]) -> dict[int, Any]:
        out = {}
        moves = model.env["account.move"]
        for order_id, move_ids in self._invoices(model, ids).items():
            rows = moves.raw_rows(move_ids, ["state", "amount_total", "move_type"])
            out[order_id] = money(
                sum(
                    (r["amount_total"] or 0) * (-1 if r["move_type"] == "out_refund" else 1)
                    for r in rows.values()
                    if r["state"] == "posted"
                )
            )
        return out

    def compute_amount_to_invoice(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """sale.order.line `_compute_amount_to_invoice` summed: (ordered or delivered quantity -
        the quantity on posted invoices) x the unit price with taxes; lines of no quantity
        (sections, down payments) count 0."""
        lines = model.env["sale.order.line"]
        children = lines.children_of("order_id", ids)
        all_lines = [i for ls in children.values() for i in ls]
        rows = {
            r["id"]: r
            for r in lines.values(
                all_lines, ["product_uom_qty", "qty_delivered", "price_total", "product_id"]
            )
        }
        facts = product_facts(lines, [r["product_id"] for r in rows.values() if r["product_id"]])
        posted = SaleOrderLine().posted_quantities(lines, all_lines)
        out = {}
        for order_id in ids:
            total = 0.0
            for line_id in children.get(order_id, []):
                row = rows[line_id]
                if not row["product_uom_qty"]:
                    continue
                policy = facts.get(row["product_id"] or 0, {}).get("invoice_policy")
                quantity = row["qty_delivered"] if policy == "delivery" else row["product_uom_qty"]
                total += (
                    row["price_total"]
                    / row["product_uom_qty"]
                    * (quantity - posted.get(line_id, 0.0))
                )
            out[order_id] = money(total)
        return out

    def compute_project_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return model.env["project.project"].children_of("sale_order_id", ids)

    def compute_tasks_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return model.env["project.task"].children_of("sale_order_id", ids)

    def compute_tasks_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: len(v) for i, v in self.compute_tasks_ids(model, ids).items()}

    def compute_project_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: len(v) for i, v in self.compute_project_ids(model, ids).items()}

    @rpc()
    def action_confirm(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> bool:
        model.ensure_exist(ids)
        rows = model.raw_rows(ids, ["state", "name", "partner_id"])
        if any(r["state"] not in ("draft", "sent") for r in rows.values()):
            raise UserError("Some orders are not in a state requiring confirmation.")
        model.write_columns(ids, {"state": "sale", "date_order": _now()})
        for order_id in ids:
            ServiceGeneration(model, order_id, rows[order_id]).run()
        lines = model.env["sale.order.line"]
        SaleOrderLine().recompute(
            lines, [i for ls in lines.children_of("order_id", ids).values() for i in ls]
        )
        self.recompute(model, ids)
        return True

    @rpc()
    def action_cancel(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> bool:
        model.ensure_exist(ids)
        model.write_columns(ids, {"state": "cancel"})
        self.recompute(model, ids)
        return True

    @rpc()
    def action_draft(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> bool:
        model.ensure_exist(ids)
        model.write_columns(ids, {"state": "draft"})
        return True

    @rpc()
    def action_quotation_sent(self, model: Model, ids: list[int], *a: Any, **k: Any) -> bool:
        model.write_columns(ids, {"state": "sent"})
        return True


class ServiceGeneration:
    """What confirming an order creates for its service lines (sale_project's rules)."""

    def __init__(self, orders: Model, order_id: int, order: Vals) -> None:
        self.env = orders.env
        self.order_id = order_id
        self.order = order
        self.project_id: int | None = None

    def run(self) -> None:
        lines = self.env["sale.order.line"]
        line_ids = lines.children_of("order_id", [self.order_id]).get(self.order_id, [])
        rows = lines.values(
            line_ids,
            [
                "product_id",
                "product_uom_qty",
                "name",
                "project_id",
                "task_id",
                "display_type",
                "product_uom",
            ],
        )
        facts = product_facts(lines, [r["product_id"] for r in rows if r["product_id"]])
        for row in rows:
            product = facts.get(row["product_id"] or 0)
            if not product or product["type"] != "service" or row["display_type"]:
                continue
            tracking = product["service_tracking"]
            if tracking == "no":
                continue
            if tracking in ("project_only", "task_in_project"):
                project = self._project(row, product)
                lines.write_columns([row["id"]], {"project_id": project})
            task = None
            if tracking == "task_in_project":
                task = self._task(row, product, self.project_id)
                lines.write_columns([row["id"]], {"task_id": task})
            if product["service_type"] == "milestones" and self.project_id:
                self._milestone(row, self.project_id, task)
            elif tracking == "task_global_project":
                project = product.get("project_id") or self._project(row, product)
                task = self._task(row, product, m2o_id(project))
                lines.write_columns([row["id"]], {"task_id": task})
        if self.project_id:
            self.env["sale.order"].write_columns([self.order_id], {"project_id": self.project_id})

    def _project(self, line: Vals, product: Vals) -> int:
        if self.project_id:
            return self.project_id
        name = f"{self.order['name']} - {product['name']}"
        partner = self.order["partner_id"]
        # sale_project: the project and its analytic account belong to the order's company.
        [order] = self.env["sale.order"].values([self.order_id], ["company_id"])
        company = m2o_id(order["company_id"])
        account = self.env["account.analytic.account"].create(
            [{"name": name, "partner_id": partner, "plan_id": 1, "company_id": company}]
        )[0]
        self.project_id = self.env["project.project"].create(
            [
                {
                    "name": name,
                    "partner_id": partner,
                    "sale_line_id": line["id"],
                    "sale_order_id": self.order_id,
                    "account_id": account,
                    "allow_timesheets": True,
                    "allow_billable": True,
                    "billing_type": "not_billable",
                    "company_id": company,
                }
            ]
        )[0]
        return self.project_id

    def _milestone(self, line: Vals, project: int, task: int | None) -> None:
        """sale_project ``_handle_milestones``: the project's milestones without a line take it
        (sharing its quantity), else one milestone billing 100 % of the line, named after it."""
        milestones = self.env["project.milestone"]
        free = [m["id"] for m in milestones.values(
            milestones.search_ids([["project_id", "=", project], ["sale_line_id", "=", False]]),
            ["id"])]  # fmt: skip
        if free:
            milestones.write(
                free, {"sale_line_id": line["id"], "quantity_percentage": 1 / len(free)}
            )
            return
        [created] = milestones.create(
            [
                {
                    "name": line["name"],
                    "project_id": project,
                    "sale_line_id": line["id"],
                    "quantity_percentage": 1.0,
                }
            ]
        )
        if task:
            self.env["project.task"].write_columns([task], {"milestone_id": created})

    def _task(self, line: Vals, product: Vals, project: int | None) -> int:
        hours = self._allocated_hours(line, product)
        return self.env["project.task"].create(
            [
                {
                    "name": product["name"],
                    "project_id": project,
                    "sale_line_id": line["id"],
                    "partner_id": self.order["partner_id"],
                    "allocated_hours": hours,
                }
            ]
        )[0]

    def _allocated_hours(self, line: Vals, product: Vals) -> float:
        """sale_timesheet `_convert_qty_company_hours`: the ordered quantity in the company's
        project time unit (Hours): 10 Days -> 80 h; sold in Units, counted as hours."""
        uom_id = line.get("product_uom") or product["uom_id"]
        if uom_id == UNITS_UOM:
            uom_id = HOURS_UOM
        rows = self.env["uom.uom"].raw_rows(
            sorted({uom_id, HOURS_UOM}), ["category_id", "factor", "rounding"]
        )
        source, hours = rows.get(uom_id), rows.get(HOURS_UOM)
        if source is None or hours is None or source["category_id"] != hours["category_id"]:
            return 0.0
        if uom_id == HOURS_UOM:
            return line["product_uom_qty"] or 0.0
        return units.compute_quantity(
            line["product_uom_qty"] or 0.0, {"id": uom_id, **source}, {"id": HOURS_UOM, **hours}
        )


@register
class SaleOrderLine(Behaviour):
    model = "sale.order.line"
    fixed_defaults: ClassVar[Vals] = {"customer_lead": 0.0, "product_uom_qty": 1.0}

    def compute_reached_milestones_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        milestones = model.env["project.milestone"]
        rows = milestones.values(
            milestones.search_ids([["sale_line_id", "in", ids], ["is_reached", "=", True]]),
            ["sale_line_id"],
        )
        out: dict[int, Any] = {i: [] for i in ids}
        for row in rows:
            out[m2o_id(row["sale_line_id"]) or 0].append(row["id"])
        return out

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        facts = product_facts(model, [r["product_id"] for r in rows if r.get("product_id")])
        order_companies = {
            oid: r["company_id"]
            for oid, r in model.env["sale.order"]
            .raw_rows(list({r["order_id"] for r in rows if r.get("order_id")}), ["company_id"])
            .items()
        }
        for row in rows:
            product = facts.get(row.get("product_id") or 0)
            if product:
                row.setdefault("name", product["name"])
                row.setdefault("price_unit", product["list_price"])
                if "tax_id" not in row:  # `_compute_tax_id`: the order's company's taxes only
                    row["tax_id"] = json.dumps(
                        company_taxes(
                            model, product["taxes_id"], order_companies.get(row.get("order_id"))
                        )
                    )
                row.setdefault("product_uom", product["uom_id"])
                method = "manual"
                if product["type"] == "service" and product["invoice_policy"] == "delivery":
                    method = {"timesheet": "timesheet", "milestones": "milestones"}.get(
                        product["service_type"], "manual"
                    )
                row["qty_delivered_method"] = method
            if row.get("is_expense"):
                # sale_expense: delivered by the posted expense's analytic line (its quantity).
                row["qty_delivered_method"] = "analytic"
                row["qty_delivered"] = row.get("product_uom_qty") or 1.0
            row.setdefault("name", row.get("name") or "")
            row.setdefault("price_unit", 0.0)
            if row.get("price_unit") is None:
                row["price_unit"] = 0.0

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        for row in rows:
            if (
                not row.get("product_id")
                and not row.get("display_type")
                and not row.get("is_downpayment")
            ):
                raise ValidationError(
                    "The operation cannot be completed: Missing required fields on accountable "
                    "sale order line."
                )

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self.recompute(model, ids)
        self._orders(model, ids)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        self.recompute(model, ids)
        self._orders(model, ids)

    def _orders(self, model: Model, ids: list[int]) -> None:
        orders = {r["order_id"] for r in model.raw_rows(ids, ["order_id"]).values()}
        SaleOrder().recompute(model.env["sale.order"], [o for o in orders if o])

    def recompute(self, model: Model, ids: list[int]) -> None:
        """Delivered, invoiced, to-invoice quantities, amounts and invoice status of lines."""
        if not ids:
            return
        rows = model.values(
            ids,
            [
                "order_id",
                "product_id",
                "product_uom_qty",
                "price_unit",
                "discount",
                "tax_id",
                "qty_delivered_method",
                "qty_delivered",
                "is_downpayment",
                "display_type",
            ],
        )
        orders = model.env["sale.order"].raw_rows(
            list({r["order_id"] for r in rows if r["order_id"]}), ["state"]
        )
        facts = product_facts(model, [r["product_id"] for r in rows if r["product_id"]])
        delivered = self._delivered(model, rows)
        invoiced = self._invoiced(model, ids)
        posted_untaxed = self._untaxed_invoiced(model, ids)
        for row in rows:
            qty = row["product_uom_qty"] or 0.0
            subtotal = qty * (row["price_unit"] or 0) * (1 - (row["discount"] or 0) / 100)
            tax = subtotal * tax_rate(model, row["tax_id"])
            done = delivered.get(row["id"], row["qty_delivered"] or 0.0)
            billed = invoiced.get(row["id"], 0.0)
            product = facts.get(row["product_id"] or 0, {})
            state = orders.get(row["order_id"], {}).get("state")
            if state != "sale" or row["display_type"]:
                to_invoice = 0.0
            elif product.get("invoice_policy") == "order":
                to_invoice = qty - billed
            else:  # delivery, and down payments (no product): delivered 0 - invoiced
                to_invoice = done - billed
            untaxed_invoiced = posted_untaxed.get(row["id"], 0.0)
            if state != "sale":
                status = "no"
            elif row["is_downpayment"] and abs(untaxed_invoiced) < 0.005:
                # untaxed_amount_to_invoice is 0 - what posted invoices took
                status = "invoiced"
            elif abs(to_invoice) > 1e-6:
                status = "to invoice"
            elif billed >= qty > 0:
                status = "invoiced"
            else:
                status = "no"
            model.write_columns(
                [row["id"]],
                {
                    "price_subtotal": money(subtotal),
                    "price_tax": money(tax),
                    "price_total": money(subtotal + tax),
                    "qty_delivered": done,
                    "qty_invoiced": billed,
                    "qty_to_invoice": units.quantity_field(to_invoice),
                    "invoice_status": status,
                    "untaxed_amount_invoiced": money(
                        untaxed_invoiced
                        if row["is_downpayment"]
                        else billed * (row["price_unit"] or 0)
                    ),
                },
            )

    def _delivered(self, model: Model, rows: list[Vals]) -> dict[int, float]:
        out: dict[int, float] = {}
        timesheet = [r["id"] for r in rows if r["qty_delivered_method"] == "timesheet"]
        if timesheet:
            # _get_delivered_quantity_by_analytic: summed per (timesheet unit, line), converted
            # into the unit the line is sold in (8 h -> 1 Days), rounded as Odoo rounds.
            marks = ",".join("?" * len(timesheet))
            sums = model.conn.execute(
                f"SELECT so_line, product_uom_id, SUM(unit_amount) FROM account_analytic_line "
                f"WHERE so_line IN ({marks}) AND project_id IS NOT NULL "
                f"GROUP BY so_line, product_uom_id",
                timesheet,
            ).fetchall()
            out.update(timesheet_quantities(model.env, sums))
            for line in timesheet:
                out.setdefault(line, 0.0)
        milestone_rows = [r for r in rows if r["qty_delivered_method"] == "milestones"]
        for row in milestone_rows:
            reached = model.conn.execute(
                "SELECT COALESCE(SUM(quantity_percentage), 0) FROM project_milestone "
                "WHERE sale_line_id=? AND is_reached=1",
                (row["id"],),
            ).fetchone()[0]
            out[row["id"]] = round((reached or 0.0) * (row["product_uom_qty"] or 0.0), 6)
        return out

    def _invoiced(self, model: Model, ids: list[int]) -> dict[int, float]:
        invoice_lines = model.env["account.move.line"]
        by_line = invoice_lines.children_of("sale_line_ids", ids)
        aml_ids = [i for ls in by_line.values() for i in ls]
        amls = invoice_lines.raw_rows(aml_ids, ["quantity", "move_id"])
        moves = model.env["account.move"].raw_rows(
            list({a["move_id"] for a in amls.values()}), ["state", "move_type"]
        )
        out: dict[int, float] = {}
        for line_id, aml_list in by_line.items():
            total = 0.0
            for aml in aml_list:
                move = moves.get(amls[aml]["move_id"], {})
                if move.get("state") == "cancel":
                    continue
                sign = -1 if move.get("move_type") == "out_refund" else 1
                total += sign * (amls[aml]["quantity"] or 0.0)
            out[line_id] = total
        return out

    def posted_quantities(self, model: Model, ids: list[int]) -> dict[int, float]:
        """`_compute_qty_invoiced_posted`: quantities on posted invoices, refunds negative."""
        amls = model.env["account.move.line"]
        by_line = amls.children_of("sale_line_ids", ids)
        rows = amls.raw_rows([i for ls in by_line.values() for i in ls], ["quantity", "move_id"])
        moves = model.env["account.move"].raw_rows(
            list({r["move_id"] for r in rows.values()}), ["state", "move_type"]
        )
        out: dict[int, float] = {}
        for line_id, aml_ids in by_line.items():
            out[line_id] = sum(
                (-1 if moves[rows[a]["move_id"]]["move_type"] == "out_refund" else 1)
                * (rows[a]["quantity"] or 0.0)
                for a in aml_ids
                if moves.get(rows[a]["move_id"], {}).get("state") == "posted"
            )
        return out

    def _untaxed_invoiced(self, model: Model, ids: list[int]) -> dict[int, float]:
        """`_compute_untaxed_amount_invoiced`: posted invoice lines' subtotals, refunds negative."""
        amls = model.env["account.move.line"]
        by_line = amls.children_of("sale_line_ids", ids)
        rows = amls.raw_rows(
            [i for ls in by_line.values() for i in ls], ["price_subtotal", "move_id"]
        )
        moves = model.env["account.move"].raw_rows(
            list({r["move_id"] for r in rows.values()}), ["state", "move_type"]
        )
        out: dict[int, float] = {}
        for line_id, aml_ids in by_line.items():
            total = 0.0
            for aml in aml_ids:
                move = moves.get(rows[aml]["move_id"], {})
                if move.get("state") == "posted":
                    sign = -1 if move.get("move_type") == "out_refund" else 1
                    total += sign * (rows[aml]["price_subtotal"] or 0.0)
            out[line_id] = money(total)
        return out

    def refresh_down_payments(self, model: Model, move_ids: list[int]) -> None:
        """sale's `action_post`/`button_draft`/`button_cancel`: the down payment lines of these
        invoices get their name from their invoices' state, and once posted their price and
        taxes from their posted invoices (the order's other invoices left out)."""
        amls = model.env["account.move.line"]
        mine = amls.search_ids([["move_id", "in", move_ids]])
        sale_lines = sorted(
            {s for r in amls.values(mine, ["sale_line_ids"]) for s in r["sale_line_ids"]}
        )
        rows = [
            r
            for r in model.values(
                sale_lines,
                ["is_downpayment", "display_type", "order_id", "create_date", "price_unit"],
            )
            if r["is_downpayment"] and not r["display_type"]
        ]
        moves = model.env["account.move"]
        for row in rows:
            invoiced = amls.values(
                amls.children_of("sale_line_ids", [row["id"]]).get(row["id"], []),
                ["move_id", "quantity", "price_unit", "tax_ids"],
            )
            states = moves.raw_rows(
                sorted({a["move_id"] for a in invoiced}),
                ["state", "move_type", "name", "invoice_date"],
            )
            parents = [states[a["move_id"]] for a in invoiced]
            if all(p["state"] == "draft" for p in parents):
                day = (row["create_date"] or _now())[:10]
                name = f"Down Payment: {day[5:7]}/{day[8:10]}/{day[:4]} (Draft)"
            elif all(p["state"] == "cancel" for p in parents):
                name = "Down Payment (Cancelled)"
            else:
                name = "Down Payment"
                origin = {
                    a["move_id"]
                    for a in invoiced
                    if a["quantity"] >= 0 and states[a["move_id"]]["move_type"] == "out_invoice"
                }
                if len(origin) == 1:
                    invoice = states[origin.pop()]
                    day = invoice["invoice_date"]
                    if invoice["state"] == "posted" and day:
                        name = (
                            f"Down Payment (ref: {invoice['name']} on "
                            f"{day[5:7]}/{day[8:10]}/{day[:4]})"
                        )
            columns: Vals = {"name": name}
            if any(states[m]["state"] == "posted" for m in move_ids if m in states):
                others = model.search_ids(
                    [["order_id", "=", row["order_id"]], ["id", "!=", row["id"]]]
                )
                real = {
                    a["move_id"]
                    for a in amls.values(
                        [
                            i
                            for ls in amls.children_of("sale_line_ids", others).values()
                            for i in ls
                        ],
                        ["move_id"],
                    )
                }
                columns["price_unit"] = money(
                    sum(
                        a["price_unit"]
                        * (1 if states[a["move_id"]]["move_type"] == "out_invoice" else -1)
                        for a in invoiced
                        if states[a["move_id"]]["state"] == "posted" and a["move_id"] not in real
                    )
                )
                columns["tax_id"] = json.dumps(sorted({t for a in invoiced for t in a["tax_ids"]}))
            model.write_columns([row["id"]], columns)
        if rows:
            self.recompute(model, [r["id"] for r in rows])
            self._orders(model, [r["id"] for r in rows])

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.values(ids, ["order_id", "name"])
        orders = model.env["sale.order"].values(
            list({r["order_id"] for r in rows if r["order_id"]}), ["name", "partner_id"]
        )
        by_order = {o["id"]: o for o in orders}
        partners = model.env["res.partner"].display_names(
            [o["partner_id"] for o in orders if o["partner_id"]]
        )
        out = {}
        for row in rows:
            order = by_order.get(row["order_id"], {})
            first = (row["name"] or "").split("\n")[0]
            out[row["id"]] = (
                f"{order.get('name', '')} - {first} ({partners.get(order.get('partner_id'), '')})"
            )
        return out


# ---------------------------------------------------------------------------------- project
@register
class Project(Behaviour):
    model = "project.project"
    fixed_defaults: ClassVar[Vals] = {
        "allow_timesheets": True,
        "privacy_visibility": "portal",
        "last_update_status": "to_define",
        "rating_status": "stage",
        "rating_status_period": "monthly",
        "alias_contact": "everyone",
        "billing_type": "not_billable",
        "alias_defaults": "{}",
    }

    def write_nonstored(
        self,
        model: Model,
        field: FieldSpec,
        value: Any,
        columns: Vals,
        record_id: int | None = None,
    ) -> None:
        return None

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        for row in rows:
            if not row.get("account_id") and row.get("allow_timesheets", True) and row.get("name"):
                row["account_id"] = model.env["account.analytic.account"].create(
                    [{"name": row["name"], "partner_id": row.get("partner_id"), "plan_id": 1}]
                )[0]

    def compute_sale_order_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        rows = model.raw_rows(ids, ["sale_order_id"])
        return {i: r["sale_order_id"] for i, r in rows.items() if r["sale_order_id"]}

    def compute_task_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {
            i: len(v) for i, v in model.env["project.task"].children_of("project_id", ids).items()
        }


@register
class Task(Behaviour):
    model = "project.task"
    fixed_defaults: ClassVar[Vals] = {"state": "01_in_progress"}

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        projects = model.env["project.project"].raw_rows(
            list({r["project_id"] for r in rows if r.get("project_id")}),
            ["sale_line_id", "partner_id"],
        )
        line_ids = set()
        for row in rows:
            project = projects.get(row.get("project_id") or 0, {})
            if not row.get("sale_line_id") and project.get("sale_line_id"):
                row["sale_line_id"] = project["sale_line_id"]
            if not row.get("partner_id") and project.get("partner_id"):
                row["partner_id"] = project["partner_id"]
            if row.get("sale_line_id"):
                line_ids.add(row["sale_line_id"])
        orders = model.env["sale.order.line"].raw_rows(list(line_ids), ["order_id"])
        for row in rows:
            if row.get("sale_line_id"):
                row["sale_order_id"] = orders.get(row["sale_line_id"], {}).get("order_id")

    def compute_effective_hours(self, model: Model, ids: list[int]) -> dict[int, Any]:
        marks = ",".join("?" * len(ids))
        return {
            t: float(h or 0)
            for t, h in model.conn.execute(
                f"SELECT task_id, SUM(unit_amount) FROM account_analytic_line WHERE task_id IN "
                f"({marks}) GROUP BY task_id",
                ids,
            )
        }


@register
class Milestone(Behaviour):
    model = "project.milestone"

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        for row in rows:
            if row.get("quantity_percentage") is None:
                row["quantity_percentage"] = 1.0 if row.get("sale_line_id") else 0.0
            if row.get("is_reached"):
                row["reached_date"] = _today()

    def write_nonstored(
        self,
        model: Model,
        field: FieldSpec,
        value: Any,
        columns: Vals,
        record_id: int | None = None,
    ) -> None:
        if field.name == "product_uom_qty":
            columns["__milestone_qty"] = value

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        # Real Odoo 18 ignores product_uom_qty on create over RPC: the milestone bills 100 %
        # (milestone_billing.json #15-16).
        for vals in vals_list:
            vals.pop("product_uom_qty", None)
        return vals_list

    def convert_percentage(self, model: Model, vals: Vals) -> None:
        return None

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self._lines(model, ids)

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if "is_reached" in vals:
            vals["reached_date"] = _today() if vals["is_reached"] else False

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        self._lines(model, ids)

    def _lines(self, model: Model, ids: list[int]) -> None:
        rows = model.raw_rows(ids, ["sale_line_id"])
        line_ids = [r["sale_line_id"] for r in rows.values() if r["sale_line_id"]]
        if line_ids:
            lines = model.env["sale.order.line"]
            SaleOrderLine().recompute(lines, line_ids)
            SaleOrderLine()._orders(lines, line_ids)

    def compute_product_uom_qty(self, model: Model, ids: list[int]) -> dict[int, Any]:
        rows = model.values(ids, ["sale_line_id", "quantity_percentage"])
        lines = model.env["sale.order.line"].raw_rows(
            [r["sale_line_id"] for r in rows if r["sale_line_id"]], ["product_uom_qty"]
        )
        return {
            r["id"]: (r["quantity_percentage"] or 0)
            * lines.get(r["sale_line_id"] or 0, {}).get("product_uom_qty", 0.0)
            for r in rows
        }

    def compute_allow_billable(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: True for i in ids}

    @rpc()
    def toggle_is_reached(self, model: Model, ids: list[int], is_reached: bool, **_: Any) -> Vals:
        """The milestone widget's toggle: write, then the widget's data (``_get_data``)."""
        [milestone_id] = ids
        model.write([milestone_id], {"is_reached": bool(is_reached)})
        [row] = model.read_rows([milestone_id], [
            "name", "deadline", "is_reached", "reached_date", "allow_billable",
            "quantity_percentage", "sale_line_id", "task_ids"])  # fmt: skip
        today = _today()
        deadline = row["deadline"] or None
        tasks = model.env["project.task"].values(row["task_ids"] or [], ["state"])
        done = bool(tasks) and all(t["state"] in ("1_done", "1_canceled") for t in tasks)
        return {
            "id": milestone_id, "name": row["name"], "deadline": row["deadline"],
            "is_reached": row["is_reached"], "reached_date": row["reached_date"],
            "is_deadline_exceeded": bool(deadline and not row["is_reached"] and deadline < today),
            "is_deadline_future": bool(deadline and deadline > today),
            "can_be_marked_as_done": not row["is_reached"] and done,
            "allow_billable": row["allow_billable"],
            "quantity_percentage": row["quantity_percentage"],
            "sale_line_display_name": row["sale_line_id"][1] if row["sale_line_id"] else False,
        }  # fmt: skip


@register
class AnalyticAccount(Behaviour):
    model = "account.analytic.account"
    fixed_defaults: ClassVar[Vals] = {"plan_id": 1}

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.values(ids, ["name", "partner_id"])
        partners = model.env["res.partner"].display_names(
            [r["partner_id"] for r in rows if r["partner_id"]]
        )
        return {
            r["id"]: (
                f"{r['name']} - {partners[r['partner_id']]}"
                if r["partner_id"] in partners
                else r["name"] or ""
            )
            for r in rows
        }


@register
class Timesheet(Behaviour):
    """account.analytic.line: a timesheet when it has a project (hr_timesheet, sale_timesheet)."""

    model = "account.analytic.line"

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        env = model.env
        tasks = env["project.task"].raw_rows(
            list({r["task_id"] for r in rows if r.get("task_id")}), ["project_id", "sale_line_id"]
        )
        for row in rows:
            if row.get("task_id") and not row.get("project_id"):
                row["project_id"] = tasks.get(row["task_id"], {}).get("project_id")
        projects = env["project.project"].raw_rows(
            list({r["project_id"] for r in rows if r.get("project_id")}),
            ["account_id", "sale_line_id", "allow_billable", "partner_id"],
        )
        employees = env["hr.employee"].raw_rows(
            list({r["employee_id"] for r in rows if r.get("employee_id")}),
            ["user_id", "hourly_cost"],
        )
        own_employee = None
        if any(r.get("project_id") and not r.get("employee_id") for r in rows):
            found = env["hr.employee"].search_ids([["user_id", "=", env.uid]], limit=1)
            own_employee = found[0] if found else None
            if own_employee:
                employees.update(
                    env["hr.employee"].raw_rows([own_employee], ["user_id", "hourly_cost"])
                )
        line_orders = env["sale.order.line"].raw_rows(
            list(
                {t["sale_line_id"] for t in tasks.values() if t["sale_line_id"]}
                | {p["sale_line_id"] for p in projects.values() if p["sale_line_id"]}
            ),
            ["order_id"],
        )
        for row in rows:
            project = projects.get(row.get("project_id") or 0)
            if project is None:
                continue
            if not row.get("employee_id"):
                if own_employee is None:
                    raise ValidationError(
                        "The operation cannot be completed: Timesheets must be created with an "
                        "active employee."
                    )
                row["employee_id"] = own_employee
            employee = employees.get(row["employee_id"], {})
            row.setdefault("user_id", employee.get("user_id") or env.uid)
            if not row.get("account_id"):
                row["account_id"] = project["account_id"]
            row.setdefault("product_uom_id", HOURS_UOM)
            row.setdefault("partner_id", project["partner_id"])
            cost = employee.get("hourly_cost") or 0.0
            if row.get("amount") is None or "amount" not in row:
                row["amount"] = -(row.get("unit_amount") or 0.0) * cost
            task = tasks.get(row.get("task_id") or 0, {})
            so_line = row.get("so_line") or task.get("sale_line_id") or project["sale_line_id"]
            if so_line and project["allow_billable"]:
                row["so_line"] = so_line
                row["order_id"] = line_orders.get(so_line, {}).get("order_id")
                row["timesheet_invoice_type"] = "billable_time"
            else:
                row["timesheet_invoice_type"] = "non_billable"
        for row in rows:
            row.setdefault("amount", 0.0)
            if row.get("amount") is None:
                row["amount"] = 0.0

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self._delivered(model, ids)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        self._delivered(model, ids, extra=self._pending)

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if any(name in vals for name in INVOICED_TIMESHEET_FIELDS) and self._invoiced(
            model, ids, ("draft", "posted"), delivery_only=True
        ):
            raise UserError("You cannot modify timesheets that are already invoiced.")
        self._pending = self._lines(model, ids)

    def before_unlink(self, model: Model, ids: list[int]) -> None:
        if self._invoiced(model, ids, ("posted",)):
            raise UserError("You cannot remove a timesheet that has already been invoiced.")
        self._pending_unlink = self._lines(model, ids)

    def compute_allow_billable(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """Related `project_id.allow_billable`."""
        rows = model.raw_rows(ids, ["project_id"])
        projects = model.env["project.project"].raw_rows(
            list({r["project_id"] for r in rows.values() if r["project_id"]}), ["allow_billable"]
        )
        return {
            i: bool(projects.get(r["project_id"] or 0, {}).get("allow_billable"))
            for i, r in rows.items()
        }

    def compute_sale_order_state(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """Related `order_id.state`."""
        rows = model.raw_rows(ids, ["order_id"])
        orders = model.env["sale.order"].raw_rows(
            list({r["order_id"] for r in rows.values() if r["order_id"]}), ["state"]
        )
        return {
            i: orders.get(r["order_id"] or 0, {}).get("state") or False for i, r in rows.items()
        }

    def compute_readonly_timesheet(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """sale_timesheet `_is_readonly`: on an invoice that is not cancelled."""
        rows = model.raw_rows(ids, ["timesheet_invoice_id"])
        moves = model.env["account.move"].raw_rows(
            list({r["timesheet_invoice_id"] for r in rows.values() if r["timesheet_invoice_id"]}),
            ["state"],
        )
        return {
            i: bool(r["timesheet_invoice_id"])
            and moves.get(r["timesheet_invoice_id"], {}).get("state") != "cancel"
            for i, r in rows.items()
        }

    def _invoiced(
        self, model: Model, ids: list[int], states: tuple[str, ...], delivery_only: bool = False
    ) -> bool:
        """Whether one of the timesheets is on an invoice in one of `states` (sale_timesheet's
        `_check_can_write` also requires a line of a product invoiced on delivery)."""
        marks = ",".join("?" * len(ids))
        rows = model.conn.execute(
            f"SELECT m.state, t.so_line FROM account_analytic_line t JOIN account_move m "
            f"ON m.id = t.timesheet_invoice_id WHERE t.id IN ({marks})",
            ids,
        ).fetchall()
        hits = [so_line for state, so_line in rows if state in states]
        if not hits or not delivery_only:
            return bool(hits)
        lines = model.env["sale.order.line"].raw_rows([h for h in hits if h], ["product_id"])
        facts = product_facts(
            model.env["product.product"],
            [r["product_id"] for r in lines.values() if r["product_id"]],
        )
        return any(f.get("invoice_policy") == "delivery" for f in facts.values())

    def after_unlink(self, model: Model, ids: list[int]) -> None:
        self._recompute_lines(model, self._pending_unlink)

    _pending: ClassVar[list[int]] = []
    _pending_unlink: ClassVar[list[int]] = []

    def _lines(self, model: Model, ids: list[int]) -> list[int]:
        rows = model.raw_rows(ids, ["so_line"])
        return [r["so_line"] for r in rows.values() if r["so_line"]]

    def _delivered(self, model: Model, ids: list[int], extra: list[int] | None = None) -> None:
        self._recompute_lines(model, list(set(self._lines(model, ids)) | set(extra or [])))

    def _recompute_lines(self, model: Model, line_ids: list[int]) -> None:
        if line_ids:
            lines = model.env["sale.order.line"]
            SaleOrderLine().recompute(lines, line_ids)
            SaleOrderLine()._orders(lines, line_ids)


@register
class Employee(Behaviour):
    model = "hr.employee"
    fixed_defaults: ClassVar[Vals] = {
        "employee_type": "employee",
        "marital": "single",
        "distance_home_work_unit": "kilometers",
        "hourly_cost": 0.0,
    }


# --------------------------------------------------------------------------------- invoices
def act_window_invoices(partner_id: int | None, move_id: int, origin: str) -> Vals:
    return {
        "id": 268,
        "name": "Invoices",
        "type": "ir.actions.act_window",
        "xml_id": "account.action_move_out_invoice_type",
        "path": "invoicing",
        "help": '<p class="o_view_nocontent_smiling_face">\n                Create a customer '
        "invoice\n              </p><p>\n                Create invoices, register payments "
        "and keep track of the discussions with your customers.\n              </p>\n"
        "            ",
        "binding_model_id": False,
        "binding_type": "action",
        "binding_view_types": "list,form",
        "display_name": "Invoices",
        "view_id": [741, "account.out.invoice.list"],
        "domain": "[('move_type', 'in', ['out_invoice', 'out_refund'])]",
        "context": {
            "default_move_type": "out_invoice",
            "default_partner_id": partner_id,
            "default_partner_shipping_id": partner_id,
            "default_invoice_payment_term_id": None,
            "default_invoice_origin": origin,
        },
        "res_id": move_id,
        "res_model": "account.move",
        "target": "current",
        "view_mode": "list,kanban,form,activity",
        "mobile_view_mode": "kanban",
        "views": [[748, "form"], [741, "list"], [False, "kanban"], [False, "activity"]],
        "limit": 80,
        "groups_id": [],
        "search_view_id": [751, "account.invoice.select"],
        "embedded_action_ids": [],
        "filter": False,
    }


@register
class AdvancePayment(Behaviour):
    model = "sale.advance.payment.inv"

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        context = model.env.context
        orders = context.get("active_ids") if context.get("active_model") == "sale.order" else []
        values["sale_order_ids"] = json.dumps(list(orders or []))
        values["advance_payment_method"] = "delivered"
        values["deduct_down_payments"] = True
        values["consolidated_billing"] = True
        return values

    def _orders(self, model: Model, ids: list[int]) -> dict[int, list[int]]:
        return {r["id"]: r["sale_order_ids"] for r in model.values(ids, ["sale_order_ids"])}

    def compute_has_down_payments(self, model: Model, ids: list[int]) -> dict[int, Any]:
        lines = model.env["sale.order.line"]
        return {
            i: bool(
                orders
                and lines.search_ids(
                    [["order_id", "in", orders], ["is_downpayment", "=", True]], limit=1
                )
            )
            for i, orders in self._orders(model, ids).items()
        }

    def _order_sums(self, model: Model, ids: list[int], name: str) -> dict[int, Any]:
        """`_compute_invoice_amounts`: the orders' amount_invoiced / amount_to_invoice."""
        orders = model.env["sale.order"]
        out = {}
        for wizard, order_ids in self._orders(model, ids).items():
            values = getattr(SaleOrder(), f"compute_{name}")(orders, order_ids)
            out[wizard] = money(sum(values.values()))
        return out

    def compute_amount_invoiced(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._order_sums(model, ids, "amount_invoiced")

    def compute_amount_to_invoice(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._order_sums(model, ids, "amount_to_invoice")

    def compute_display_invoice_amount_warning(
        self, model: Model, ids: list[int]
    ) -> dict[int, Any]:
        to_invoice = self.compute_amount_to_invoice(model, ids)
        out = {}
        for row in model.values(
            ids, ["advance_payment_method", "amount", "fixed_amount", "sale_order_ids"]
        ):
            amount = row["fixed_amount"] or 0.0
            if row["advance_payment_method"] == "percentage":
                totals = model.env["sale.order"].raw_rows(row["sale_order_ids"], ["amount_total"])
                amount = (
                    (row["amount"] or 0.0)
                    / 100
                    * sum(r["amount_total"] or 0.0 for r in totals.values())
                )
            out[row["id"]] = amount > to_invoice[row["id"]]
        return out

    def compute_display_draft_invoice_warning(self, model: Model, ids: list[int]) -> dict[int, Any]:
        orders = model.env["sale.order"]
        out = {}
        for wizard, order_ids in self._orders(model, ids).items():
            moves = [m for ms in SaleOrder()._invoices(orders, order_ids).values() for m in ms]
            states = {
                r["state"] for r in model.env["account.move"].raw_rows(moves, ["state"]).values()
            }
            out[wizard] = "draft" in states
        return out

    def compute_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {r["id"]: len(r["sale_order_ids"]) for r in model.values(ids, ["sale_order_ids"])}

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        # Stored computes in Odoo: fixed when the wizard is made.
        for record_id, enabled in self.compute_invoicing_timesheet_enabled(model, ids).items():
            model.write_columns([record_id], {"invoicing_timesheet_enabled": int(enabled)})
        for record_id, orders in self._orders(model, ids).items():
            # `_compute_currency_id` / `_compute_company_id`: only for one order.
            order = (
                model.env["sale.order"]
                .raw_rows(orders, ["currency_id", "company_id"])
                .get(orders[0])
                if len(orders) == 1
                else None
            )
            model.write_columns(
                [record_id],
                {
                    "currency_id": order["currency_id"] if order else None,
                    "company_id": order["company_id"] if order else None,
                },
            )

    def compute_invoicing_timesheet_enabled(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """A line 'to invoice' whose product is invoiced on delivered timesheets."""
        out = {}
        lines_model = model.env["sale.order.line"]
        for row in model.values(ids, ["sale_order_ids"]):
            line_ids = lines_model.search_ids(
                [["order_id", "in", row["sale_order_ids"]], ["invoice_status", "=", "to invoice"]]
            )
            lines = lines_model.raw_rows(line_ids, ["product_id"])
            facts = product_facts(
                lines_model, [r["product_id"] for r in lines.values() if r["product_id"]]
            )
            out[row["id"]] = any(
                f.get("service_type") == "timesheet" and f.get("invoice_policy") == "delivery"
                for f in facts.values()
            )
        return out

    @rpc()
    def create_invoices(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> Any:
        if len(ids) != 1:
            inner = ", ".join(str(i) for i in ids)
            raise InvalidValue(
                f"Expected singleton: {model.name}({inner}{',' if len(ids) == 1 else ''})"
            )
        model.ensure_exist(ids)
        wizard = model.one(
            ids[0],
            [
                "sale_order_ids",
                "advance_payment_method",
                "amount",
                "fixed_amount",
                "date_start_invoice_timesheet",
                "date_end_invoice_timesheet",
            ],
        )
        method = wizard["advance_payment_method"]
        orders = wizard["sale_order_ids"]
        # `_check_amount_is_positive`
        if (method == "percentage" and (wizard["amount"] or 0.0) <= 0) or (
            method == "fixed" and (wizard["fixed_amount"] or 0.0) <= 0
        ):
            raise UserError("The value of the down payment amount must be positive.")
        if method == "delivered":
            # sale_timesheet: with a date range, only the timesheets not invoiced yet and dated
            # in it are invoiced (_recompute_qty_to_invoice), and they are the ones linked to the
            # invoice (timesheet_start_date/timesheet_end_date in the context of _create_invoices).
            period = TimesheetRange(
                start=wizard["date_start_invoice_timesheet"] or None,
                end=wizard["date_end_invoice_timesheet"] or None,
            )
            builder = InvoiceBuilder(model.env)
            final = bool(model.one(ids[0], ["deduct_down_payments"])["deduct_down_payments"])
            moves = [m for m in (builder.regular(o, period, final) for o in orders) if m]
            if not moves:
                raise UserError(NO_ITEMS_TO_INVOICE)
        else:
            if len(orders) != 1:
                inner = ", ".join(str(i) for i in orders)
                raise InvalidValue(f"Expected singleton: sale.order({inner})")
            moves = [InvoiceBuilder(model.env).down_payment(orders[0], method, wizard)]
        order = model.env["sale.order"].one(orders[0], ["partner_id", "name"])
        return act_window_invoices(order["partner_id"], moves[0], order["name"])


def timesheet_quantities(env: Any, sums: list[Any]) -> dict[int, float]:
    """Sale line -> delivered quantity in its unit, from (so_line, timesheet unit, hours) sums."""
    line_ids = sorted({row[0] for row in sums})
    lines = env["sale.order.line"].raw_rows(line_ids, ["product_uom"])
    uom_ids = {row[1] for row in sums if row[1]} | {
        line["product_uom"] for line in lines.values() if line["product_uom"]
    }
    uoms = {
        i: {"id": i, **row}
        for i, row in env["uom.uom"]
        .raw_rows(sorted(uom_ids), ["category_id", "factor", "rounding"])
        .items()
    }
    by_line: dict[int, list[tuple[Vals | None, float]]] = defaultdict(list)
    for line_id, uom_id, amount in sums:
        by_line[line_id].append((uoms.get(uom_id), float(amount or 0.0)))
    return {
        line_id: units.delivered(found, uoms.get(lines.get(line_id, {}).get("product_uom")))
        for line_id, found in by_line.items()
    }


class TimesheetRange:
    """The wizard's ``date_start_invoice_timesheet`` / ``date_end_invoice_timesheet`` (inclusive,
    ``YYYY-MM-DD``; None = open)."""

    def __init__(self, start: str | None = None, end: str | None = None) -> None:
        self.start, self.end = start, end

    @property
    def is_set(self) -> bool:
        return bool(self.start or self.end)

    def sql(self) -> tuple[str, list[str]]:
        clauses, args = [], []
        if self.start:
            clauses.append(" AND t.date >= ?")
            args.append(self.start)
        if self.end:
            clauses.append(" AND t.date <= ?")
            args.append(self.end)
        return "".join(clauses), args


# Timesheets of a sale line that no invoice holds: not linked, or linked to a cancelled invoice or
# to one reversed by a credit note (sale_timesheet's _timesheet_domain_get_invoiced_lines).
UNINVOICED_TIMESHEETS = (
    "FROM account_analytic_line t LEFT JOIN account_move m ON m.id = t.timesheet_invoice_id "
    "WHERE t.so_line = ? AND t.project_id IS NOT NULL AND (t.timesheet_invoice_id IS NULL "
    "OR m.state = 'cancel' OR m.payment_state = 'reversed')"
)


class InvoiceBuilder:
    """Creates customer invoices from confirmed orders (sale's `_create_invoices`)."""

    def __init__(self, env: Any) -> None:
        self.env = env

    def _header(self, order: Vals) -> Vals:
        """sale.order `_prepare_invoice`: the invoice takes the order's currency and company."""
        header: Vals = {
            "move_type": "out_invoice",
            "partner_id": order["partner_invoice_id"] or order["partner_id"],
            "invoice_origin": order["name"],
            "journal_id": self._sale_journal(order),
            "invoice_payment_term_id": order["payment_term_id"],
        }
        if order.get("currency_id"):
            header["currency_id"] = order["currency_id"]
        if order.get("company_id"):
            header["company_id"] = order["company_id"]
        return header

    def _sale_journal(self, order: Vals) -> int:
        """account.move `_search_default_journal`: the order company's sale journal; a company
        without a chart of accounts has none (hub_calls_refused_by_real_odoo.json #3)."""
        company = order.get("company_id")
        if not company or company == 1:
            return SALES_JOURNAL
        found = self.env["account.journal"].search_ids(
            [["type", "=", "sale"], ["company_id", "=", company]], limit=1
        )
        if not found:
            name = (
                self.env["res.company"].raw_rows([company], ["name"]).get(company, {}).get("name")
            )
            raise UserError(
                f"No journal could be found in company {name} for any of those types: sale"
            )
        return found[0]

    def _order(self, order_id: int) -> Vals:
        return self.env["sale.order"].one(
            order_id,
            [
                "name",
                "partner_id",
                "partner_invoice_id",
                "state",
                "payment_term_id",
                "project_id",
                "amount_untaxed",
                "company_id",
                "currency_id",
            ],
        )

    def regular(
        self, order_id: int, period: TimesheetRange | None = None, final: bool = False
    ) -> int | None:
        order = self._order(order_id)
        if order["state"] != "sale":
            return None
        period = period or TimesheetRange()
        lines = self.env["sale.order.line"]
        line_ids = lines.children_of("order_id", [order_id]).get(order_id, [])
        rows = lines.values(
            line_ids,
            [
                "product_id",
                "qty_to_invoice",
                "price_unit",
                "tax_id",
                "name",
                "discount",
                "is_downpayment",
                "display_type",
                "project_id",
                "qty_delivered_method",
                "product_uom",
                "sequence",
            ],
        )
        rows.sort(key=lambda r: (r["sequence"] or 0, r["id"]))
        timesheet_lines = [r["id"] for r in rows if r["qty_delivered_method"] == "timesheet"]
        if period.is_set:
            # _recompute_qty_to_invoice: a timesheet line invoices its uninvoiced hours in range.
            for row in rows:
                if row["id"] in timesheet_lines:
                    row["qty_to_invoice"] = self._uninvoiced_hours(row["id"], period)
        billable = self._invoiceable(rows, final)
        if not [r for r in billable if not r["is_downpayment"] and not r["display_type"]]:
            return None
        invoice_lines: list[Any] = []
        for row in billable:
            if row["is_downpayment"] and not any(c[2].get("is_downpayment") for c in invoice_lines):
                # `_prepare_down_payment_section_line`: the deductions under their own section
                invoice_lines.append(
                    [
                        0,
                        0,
                        {
                            "display_type": "line_section",
                            "name": "Down Payments",
                            "product_id": False,
                            "quantity": 0.0,
                            "price_unit": 0.0,
                            "discount": 0.0,
                            "account_id": False,
                        },
                    ]
                )
            invoice_lines.append([0, 0, self._line(row, row["qty_to_invoice"], order)])
        move_id = self.env["account.move"].create(
            [{**self._header(order), "invoice_line_ids": invoice_lines}]
        )[0]
        self._link_timesheets(
            move_id, [r["id"] for r in billable if r["id"] in timesheet_lines], period
        )
        return move_id

    @staticmethod
    def _invoiceable(rows: list[Vals], final: bool) -> list[Vals]:
        """`_get_invoiceable_lines`: a section only before an invoiced line of its own, negative
        quantities (down payments to deduct) only on a final invoice, down payments last."""
        regular: list[Vals] = []
        down_payments: list[Vals] = []
        pending = None
        for row in rows:
            if row["display_type"] == "line_section":
                pending = row
                continue
            quantity = row["qty_to_invoice"] or 0.0
            if row["display_type"] != "line_note" and abs(quantity) < 1e-6:
                continue
            if quantity > 0 or (quantity < 0 and final) or row["display_type"] == "line_note":
                if row["is_downpayment"]:
                    down_payments.append(row)
                    continue
                if pending is not None:
                    regular.append(pending)
                    pending = None
                regular.append(row)
        return regular + down_payments

    def _uninvoiced_hours(self, line_id: int, period: TimesheetRange) -> float:
        """_recompute_qty_to_invoice: the range's uninvoiced timesheets, in the line's unit."""
        extra, args = period.sql()
        sums = (
            self.env["account.analytic.line"]
            .conn.execute(
                f"SELECT t.so_line, t.product_uom_id, SUM(t.unit_amount) {UNINVOICED_TIMESHEETS}"
                f"{extra} GROUP BY t.so_line, t.product_uom_id",
                [line_id, *args],
            )
            .fetchall()
        )
        return timesheet_quantities(self.env, sums).get(line_id, 0.0)

    def _link_timesheets(self, move_id: int, line_ids: list[int], period: TimesheetRange) -> None:
        """_link_timesheets_to_invoice: the invoiced lines' uninvoiced timesheets (in the range,
        when one is given) point at the new invoice through ``timesheet_invoice_id``."""
        timesheets = self.env["account.analytic.line"]
        extra, args = period.sql()
        found: list[int] = []
        for line_id in line_ids:
            found += [
                row[0]
                for row in timesheets.conn.execute(
                    f"SELECT t.id {UNINVOICED_TIMESHEETS}{extra}", [line_id, *args]
                )
            ]
        if found:
            timesheets.write_columns(found, {"timesheet_invoice_id": move_id})

    def _line(self, row: Vals, quantity: float, order: Vals) -> Vals:
        """`_prepare_invoice_line`."""
        if row.get("display_type"):
            return {
                "display_type": row["display_type"],
                "name": row["name"],
                "quantity": quantity,
                "product_id": False,
                "price_unit": row["price_unit"],
                "account_id": False,
                "sale_line_ids": [[6, 0, [row["id"]]]],
            }
        analytic = self._analytic(row.get("project_id") or order["project_id"])
        values = {
            "product_id": row["product_id"],
            "quantity": quantity,
            "product_uom_id": row.get("product_uom") or False,
            "price_unit": row["price_unit"],
            "tax_ids": [[6, 0, row["tax_id"]]],
            "name": row["name"],
            "discount": row["discount"] or 0.0,
            "sale_line_ids": [[6, 0, [row["id"]]]],
            "analytic_distribution": analytic,
            "is_downpayment": bool(row.get("is_downpayment")),
        }
        if row.get("is_downpayment"):  # the account of its down payment invoice's line
            amls = self.env["account.move.line"]
            earlier = amls.search_ids(
                [["sale_line_ids", "in", [row["id"]]], ["is_downpayment", "=", True]], limit=1
            )
            if earlier:
                values["account_id"] = amls.raw_rows(earlier, ["account_id"])[earlier[0]][
                    "account_id"
                ]
        return values

    def _analytic(self, project_id: int | None) -> Any:
        if not project_id:
            return False
        account = self.env["project.project"].raw_rows([project_id], ["account_id"])
        account_id = account.get(project_id, {}).get("account_id")
        return {str(account_id): 100.0} if account_id else False

    def down_payment(self, order_id: int, method: str, wizard: Vals) -> int:
        """sale.advance.payment.inv `_create_invoices` for a down payment: the order's 'Down
        Payments' section (once), one down payment line per set of taxes, an invoice of them."""
        order = self._order(order_id)
        lines = self.env["sale.order.line"]
        rows = lines.values(
            lines.children_of("order_id", [order_id]).get(order_id, []),
            ["display_type", "is_downpayment", "tax_id", "price_subtotal", "sequence"],
        )
        totals = self.env["sale.order"].raw_rows([order_id], ["amount_total"])[order_id]
        if method == "percentage":
            ratio = (wizard["amount"] or 0.0) / 100
        else:
            total = totals["amount_total"] or 0.0
            ratio = (wizard["fixed_amount"] or 0.0) / total if total else 1.0
        sequence = (max((r["sequence"] or 0 for r in rows), default=9) + 1) if rows else 10
        if not any(r["display_type"] and r["is_downpayment"] for r in rows):
            lines.create(
                [
                    {
                        "order_id": order_id,
                        "display_type": "line_section",
                        "is_downpayment": True,
                        "product_uom_qty": 0.0,
                        "name": "Down Payments",
                        "sequence": sequence,
                    }
                ]
            )
        groups: dict[tuple[int, ...], float] = {}
        for row in rows:
            if row["display_type"] or row["is_downpayment"]:
                continue
            key = tuple(sorted(row["tax_id"]))
            groups[key] = groups.get(key, 0.0) + (row["price_subtotal"] or 0.0)
        day = datetime.now(UTC).date()
        draft_name = f"Down Payment: {day.month:02d}/{day.day:02d}/{day.year} (Draft)"
        created = lines.create(
            [
                {
                    "order_id": order_id,
                    "name": draft_name,
                    "is_downpayment": True,
                    "product_uom_qty": 0.0,
                    "discount": 0.0,
                    "sequence": sequence,
                    "price_unit": money(subtotal * ratio),
                    "tax_id": [[6, 0, list(taxes)]],
                }
                for taxes, subtotal in groups.items()
                if abs(subtotal) > 0.005
            ]
        )
        label = (
            f"Down payment of {float(wizard['amount'] or 0.0)}%"
            if method == "percentage"
            else "Down Payment"
        )
        invoice_lines = []
        for line in lines.values(created, ["price_unit", "tax_id"]):
            invoice_lines.append(
                [
                    0,
                    0,
                    {
                        "name": label,
                        "quantity": 1.0,
                        "product_id": False,
                        "price_unit": line["price_unit"],
                        "tax_ids": [[6, 0, line["tax_id"]]],
                        "account_id": PRODUCT_SALES_ACCOUNT,
                        "is_downpayment": True,
                        "sale_line_ids": [[6, 0, [line["id"]]]],
                    },
                ]
            )
        return self.env["account.move"].create(
            [{**self._header(order), "invoice_line_ids": invoice_lines}]
        )[0]


@register
class Move(Behaviour):
    model = "account.move"
    cascade: ClassVar[set[str]] = {"line_ids"}

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values.update(
            {
                "move_type": "entry",
                "state": "draft",
                "date": _today(),
                "auto_post": "no",
                "payment_state": "not_paid",
                "currency_id": 1,
            }
        )
        move_type = model.env.context.get("default_move_type")
        if move_type:
            values["move_type"] = move_type
        return values

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        for row in rows:
            if not row.get("journal_id"):
                row["journal_id"] = (
                    SALES_JOURNAL
                    if row.get("move_type", "entry").startswith("out_")
                    else MISC_JOURNAL
                )
            if row.get("move_type") in ("out_invoice", "out_refund"):
                row.setdefault("invoice_date_due", row.get("invoice_date") or _today())
                if row.get("invoice_date_due") is None:
                    row["invoice_date_due"] = _today()
                row.setdefault("invoice_user_id", model.env.uid)
            if row.get("partner_id"):
                row["commercial_partner_id"] = row["partner_id"]

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        for row in rows:
            if row.get("move_type") == "entry" and row.get("name") in (None, "/"):
                row["name"] = "/"

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        self.recompute(model, ids)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if {"invoice_line_ids", "line_ids"} & set(vals):
            self.recompute(model, ids)

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if {"invoice_line_ids", "line_ids", "partner_id"} & set(vals):
            rows = model.raw_rows(ids, ["state", "name"])
            for record_id, row in rows.items():
                if row["state"] == "posted":
                    raise UserError(
                        "You cannot modify a posted entry of this journal because it is in strict "
                        f"mode.\nEntry: {row['name']} (id {record_id})"
                    )

    def before_unlink(self, model: Model, ids: list[int]) -> None:
        rows = model.raw_rows(ids, ["state"])
        if any(r["state"] == "posted" for r in rows.values()):
            raise UserError("You cannot delete an entry which has been posted once.")
        self._orders_to_refresh = self._sale_lines(model, ids)

    def after_unlink(self, model: Model, ids: list[int]) -> None:
        if self._orders_to_refresh:
            lines = model.env["sale.order.line"]
            SaleOrderLine().recompute(lines, self._orders_to_refresh)
            SaleOrderLine()._orders(lines, self._orders_to_refresh)

    _orders_to_refresh: ClassVar[list[int]] = []

    def _sale_lines(self, model: Model, ids: list[int]) -> list[int]:
        amls = model.env["account.move.line"]
        aml_ids = [i for ls in amls.children_of("move_id", ids).values() for i in ls]
        return sorted(
            {s for r in amls.values(aml_ids, ["sale_line_ids"]) for s in r["sale_line_ids"]}
        )

    def recompute(self, model: Model, ids: list[int]) -> None:
        amls = model.env["account.move.line"]
        children = amls.children_of("move_id", ids)
        moves = model.raw_rows(ids, ["amount_total", "amount_residual", "move_type", "state"])
        for move_id in ids:
            rows = amls.raw_rows(
                children.get(move_id, []), ["price_subtotal", "price_total", "display_type"]
            )
            untaxed = sum(
                r["price_subtotal"] or 0
                for r in rows.values()
                if r["display_type"] in (None, "product")
            )
            total = sum(
                r["price_total"] or 0
                for r in rows.values()
                if r["display_type"] in (None, "product")
            )
            paid = (moves[move_id]["amount_total"] or 0) - (moves[move_id]["amount_residual"] or 0)
            residual = money(total - paid)
            sign = -1 if moves[move_id]["move_type"] in ("out_refund", "in_invoice") else 1
            model.write_columns(
                [move_id],
                {
                    "amount_untaxed": money(untaxed),
                    "amount_tax": money(total - untaxed),
                    "amount_total": money(total),
                    "amount_residual": residual,
                    "amount_untaxed_signed": money(untaxed) * sign,
                    "amount_total_signed": money(total) * sign,
                    "amount_residual_signed": residual * sign,
                },
            )
        lines = self._sale_lines(model, ids)
        if lines:
            SaleOrderLine().recompute(model.env["sale.order.line"], lines)
            SaleOrderLine()._orders(model.env["sale.order.line"], lines)

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["name", "ref", "state", "move_type"])
        out = {}
        for i, r in rows.items():
            # Odoo 18 `_get_move_display_name`: "Draft Invoice" (+ the name once it has one).
            prefix = (
                DRAFT_MOVE_NAMES.get(r["move_type"], "Draft Entry") if r["state"] == "draft" else ""
            )
            name = r["name"] if r["name"] and r["name"] != "/" else ""
            name = f"{prefix} {name}".strip()
            out[i] = f"{name} ({r['ref']})" if r["ref"] else name
        return out

    def compute_timesheet_count(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: int(v[0]) for i, v in self._timesheet_totals(model, ids).items()}

    def compute_timesheet_total_duration(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """Hours on the invoice's timesheets, rounded to the unit (the encoding UoM is Hours)."""
        return {i: round(v[1]) for i, v in self._timesheet_totals(model, ids).items()}

    def _timesheet_totals(self, model: Model, ids: list[int]) -> dict[int, tuple[int, float]]:
        out = {i: (0, 0.0) for i in ids}
        if ids:
            marks = ",".join("?" * len(ids))
            for move, count, hours in model.conn.execute(
                f"SELECT timesheet_invoice_id, COUNT(*), SUM(unit_amount) FROM "
                f"account_analytic_line WHERE timesheet_invoice_id IN ({marks}) "
                f"GROUP BY timesheet_invoice_id",
                ids,
            ):
                out[move] = (count, hours or 0.0)
        return out

    def compute_reversal_move_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return model.children_of("reversed_entry_id", ids)

    @rpc()
    def action_post(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> bool:
        model.ensure_exist(ids)
        rows = model.raw_rows(
            ids,
            [
                "state",
                "name",
                "move_type",
                "date",
                "invoice_date",
                "journal_id",
                "reversed_entry_id",
            ],
        )
        for record_id, row in rows.items():
            if row["state"] != "draft":
                raise UserError(f"The entry {row['name']} (id {record_id}) must be in draft.")
        for record_id, row in rows.items():
            day = row["invoice_date"] or _today()
            prefix = {"out_invoice": "INV", "out_refund": "RINV"}.get(row["move_type"], "MISC")
            year = day[:4]
            number = model.env.db.next_sequence(f"{prefix}/{year}")
            columns = {
                "state": "posted",
                "name": f"{prefix}/{year}/{number:05d}",
                "sequence_number": number,
            }
            if row["move_type"] in ("out_invoice", "out_refund"):
                columns["invoice_date"] = day
            model.write_columns([record_id], columns)
        self.recompute(model, ids)
        self._reconcile_reversed(model, rows)
        SaleOrderLine().refresh_down_payments(model.env["sale.order.line"], ids)
        return False

    def _reconcile_reversed(self, model: Model, posted: dict[int, Vals]) -> None:
        """`_post`: a reversal posted while its reversed entry is posted is reconciled with it
        (`_reconcile_reversed_moves`): each settles the other up to the smaller residual."""
        for record_id, row in posted.items():
            origin = row.get("reversed_entry_id")
            if not origin:
                continue
            both = model.raw_rows([origin, record_id], ["state", "amount_residual"])
            if both.get(origin, {}).get("state") != "posted":
                continue
            amount = money(
                min(
                    both[origin]["amount_residual"] or 0.0,
                    both[record_id]["amount_residual"] or 0.0,
                )
            )
            if amount <= 0:
                continue
            self.settle(model, origin, amount, None, reversed_by=True)
            self.settle(model, record_id, amount, None)

    @rpc()
    def button_draft(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> None:
        """Returns None, as Odoo's (the answer has no result)."""
        model.write_columns(ids, {"state": "draft"})
        SaleOrderLine().refresh_down_payments(model.env["sale.order.line"], ids)

    @rpc()
    def button_cancel(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> None:
        """Returns None, as Odoo's (fixed_price_and_down_payment.json #35)."""
        model.write_columns(ids, {"state": "cancel", "auto_post": "no"})
        self.recompute(model, ids)
        SaleOrderLine().refresh_down_payments(model.env["sale.order.line"], ids)

    def settle(
        self,
        model: Model,
        move_id: int,
        amount: float,
        payment_id: int | None,
        reversed_by: bool = False,
    ) -> None:
        row = model.values([move_id], ["amount_residual", "amount_total", "matched_payment_ids"])[0]
        residual = money(max(row["amount_residual"] - amount, 0.0))
        # `_compute_payment_state`: settled by its reversal alone -> 'reversed'; with payments
        # among its counterparts -> 'paid'.
        reversed_only = reversed_by and not row["matched_payment_ids"]
        state = "partial" if residual > 0.005 else ("reversed" if reversed_only else "paid")
        matched = row["matched_payment_ids"] + ([payment_id] if payment_id else [])
        model.write_columns(
            [move_id],
            {
                "amount_residual": residual,
                "payment_state": state,
                "matched_payment_ids": json.dumps(matched),
            },
        )


@register
class MoveLine(Behaviour):
    model = "account.move.line"

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        super().complete_rows(model, rows)
        facts = product_facts(model, [r["product_id"] for r in rows if r.get("product_id")])
        moves = model.env["account.move"].raw_rows(
            list({r["move_id"] for r in rows if r.get("move_id")}),
            ["partner_id", "move_type", "company_id"],
        )
        for row in rows:
            product = facts.get(row.get("product_id") or 0)
            if product:
                row.setdefault("name", product["name"])
                if "tax_ids" not in row:  # `_get_computed_taxes`: the move's company's only
                    move = moves.get(row.get("move_id") or 0, {})
                    row["tax_ids"] = json.dumps(
                        company_taxes(model, product["taxes_id"], move.get("company_id"))
                    )
                if row.get("price_unit") is None:
                    row["price_unit"] = product["list_price"]
            row.setdefault("display_type", "product")
            row.setdefault("account_id", PRODUCT_SALES_ACCOUNT)
            row.setdefault("quantity", 1.0)
            row["currency_id"] = row.get("currency_id") or 1
            move = moves.get(row.get("move_id") or 0, {})
            row.setdefault("partner_id", move.get("partner_id"))
            quantity = row.get("quantity") or 0.0
            price = row.get("price_unit") or 0.0
            subtotal = quantity * price * (1 - (row.get("discount") or 0.0) / 100)
            taxes = json.loads(row.get("tax_ids") or "[]")
            row["price_subtotal"] = money(subtotal)
            row["price_total"] = money(subtotal * (1 + tax_rate(model, taxes)))
            sign = -1 if move.get("move_type") == "out_refund" else 1
            row["balance"] = -row["price_subtotal"] * sign
            row["credit"] = max(row["balance"] * -1, 0.0)
            row["debit"] = max(row["balance"], 0.0)

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        """Taxes given as commands are set after the row: the totals follow them."""
        given = [i for i, vals in zip(ids, vals_list, strict=True) if "tax_ids" in vals]
        if given:
            self.after_write(model, given, {"tax_ids": True})

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        if {"quantity", "price_unit", "discount", "tax_ids"} & set(vals):
            rows = model.values(ids, ["move_id", "quantity", "price_unit", "discount", "tax_ids"])
            for row in rows:
                subtotal = row["quantity"] * row["price_unit"] * (1 - (row["discount"] or 0) / 100)
                model.write_columns(
                    [row["id"]],
                    {
                        "price_subtotal": money(subtotal),
                        "price_total": money(subtotal * (1 + tax_rate(model, row["tax_ids"]))),
                    },
                )
            Move().recompute(model.env["account.move"], list({r["move_id"] for r in rows}))


TYPE_REVERSE_MAP = {
    "entry": "entry",
    "out_invoice": "out_refund",
    "out_refund": "entry",
    "in_invoice": "in_refund",
    "in_refund": "entry",
    "out_receipt": "out_refund",
    "in_receipt": "in_refund",
}


@register
class Reversal(Behaviour):
    """account/wizard/account_move_reversal.py of Odoo 18."""

    model = "account.move.reversal"

    def defaults(self, model: Model) -> Vals:
        """`default_get`: refuses moves not posted or of several companies; no journal (it is a
        stored compute Odoo fills after the INSERT, so a create without it fails required)."""
        values = super().defaults(model)
        values.pop("journal_id", None)
        context = model.env.context
        moves = (
            list(context.get("active_ids") or [])
            if context.get("active_model") == "account.move"
            else []
        )
        rows = model.env["account.move"].raw_rows(moves, ["state", "company_id"])
        companies = {r["company_id"] for r in rows.values()}
        if len(companies) > 1:
            raise UserError("All selected moves for reversal must belong to the same company.")
        if any(r["state"] != "posted" for r in rows.values()):
            raise UserError("You can only reverse posted moves.")
        values.update(
            {
                "move_ids": json.dumps([m for m in moves if m in rows]),
                "date": _today(),
                "company_id": next(iter(companies), None) or 1,
            }
        )
        return values

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        """`_check_journal_type`: the journal is of a type of the reversed entries' journals."""
        journals = model.env["account.journal"]
        for row in rows:
            moves = json.loads(row.get("move_ids") or "[]")
            if not moves or not row.get("journal_id"):
                continue
            theirs = sorted(
                {
                    r["journal_id"]
                    for r in model.env["account.move"].raw_rows(moves, ["journal_id"]).values()
                }
            )
            types = {r["type"] for r in journals.raw_rows(theirs, ["type"]).values()}
            mine = journals.raw_rows([row["journal_id"]], ["type"]).get(row["journal_id"], {})
            if mine.get("type") not in types:
                raise UserError("Journal should be the same type as the reversed entry.")

    def _from_moves(self, model: Model, ids: list[int]) -> dict[int, Vals]:
        out = {}
        moves = model.env["account.move"]
        for row in model.values(ids, ["move_ids"]):
            found = moves.raw_rows(row["move_ids"], ["amount_residual", "currency_id", "move_type"])
            single = next(iter(found.values())) if len(found) == 1 else None
            currencies = {r["currency_id"] for r in found.values()}
            out[row["id"]] = {
                "residual": (single["amount_residual"] or 0.0) if single else 0.0,
                "currency_id": next(iter(currencies)) if len(currencies) == 1 else False,
                "move_type": single["move_type"]
                if single
                else (
                    "some_invoice"
                    if any(r["move_type"] in ("in_invoice", "out_invoice") for r in found.values())
                    else False
                ),
            }
        return out

    def compute_residual(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: v["residual"] for i, v in self._from_moves(model, ids).items()}

    def compute_currency_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: v["currency_id"] for i, v in self._from_moves(model, ids).items()}

    def compute_move_type(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: v["move_type"] for i, v in self._from_moves(model, ids).items()}

    def compute_available_journal_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        out = {}
        journals = model.env["account.journal"]
        for row in model.values(ids, ["move_ids", "company_id"]):
            types = sorted(
                {
                    r["type"]
                    for r in journals.raw_rows(
                        sorted(
                            {
                                m["journal_id"]
                                for m in model.env["account.move"]
                                .raw_rows(row["move_ids"], ["journal_id"])
                                .values()
                            }
                        ),
                        ["type"],
                    ).values()
                }
            )
            domain: list[Any] = [["company_id", "in", [row["company_id"], False]]]
            out[row["id"]] = journals.search_ids(
                domain + ([["type", "in", types]] if types else [])
            )
        return out

    def _reverse(self, model: Model, ids: list[int], is_modify: bool) -> Vals:
        """`reverse_moves`: a draft credit note per move (refund), or a posted credit note
        reconciled with the move plus a draft copy of the move to correct (modify)."""
        model.ensure_exist(ids)
        wizard = model.one(ids[0], ["move_ids", "reason", "date", "journal_id"])
        moves = model.env["account.move"]
        amls = model.env["account.move.line"]
        today = _today()
        reverse_date = wizard["date"] or today
        redirect: list[int] = []
        for move in moves.values(
            wizard["move_ids"],
            [
                "state",
                "name",
                "partner_id",
                "invoice_origin",
                "move_type",
                "date",
                "invoice_user_id",
                "journal_id",
                "invoice_payment_term_id",
            ],
        ):
            if move["state"] != "posted":
                raise UserError("You can only reverse posted moves.")
            lines = amls.values(
                amls.children_of("move_id", [move["id"]]).get(move["id"], []),
                [
                    "product_id",
                    "quantity",
                    "price_unit",
                    "tax_ids",
                    "name",
                    "discount",
                    "sale_line_ids",
                    "analytic_distribution",
                    "account_id",
                    "display_type",
                    "product_uom_id",
                ],
            )
            copied = [
                [
                    0,
                    0,
                    {
                        "product_id": ln["product_id"],
                        "quantity": ln["quantity"],
                        "price_unit": ln["price_unit"],
                        "tax_ids": [[6, 0, ln["tax_ids"]]],
                        "name": ln["name"],
                        "discount": ln["discount"],
                        "account_id": ln["account_id"],
                        "display_type": ln["display_type"],
                        "product_uom_id": ln["product_uom_id"],
                        "sale_line_ids": [[6, 0, ln["sale_line_ids"]]],
                        "analytic_distribution": ln["analytic_distribution"],
                    },
                ]
                for ln in lines
            ]
            reason = wizard["reason"]
            ref = f"Reversal of: {move['name']}" + (f", {reason}" if reason else "")
            is_invoice = move["move_type"] != "entry"
            auto_post = "at_date" if reverse_date > today else "no"
            cancel = auto_post == "no" and (is_modify or move["move_type"] == "entry")
            credit_note = moves.create(
                [
                    {
                        "move_type": TYPE_REVERSE_MAP[move["move_type"]],
                        "partner_id": move["partner_id"],
                        "ref": ref,
                        "reversed_entry_id": move["id"],
                        "date": reverse_date,
                        "invoice_origin": move["invoice_origin"],
                        "invoice_date_due": reverse_date,
                        "invoice_date": (reverse_date or move["date"]) if is_invoice else False,
                        "journal_id": wizard["journal_id"],
                        "auto_post": auto_post,
                        "invoice_user_id": move["invoice_user_id"],
                        "invoice_line_ids": copied,
                    }
                ]
            )[0]
            if cancel:  # `_reverse_moves(cancel=True)` posts it, which reconciles the two
                Move().action_post(moves, [credit_note])
            if is_modify:
                redirect.extend(
                    moves.create(
                        [
                            {
                                "move_type": move["move_type"],
                                "partner_id": move["partner_id"],
                                "invoice_origin": move["invoice_origin"],
                                "date": reverse_date,
                                "journal_id": move["journal_id"],
                                "invoice_user_id": move["invoice_user_id"],
                                "invoice_payment_term_id": move["invoice_payment_term_id"],
                                "invoice_line_ids": copied,
                            }
                        ]
                    )
                )
            else:
                redirect.append(credit_note)
        model.write_columns(ids, {"new_move_ids": json.dumps(redirect)})
        action: Vals = {
            "name": "Reverse Moves",
            "type": "ir.actions.act_window",
            "res_model": "account.move",
        }
        types = [r["move_type"] for r in moves.raw_rows(redirect, ["move_type"]).values()]
        if len(redirect) == 1:
            action.update(
                {
                    "view_mode": "form",
                    "res_id": redirect[0],
                    "context": {"default_move_type": types[0]},
                }
            )
        else:
            action.update({"view_mode": "list,form", "domain": [["id", "in", redirect]]})
            if len(set(types)) == 1:
                action["context"] = {"default_move_type": types[0]}
        return action

    @rpc()
    def refund_moves(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> Vals:
        return self._reverse(model, ids, is_modify=False)

    @rpc()
    def modify_moves(self, model: Model, ids: list[int], *args: Any, **kwargs: Any) -> Vals:
        return self._reverse(model, ids, is_modify=True)

    @rpc()
    def reverse_moves(
        self, model: Model, ids: list[int], is_modify: bool = False, *args: Any, **kwargs: Any
    ) -> Vals:
        return self._reverse(model, ids, is_modify=bool(is_modify))


@register
class PaymentRegister(Behaviour):
    model = "account.payment.register"

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        context = model.env.context
        if context.get("active_model") not in ("account.move", "account.move.line"):
            raise UserError(
                "The register payment wizard should only be called on account.move "
                "or account.move.line records."
            )
        if not context.get("active_ids"):
            raise UserError(
                "You can't register a payment because there is nothing left to pay "
                "on the selected journal items."
            )
        return vals_list

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        context = model.env.context
        move_ids = list(context.get("active_ids") or [])
        if context.get("active_model") == "account.move.line" and move_ids:
            move_ids = sorted(
                {
                    r["move_id"]
                    for r in model.env["account.move.line"].raw_rows(move_ids, ["move_id"]).values()
                }
            )
        moves = model.env["account.move"].values(
            move_ids, ["amount_residual", "partner_id", "name", "move_type"]
        )
        amls = model.env["account.move.line"].children_of("move_id", move_ids)
        values.update(
            {
                "amount": money(sum(m["amount_residual"] for m in moves)),
                "currency_id": 1,
                "journal_id": BANK_JOURNAL,
                "payment_method_line_id": BANK_MANUAL_IN,
                "payment_date": _today(),
                "group_payment": True,
                "can_edit_wizard": True,
                "partner_id": moves[0]["partner_id"] if moves else False,
                "communication": " ".join(m["name"] for m in moves if m["name"]) or False,
                "line_ids": json.dumps([i for ls in amls.values() for i in ls]),
                "payment_type": "outbound"
                if moves and moves[0]["move_type"] == "out_refund"
                else "inbound",
                "partner_type": "customer",
            }
        )
        return values

    def _moves(self, model: Model, wizard_id: int) -> list[int]:
        lines = model.values([wizard_id], ["line_ids"])[0]["line_ids"]
        rows = model.env["account.move.line"].raw_rows(lines, ["move_id"])
        return sorted({r["move_id"] for r in rows.values()})

    def compute_payment_difference(self, model: Model, ids: list[int]) -> dict[int, Any]:
        out = {}
        for row in model.values(ids, ["amount"]):
            moves = model.env["account.move"].raw_rows(
                self._moves(model, row["id"]), ["amount_residual"]
            )
            out[row["id"]] = money(
                sum(m["amount_residual"] for m in moves.values()) - row["amount"]
            )
        return out

    @rpc()
    def action_create_payments(self, model: Model, ids: list[int], *a: Any, **k: Any) -> Vals:
        model.ensure_exist(ids)
        wizard = model.one(
            ids[0],
            [
                "amount",
                "journal_id",
                "payment_method_line_id",
                "payment_date",
                "partner_id",
                "communication",
                "payment_type",
                "partner_type",
            ],
        )
        move_ids = self._moves(model, ids[0])
        moves = model.env["account.move"]
        rows = moves.values(move_ids, ["state", "name", "amount_residual"])
        if any(r["state"] != "posted" for r in rows):
            raise UserError("You can only register payment for posted journal entries.")
        journal = model.env["account.journal"].raw_rows([wizard["journal_id"]], ["code"])
        code = journal.get(wizard["journal_id"], {}).get("code") or "BNK1"
        day = wizard["payment_date"] or _today()
        name = f"P{code}/{day[:4]}/{model.env.db.next_sequence(f'P{code}/{day[:4]}'):05d}"
        ref = ", ".join(r["name"] for r in rows)
        entry = moves.create(
            [
                {
                    "move_type": "entry",
                    "journal_id": wizard["journal_id"],
                    "partner_id": wizard["partner_id"],
                    "ref": ref,
                    "date": day,
                }
            ]
        )[0]
        moves.write_columns([entry], {"name": name, "state": "posted"})
        payment = model.env["account.payment"].create(
            [
                {
                    "amount": wizard["amount"],
                    "payment_type": wizard["payment_type"] or "inbound",
                    "partner_type": wizard["partner_type"] or "customer",
                    "journal_id": wizard["journal_id"],
                    "partner_id": wizard["partner_id"],
                    "payment_method_line_id": wizard["payment_method_line_id"],
                    "date": day,
                    "memo": wizard["communication"],
                    "move_id": entry,
                    "state": "paid",
                    "invoice_ids": [[6, 0, move_ids]],
                }
            ]
        )[0]
        remaining = wizard["amount"]
        for row in rows:
            share = min(remaining, row["amount_residual"])
            remaining -= share
            Move().settle(moves, row["id"], share, payment)
        model.env["account.payment"].write_columns(
            [payment], {"name": name, "is_reconciled": 1, "is_matched": 0}
        )
        return {
            "name": "Payments",
            "type": "ir.actions.act_window",
            "res_model": "account.payment",
            "context": {"create": False},
            "view_mode": "form",
            "res_id": payment,
        }


@register
class Payment(Behaviour):
    model = "account.payment"
    fixed_defaults: ClassVar[Vals] = {
        "state": "draft",
        "payment_type": "inbound",
        "partner_type": "customer",
    }

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values.update({"journal_id": BANK_JOURNAL, "date": _today()})
        return values

    def compute_reconciled_invoice_ids(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {r["id"]: r["invoice_ids"] for r in model.values(ids, ["invoice_ids"])}

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["name"])
        return {i: r["name"] or "Draft Payment" for i, r in rows.items()}


@register
class PaymentMethodLine(Behaviour):
    model = "account.payment.method.line"

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.values(ids, ["name", "journal_id"])
        journals = model.env["account.journal"].display_names(
            [r["journal_id"] for r in rows if r["journal_id"]]
        )
        return {r["id"]: f"{r['name']} ({journals.get(r['journal_id'], '')})" for r in rows}


@register
class Account(Behaviour):
    model = "account.account"

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        rows = model.raw_rows(ids, ["code", "name"])
        return {i: f"{r['code']} {r['name']}" if r["code"] else r["name"] for i, r in rows.items()}


@register
class Expense(Behaviour):
    """hr.expense: amounts in two currencies, and re-invoicing at cost on an order (sale_expense).

    ``total_amount_currency`` is in the expense's ``currency_id``; ``total_amount`` in the
    company's currency, converted at the company's rate of the expense's date
    (``_set_expense_currency_rate`` / ``_compute_total_amount``, rounded to the company currency),
    unless it was given (``_inverse_total_amount``: a rate of one's own). Writing ``currency_id``
    converts again at the date's rate (``write``). Expense taxes are not emulated: the untaxed
    amount is the total. The re-invoiced sale line (made at once here; Odoo makes it when the
    expense report is posted) is ``sale.account.move.line._sale_get_invoice_price`` at cost: the
    company-currency amount per unit, converted into the order's currency at the order's date
    when the two differ (``_convert`` with the order's company).
    """

    model = "hr.expense"
    fixed_defaults: ClassVar[Vals] = {
        "payment_mode": "own_account",
        "quantity": 1.0,
        "state": "draft",
    }

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values.pop("currency_id", None)  # the company's currency, once the company is known
        values["date"] = _today()
        return values

    def complete_rows(self, model: Model, rows: list[Vals]) -> None:
        from .currency_rates import company_currency

        super().complete_rows(model, rows)
        facts = product_facts(model, [r["product_id"] for r in rows if r.get("product_id")])
        for row in rows:
            product = facts.get(row.get("product_id") or 0)
            if not row.get("name") and product:
                row["name"] = product["name"]
            company = int(row.get("company_id") or 1)
            row["currency_id"] = row.get("currency_id") or company_currency(model.env, company)
            quantity = row.get("quantity") or 1.0
            if row.get("total_amount_currency") is None:
                row["total_amount_currency"] = money(
                    (row.get("price_unit") or row.get("total_amount") or 0.0)
                    * (1.0 if row.get("price_unit") is None else quantity)
                )
            if row.get("total_amount") is None:
                row["total_amount"] = self._company_amount(model, row)
            row["untaxed_amount_currency"] = row["total_amount_currency"]
            row["tax_amount_currency"] = row["tax_amount"] = 0.0
            row["price_unit"] = self._unit_price(model, row)

    @staticmethod
    def _company_amount(model: Model, row: Vals) -> float:
        from .currency_rates import company_currency, convert

        company = int(row.get("company_id") or 1)
        return convert(
            model.env,
            float(row.get("total_amount_currency") or 0.0),
            int(row["currency_id"]),
            company_currency(model.env, company),
            company,
            str(row.get("date") or _today())[:10],
        )

    @staticmethod
    def _unit_price(model: Model, row: Vals) -> float:
        from .currency_rates import company_currency, currency_round

        quantity = row.get("quantity") or 0.0
        if not quantity:
            return 0.0
        currency = company_currency(model.env, int(row.get("company_id") or 1))
        return currency_round(model.env, currency, float(row["total_amount"]) / quantity)

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        super().check_constraints(model, rows)
        check_company(model, rows, ("employee_id", "product_id", "sale_order_id"))

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        """As recorded on a real 18 (issue 10, defect 5): writing ``currency_id`` converts again
        at the expense's (new) date; a ``total_amount`` given is kept (a rate of one's own);
        ``total_amount_currency`` written alone on a foreign-currency expense leaves
        ``total_amount`` 0 (Odoo reads the rate back as total / total in currency while both
        change); a date alone converts nothing."""
        if "total_amount" in vals:
            rows = model.values(ids, ["total_amount", "quantity", "company_id"])
            for row in rows:
                model.write_columns([row["id"]], {"price_unit": self._unit_price(model, row)})
            return
        if not {"currency_id", "total_amount_currency"} & set(vals):
            return
        columns = ["currency_id", "total_amount_currency", "date", "company_id", "quantity"]
        multiple = self.compute_is_multiple_currency(model, ids)
        for row in model.values(ids, columns):
            if "currency_id" in vals or not multiple[row["id"]]:
                total = self._company_amount(model, row)
            else:
                total = 0.0
            model.write_columns(
                [row["id"]],
                {
                    "total_amount": total,
                    "price_unit": self._unit_price(model, {**row, "total_amount": total}),
                    "untaxed_amount_currency": row["total_amount_currency"],
                },
            )

    def compute_company_currency_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        from .currency_rates import company_currency

        rows = model.raw_rows(ids, ["company_id"])
        return {i: company_currency(model.env, int(r["company_id"] or 1)) for i, r in rows.items()}

    def compute_is_multiple_currency(self, model: Model, ids: list[int]) -> dict[int, Any]:
        companies = self.compute_company_currency_id(model, ids)
        rows = model.raw_rows(ids, ["currency_id"])
        return {i: rows[i]["currency_id"] != companies[i] for i in rows}

    def compute_currency_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """A saved expense's rate reads back as total_amount / total_amount_currency
        (``_compute_currency_rate`` when nothing changed), 1.0 in one currency."""
        multiple = self.compute_is_multiple_currency(model, ids)
        rows = model.raw_rows(ids, ["total_amount", "total_amount_currency"])
        return {
            i: (
                round(r["total_amount"] / r["total_amount_currency"], 9)  # digits (16, 9)
                if multiple[i] and r["total_amount_currency"]
                else 1.0
            )
            for i, r in rows.items()
        }

    def compute_label_currency_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        rates = self.compute_currency_rate(model, ids)
        multiple = self.compute_is_multiple_currency(model, ids)
        companies = self.compute_company_currency_id(model, ids)
        rows = model.raw_rows(ids, ["currency_id"])
        names = {
            i: r["name"]
            for i, r in model.env["res.currency"]
            .raw_rows([*{r["currency_id"] for r in rows.values()}, *companies.values()], ["name"])
            .items()
        }
        return {
            i: f"1 {names.get(rows[i]['currency_id'])} = {rates[i]:.6f} {names.get(companies[i])}"
            if multiple[i]
            else False
            for i in rows
        }

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        from .currency_rates import company_currency, convert, currency_round

        rows = model.values(
            ids,
            [
                "sale_order_id",
                "product_id",
                "name",
                "total_amount",
                "quantity",
                "company_id",
                "employee_id",
            ],
        )
        employees = model.env["hr.employee"].raw_rows(
            [r["employee_id"] for r in rows if r["employee_id"]], ["name"]
        )
        orders = model.env["sale.order"].raw_rows(
            [r["sale_order_id"] for r in rows if r["sale_order_id"]],
            ["currency_id", "company_id", "date_order"],
        )
        for row in rows:
            order = orders.get(row["sale_order_id"] or 0)
            if order is None or not row["product_id"]:
                continue
            quantity = row["quantity"] or 1.0
            cost = abs(row["total_amount"] or 0.0) / quantity
            own = company_currency(model.env, int(row["company_id"] or 1))
            target = int(order["currency_id"] or own)
            if own == target:
                price = currency_round(model.env, own, cost)
            else:
                price = convert(
                    model.env,
                    cost,
                    own,
                    target,
                    int(order["company_id"] or 1),
                    str(order["date_order"] or _today())[:10],
                )
            # ``_get_move_line_name``: "<employee>: <first line of the expense, 64 chars>"
            employee = employees.get(row["employee_id"] or 0, {}).get("name") or ""
            name = f"{employee}: {(row['name'] or '').splitlines()[0][:64] if row['name'] else ''}"
            model.env["sale.order.line"].create(
                [
                    {
                        "order_id": row["sale_order_id"],
                        "product_id": row["product_id"],
                        "name": name,
                        "price_unit": price,
                        "is_expense": True,
                        "product_uom_qty": row["quantity"],
                        "tax_id": [[6, 0, []]],
                    }
                ]
            )


from . import currency_rates as _currency_rates  # noqa: E402, F401  (their behaviours)
