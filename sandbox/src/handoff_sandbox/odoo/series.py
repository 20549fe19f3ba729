"""Which Odoo series the sandbox claims to be: version strings, JSON-2, and 19's field names.

18.0 (the default) is what the recorded ``psa`` server runs: no JSON-2. 19.0 answers its recorded
version strings, serves ``/json/2``, and shows the 18 data model under 19's names: the renames
and removals of ``data/odoo19/names.json`` (derived from the two servers' ``fields_get``) are
applied at the RPC boundary, so the ORM underneath stays one (18-shaped) implementation.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from .errors import InvalidValue, OdooError

DATA = Path(__file__).parent / "data"


@dataclass(frozen=True)
class FieldView:
    """A series' names over the 18 schema: ``renamed`` is model -> {series name: 18 name}."""

    renamed: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    removed_fields: Mapping[str, frozenset[str]] = field(default_factory=dict)
    removed_models: frozenset[str] = frozenset()

    @property
    def identity(self) -> bool:
        return not (self.renamed or self.removed_fields or self.removed_models)

    def inner(self, model: str, name: str) -> str:
        """The 18 name of a field the client named (first element of a path)."""
        head, sep, rest = name.partition(".")
        head, slash, tail = head.partition("/")
        renamed = self.renamed.get(model, {})
        if head in self.removed_fields.get(model, ()) or (
            head in renamed.values() and (head not in renamed)
        ):
            head = f"{head}\x00gone"  # an 18-only name is unknown to this series
        head = renamed.get(head, head)
        return f"{head}{slash}{tail}{sep}{rest}"

    def outer(self, model: str, name: str) -> str:
        for new, old in self.renamed.get(model, {}).items():
            if old == name:
                return new
        return name

    def hides(self, model: str, name: str) -> bool:
        return name in self.removed_fields.get(model, ())

    # -- requests ---------------------------------------------------------------------------

    def vals(self, model: str, vals: Any) -> Any:
        if not isinstance(vals, dict):
            return vals
        out: dict[str, Any] = {}
        for name, value in vals.items():
            inner = self.inner(model, name)
            if isinstance(value, list):
                value = [self._command(model, inner, c) for c in value]
            out[inner] = value
        return out

    def _command(self, model: str, inner: str, command: Any) -> Any:
        from .schema import load_models

        spec = load_models().get(model)
        target = spec.fields.get(inner) if spec else None
        if (
            target is not None
            and target.relation
            and isinstance(command, list)
            and len(command) == 3
            and command[0] in (0, 1)
        ):
            return [command[0], command[1], self.vals(target.relation, command[2])]
        return command

    def names(self, model: str, names: Any) -> Any:
        if isinstance(names, list):
            return [self.inner(model, n) if isinstance(n, str) else n for n in names]
        return names

    def domain(self, model: str, domain: Any) -> Any:
        if not isinstance(domain, list):
            return domain
        return [
            [self.inner(model, leaf[0]), *leaf[1:]]
            if isinstance(leaf, list) and len(leaf) == 3 and isinstance(leaf[0], str)
            else leaf
            for leaf in domain
        ]

    # -- answers ----------------------------------------------------------------------------

    def row(self, model: str, row: Any) -> Any:
        if not isinstance(row, dict):
            return row
        return {self.outer(model, k): v for k, v in row.items() if not self.hides(model, k)}

    def request(
        self, model: str, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[list[Any], dict[str, Any]]:
        """An RPC call (positional or named) from the series' names to the 18 schema."""
        if self.identity:
            return args, kwargs
        args, kwargs = list(args), dict(kwargs)
        for kind, position, keywords in _ARGUMENTS.get(method, ()):
            convert = {"vals": self._vals_or_list, "domain": self.domain, "fields": self.names}[
                kind
            ]
            if position is not None and position < len(args):
                args[position] = convert(model, args[position])
            for key in keywords:
                if key in kwargs:
                    kwargs[key] = convert(model, kwargs[key])
        if method == "web_search_read" and isinstance(kwargs.get("specification"), dict):
            kwargs["specification"] = {
                self.inner(model, k): v for k, v in kwargs["specification"].items()
            }
        return args, kwargs

    def _vals_or_list(self, model: str, value: Any) -> Any:
        if isinstance(value, list):
            return [self.vals(model, v) for v in value]
        return self.vals(model, value)

    def answer(self, model: str, method: str, result: Any) -> Any:
        if self.identity:
            return result
        if isinstance(result, dict) and result.get("type") == "ir.actions.act_window":
            return self.action(result)
        if method in ("read", "search_read", "read_group", "web_read") and isinstance(result, list):
            return [self.row(model, r) for r in result]
        if method == "web_search_read" and isinstance(result, dict):
            return {**result, "records": [self.row(model, r) for r in result.get("records", [])]}
        if method in ("fields_get", "default_get"):
            return self.row(model, result)
        return result

    def action(self, action: dict[str, Any]) -> dict[str, Any]:
        """A window action as 19 reads it: `group_ids` (was `groups_id`), the new `cache` flag,
        and 19's customer-invoice list domain (quote_to_cash.json #20)."""
        out = {("group_ids" if k == "groups_id" else k): v for k, v in action.items()}
        if "xml_id" in out:  # a stored action read back (an action built in code has no cache)
            out.setdefault("cache", True)
        if out.get("xml_id") == "account.action_move_out_invoice_type":
            out["domain"] = "[('move_type', 'in', ['out_invoice', 'out_refund', 'out_receipt'])]"
        return out

    def error(self, exc: Exception) -> Exception:
        """An 18-only name in an error message shows as the name the client used."""
        if isinstance(exc, OdooError) and "\x00gone" in exc.message:
            exc.message = exc.message.replace("\x00gone", "")
            exc.args = (exc.message,)
        return exc


# Where the field-bearing arguments of an RPC call sit: (kind, position in execute_kw args counting
# the ids of record methods, keyword names).
_ARGUMENTS: dict[str, tuple[tuple[str, int | None, tuple[str, ...]], ...]] = {
    "create": (("vals", 0, ("vals_list", "vals")),),
    "write": (("vals", 1, ("vals",)),),
    "read": (("fields", 1, ("fields",)),),
    "search": (("domain", 0, ("domain", "args")),),
    "search_count": (("domain", 0, ("domain", "args")),),
    "search_read": (("domain", 0, ("domain",)), ("fields", 1, ("fields",))),
    "web_search_read": (("domain", 0, ("domain",)),),
    "read_group": (
        ("domain", 0, ("domain",)),
        ("fields", 1, ("fields",)),
        ("fields", 2, ("groupby",)),
    ),
    "name_search": (("domain", 1, ("domain", "args")),),
    "default_get": (("fields", 0, ("fields", "fields_list")),),
    "fields_get": (("fields", 0, ("allfields",)),),
    "load": (("fields", 0, ("fields",)),),
}

# Odoo 19 words some ORM errors differently (shared/odoo19 create_unknown_field.json).
_19_MESSAGES: tuple[tuple[str, str, str], ...] = (
    ("create", r"^Invalid field '([^']+)' on model '([^']+)'$", r"Invalid field '\1' in '\2'"),
    ("read", r"^Invalid field '([^']+)' on model '([^']+)'$", r"Invalid field '\1' on '\2'"),
    ("search_read", r"^Invalid field '([^']+)' on model '([^']+)'$", r"Invalid field '\1' on '\2'"),
    ("search_read", r"^Invalid field ([\w.]+) in leaf (.*)$", r"Invalid field \1 in condition \2"),
    ("search", r"^Invalid field ([\w.]+) in leaf (.*)$", r"Invalid field \1 in condition \2"),
)


_REQUIRED_18 = re.compile(
    r"^The operation cannot be completed:\n- Create/update: a mandatory field is not set\.\n"
    r"- Delete: another model requires the record being deleted\. If possible, archive it "
    r"instead\.\n\nModel: (?P<model_string>.+) \((?P<model>[\w.]+)\)\n"
    r"Field: (?P<field_string>.+) \((?P<field>\w+)\)\n$"
)
_FOREIGN_KEY_18 = re.compile(
    r"^The operation cannot be completed: another model requires the record being deleted\. "
    r"If possible, archive it instead\.\n\nModel: (?P<model_string>.+) \((?P<model>[\w.]+)\)"
    r"\nConstraint: (?P<constraint>\w+)\n$"
)


def _reword_integrity_19(exc: OdooError) -> None:
    """19's texts for a missing required value and a foreign key (required_field_error.json #1,
    create_unknown_field.json #6); the 18 sandbox ORM words them as 18 does."""
    from .schema import load_models

    message = exc.message
    if found := _REQUIRED_18.match(message):
        message = (
            "The operation cannot be completed: Missing required value for the field "
            f"'{found['field_string']}' ({found['field']}).\nModel: '{found['model_string']}' "
            f"({found['model']})\n- create/update: a mandatory field is not set\n"
            "- delete: another model requires the record being deleted, you can archive it "
            "instead\n"
        )
    elif found := _FOREIGN_KEY_18.match(message):
        model = found["model"]
        column = (
            found["constraint"].removeprefix(model.replace(".", "_") + "_").removesuffix("_fkey")
        )
        spec = load_models().get(model)
        field = spec.fields.get(column) if spec else None
        label = field.string if field is not None else column
        message = (
            "The operation cannot be completed: Another model is using the record you are "
            f"trying to delete.\n\nThe troublemaker is: '{found['model_string']}' ({model})\n"
            f"Thanks to the following constraint: '{label}' ({column})\n"
            "How about archiving the record instead?"
        )
    exc.message = message
    exc.args = (message,)


@dataclass(frozen=True)
class Series:
    major: int
    server_version: str
    view: FieldView = field(default_factory=FieldView)

    @property
    def serie(self) -> str:
        return f"{self.major}.0"

    @property
    def version_info(self) -> list[Any]:
        return [self.major, 0, 0, "final", 0, ""]

    @property
    def json2(self) -> bool:
        """JSON-2 (``/json/2/<model>/<method>``) exists from Odoo 19 on."""
        return self.major >= 19

    def common_version(self) -> dict[str, Any]:
        return {
            "server_version": self.server_version,
            "server_version_info": self.version_info,
            "server_serie": self.serie,
            "protocol_version": 1,
        }

    def web_version(self) -> dict[str, Any]:
        return {"version_info": self.version_info, "version": self.server_version}

    def reword(self, method: str, exc: Exception) -> Exception:
        exc = self.view.error(exc)
        if self.major >= 19 and isinstance(exc, OdooError):
            _reword_integrity_19(exc)
        if self.major < 19 or not isinstance(exc, InvalidValue):
            return exc
        unknown = re.match(r"^Invalid field '([^']+)' on model '[^']+'$", exc.message)
        if method == "write" and unknown:
            # 19's write looks the field up in a dict: KeyError (create_unknown_field.json #2)
            missing = OdooError(unknown.group(1))
            missing.wire_name = "builtins.KeyError"  # type: ignore[misc]
            return missing
        for on, pattern, replacement in _19_MESSAGES:
            if on == method and re.match(pattern, exc.message):
                exc.message = re.sub(pattern, replacement, exc.message)
                exc.args = (exc.message,)
        return exc


@cache
def _view_19() -> FieldView:
    raw = json.loads((DATA / "odoo19" / "names.json").read_text())
    return FieldView(
        renamed={m: dict(names) for m, names in raw["renamed_19_to_18"].items()},
        removed_fields={m: frozenset(names) for m, names in raw["removed_fields"].items()},
        removed_models=frozenset(raw["removed_models"]),
    )


SERIES_18 = Series(major=18, server_version="18.0-20250421")


def series(name: str | int) -> Series:
    """``18`` / ``"18.0"`` (default) or ``19`` / ``"19.0"``."""
    major = int(str(name).split(".")[0])
    if major == 18:
        return SERIES_18
    if major == 19:
        return Series(major=19, server_version="19.0+e-20251227", view=_view_19())
    raise ValueError(f"the Odoo sandbox emulates series 18 and 19, not {name!r}")


@cache
def languages() -> list[list[str]]:
    """``db.list_lang`` as the recorded 18 server answers it (res.lang.csv, sorted by name)."""
    return json.loads((DATA / "list_lang.json").read_text())["result"]


__all__ = ["SERIES_18", "FieldView", "Series", "languages", "series"]
