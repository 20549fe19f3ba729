"""Field and model names that differ between Odoo series: the one table the client translates with.

The hub is written against Odoo 18 names. Against a 19 server (recorded in ``shared/odoo19``:
README "Differences from Odoo 18", and ``fields/*.json`` against 18's) the client renames fields
on the way out (values, field lists, domains, ``load`` columns, nested one2many commands) and
back on the way in (``read``/``search_read`` rows, ``fields_get``/``default_get`` keys), so
callers keep one vocabulary. Fields removed in 19 are dropped from field lists and read back as
``False``; writing a value into one, or calling a removed model, fails before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidField, InvalidModel

Values = dict[str, Any]


@dataclass(frozen=True)
class SeriesNames:
    """What one Odoo series calls differently from 18 (the hub's vocabulary)."""

    major: int
    renamed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """model -> {18 name: this series' name}."""
    removed_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    removed_models: frozenset[str] = frozenset()
    x2many: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(model, one2many/many2many field) -> comodel, where the comodel has renames (nested
    ``[0, 0, vals]`` / ``[1, id, vals]`` commands are translated too)."""

    def __post_init__(self) -> None:
        back = {
            model: {new: old for old, new in names.items()} for model, names in self.renamed.items()
        }
        object.__setattr__(self, "_back", back)

    @property
    def identity(self) -> bool:
        return not (self.renamed or self.removed_fields or self.removed_models)

    # -- outgoing --------------------------------------------------------------------------

    def check_model(self, model: str, method: str) -> None:
        if model in self.removed_models:
            raise InvalidModel(
                f"Odoo {self.major} has no model {model!r} (removed after Odoo 18)",
                model=model,
                method=method,
                rule="model_removed_in_series",
            )

    def name(self, model: str, name: str) -> str:
        """The server's name for the hub's ``model.name`` (first part of a dotted path)."""
        head, dot, rest = name.partition(".")
        head, slash, tail = head.partition("/")
        head = self.renamed.get(model, {}).get(head, head)
        return f"{head}{slash}{tail}{dot}{rest}"

    def removed(self, model: str, name: str) -> bool:
        return name.split(".")[0].split("/")[0] in self.removed_fields.get(model, frozenset())

    def fields(self, model: str, names: Any) -> Any:
        """A field list for the server: renamed, removed ones left out."""
        if not isinstance(names, list | tuple):
            return names
        return [
            self.name(model, n)
            for n in names
            if not (isinstance(n, str) and self.removed(model, n))
        ]

    def vals(self, model: str, vals: Any, method: str = "write") -> Any:
        if not isinstance(vals, Mapping):
            return vals
        out: Values = {}
        for name, value in vals.items():
            if self.removed(model, name):
                if value in (False, None, "", []):
                    continue  # clearing a field the series no longer has is a no-op
                raise InvalidField(
                    f"Odoo {self.major} has no field {model}.{name} (removed after Odoo 18); "
                    f"value {value!r} cannot be written",
                    field=name,
                    model=model,
                    method=method,
                    rule="field_removed_in_series",
                )
            comodel = self.x2many.get((model, name))
            if comodel and isinstance(value, list):
                value = [self._command(comodel, c, method) for c in value]
            out[self.name(model, name)] = value
        return out

    def _command(self, comodel: str, command: Any, method: str) -> Any:
        if isinstance(command, list | tuple) and len(command) == 3 and command[0] in (0, 1):
            return [command[0], command[1], self.vals(comodel, command[2], method)]
        return command

    def domain(self, model: str, domain: Any) -> Any:
        if not isinstance(domain, list | tuple):
            return domain
        out: list[Any] = []
        for leaf in domain:
            if isinstance(leaf, list | tuple) and len(leaf) == 3 and isinstance(leaf[0], str):
                out.append([self.name(model, leaf[0]), leaf[1], leaf[2]])
            else:
                out.append(leaf)
        return out

    # -- incoming --------------------------------------------------------------------------

    def hub_name(self, model: str, name: str) -> str:
        back: dict[str, dict[str, str]] = self._back  # type: ignore[attr-defined]
        return back.get(model, {}).get(name, name)

    def row(self, model: str, row: Any, asked: Any = None) -> Any:
        """A record dict back in the hub's names; removed fields that were asked for as False."""
        if not isinstance(row, dict):
            return row
        out = {self.hub_name(model, k): v for k, v in row.items()}
        if isinstance(asked, list | tuple):
            for name in asked:
                if isinstance(name, str) and self.removed(model, name):
                    out.setdefault(name, False)
        return out

    def rows(self, model: str, rows: Any, asked: Any = None) -> Any:
        if isinstance(rows, list):
            return [self.row(model, r, asked) for r in rows]
        return rows


# Where each translated argument sits in an 18-style ``execute_kw`` call: method -> {kind:
# (position in args, keyword name)}. Positions count the ids of record methods (write/read).
_ARGUMENTS: dict[str, dict[str, tuple[int, str]]] = {
    "create": {"vals": (0, "vals_list")},
    "write": {"vals": (1, "vals")},
    "read": {"fields": (1, "fields")},
    "search": {"domain": (0, "domain")},
    "search_count": {"domain": (0, "domain")},
    "search_read": {"domain": (0, "domain"), "fields": (1, "fields")},
    "read_group": {"domain": (0, "domain"), "fields": (1, "fields"), "groupby": (2, "groupby")},
    "name_search": {"domain": (1, "args")},
    "default_get": {"fields": (0, "fields_list")},
    "fields_get": {"fields": (0, "allfields")},
    "load": {"fields": (0, "fields")},
}
_ROW_RESULTS = frozenset({"read", "search_read", "read_group"})
_KEYED_RESULTS = frozenset({"fields_get", "default_get"})


@dataclass(frozen=True)
class TranslatedCall:
    args: list[Any]
    kwargs: dict[str, Any]
    asked: Any
    """The hub's field list (to put back removed fields as False in the answer)."""


def translate_call(
    names: SeriesNames, model: str, method: str, args: Any, kwargs: Mapping[str, Any] | None
) -> TranslatedCall:
    """An 18-style call in the server series' names (a no-op for 18)."""
    args, kw = list(args), dict(kwargs or {})
    if names.identity:
        return TranslatedCall(args, kw, None)
    names.check_model(model, method)
    asked: Any = None
    for kind, (position, keyword) in _ARGUMENTS.get(method, {}).items():
        # 19 renamed two keywords (name_search args -> domain, default_get fields_list -> fields)
        for key in {keyword, {"args": "domain", "fields_list": "fields"}.get(keyword, keyword)}:
            if key in kw:
                kw[key], asked = _translate(names, model, method, kind, kw[key], asked)
        if position < len(args):
            args[position], asked = _translate(names, model, method, kind, args[position], asked)
    return TranslatedCall(args, kw, asked)


def _translate(
    names: SeriesNames, model: str, method: str, kind: str, value: Any, asked: Any
) -> tuple[Any, Any]:
    if kind == "vals":
        if isinstance(value, list):
            return [names.vals(model, v, method) for v in value], asked
        return names.vals(model, value, method), asked
    if kind == "domain":
        return names.domain(model, value), asked
    if kind == "groupby" and isinstance(value, list | tuple):
        return [names.name(model, g) if isinstance(g, str) else g for g in value], asked
    return names.fields(model, value), value


def translate_result(
    names: SeriesNames, model: str, method: str, result: Any, asked: Any = None
) -> Any:
    """The server's answer back in the hub's (18) names."""
    if names.identity:
        return result
    if method in _ROW_RESULTS:
        return names.rows(model, result, asked)
    if method in _KEYED_RESULTS:
        return names.row(model, result, asked if method == "default_get" else None)
    return result


ODOO_18 = SeriesNames(major=18)

# Recorded from a real 19.0 (shared/odoo19 README "Differences from Odoo 18" #3, fields/*.json).
ODOO_19 = SeriesNames(
    major=19,
    renamed={
        "sale.order.line": {"product_uom": "product_uom_id", "tax_id": "tax_ids"},
        "project.milestone": {"product_uom": "product_uom_id"},
        "res.users": {"groups_id": "group_ids"},
    },
    removed_fields={
        "res.partner": frozenset(
            {"mobile", "title", "invoice_warn", "invoice_warn_msg", "sale_warn", "debit_limit"}
        ),
        "res.company": frozenset({"mobile"}),
        "uom.uom": frozenset({"category_id", "factor_inv", "uom_type", "ratio"}),
        "product.template": frozenset(
            {"uom_po_id", "uom_category_id", "packaging_ids", "sale_line_warn"}
        ),
        "product.product": frozenset(
            {"uom_po_id", "uom_category_id", "packaging_ids", "sale_line_warn"}
        ),
        "sale.order.line": frozenset(
            {"product_uom_category_id", "product_packaging_id", "product_packaging_qty"}
        ),
        "sale.advance.payment.inv": frozenset({"amount_to_invoice"}),
        "hr.expense": frozenset(
            {"sheet_id", "accounting_date", "approved_by", "approved_on", "product_uom_category_id"}
        ),
        "account.move": frozenset({"expense_sheet_id"}),
        "account.payment": frozenset({"expense_sheet_id"}),
    },
    removed_models=frozenset({"hr.expense.sheet"}),
    x2many={
        ("sale.order", "order_line"): "sale.order.line",
        ("project.project", "milestone_ids"): "project.milestone",
        ("sale.order.line", "milestone_ids"): "project.milestone",
    },
)


def names_for(major: int) -> SeriesNames:
    """The table for a server's major version (18 and older speak the hub's names)."""
    return ODOO_19 if major >= 19 else ODOO_18


__all__ = [
    "ODOO_18",
    "ODOO_19",
    "SeriesNames",
    "TranslatedCall",
    "names_for",
    "translate_call",
    "translate_result",
]
