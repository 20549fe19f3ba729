"""Strict comparison of a recorded Odoo answer with a replayed one.

Every key, every list item and every value is compared. `False`, `[]`, `0` and `""` are values like
any other. A value may differ only when one of the named RULES below says why it legitimately
changes between two runs of the same calls; each rule rewrites both sides the same way (or, for
ids, checks that the recorded id always stands for the same replayed id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from handoff_sandbox.odoo.schema import ModelSpec, load_models


@dataclass(frozen=True)
class Rule:
    name: str
    reason: str


RULES: dict[str, Rule] = {
    r.name: r
    for r in (
        Rule(
            "ids",
            "database ids depend on what the database held before; a recorded id must map to "
            "one replayed id (per model), learnt the first time it is seen, then held fixed",
        ),
        Rule(
            "datetimes",
            "create/write dates and `date_order`-like timestamps are the clock of the run",
        ),
        Rule(
            "dates", "today's date (invoice dates, due dates, timesheet dates defaulting to today)"
        ),
        Rule(
            "sequence numbers",
            "INV/2026/00001, S00012, BNK1/2026/00003...: the counters depend on "
            "every earlier record of the database, and the year on the clock",
        ),
        Rule(
            "tracebacks",
            "`error.data.debug` is the server's Python traceback: file paths and line "
            "numbers of the implementation, not part of the contract",
        ),
        Rule("secrets", "API keys, access tokens and session ids are random per run"),
        Rule(
            "float rounding", "floats equal to 1e-9: a computed 0.1+0.2 is not a different amount"
        ),
        Rule(
            "view and action ids",
            "ids of ir.ui.view / ir.actions records are numbered by the order "
            "modules were installed in; they name UI, not data",
        ),
        Rule(
            "record ids in texts",
            "error texts that name record ids (`res.partner(14,)`, "
            "`Record ID: 14`) name the replayed ids",
        ),
    )
}

DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
US_DATE_IN_TEXT = re.compile(r"\b\d{2}/\d{2}/\d{4}\b")
# read_group's label of a `date:day` group ("05 Dec 2026")
DAY_LABEL_IN_TEXT = re.compile(
    r"\b\d{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4}\b"
)
SEQUENCE = re.compile(r"\b([A-Z][A-Z0-9]*)/(\d{4})/(\d{2}/)?(\d{3,6})\b")
ORDER_NUMBER = re.compile(r"\bS\d{5}\b")
SECRET = re.compile(r"^[0-9a-f]{40}$")
SECRET_KEYS = {"access_token", "session_id", "key", "default_key", "access_url", "db_uuid"}
RECORD_IN_TEXT = re.compile(r"\b([a-z_]+(?:\.[a-z_]+)+)\(([\d, ]+)\)")


def normalise_text(text: str) -> str:
    """Rules "datetimes", "dates", "sequence numbers" applied inside a string."""
    if DATETIME.match(text):
        return "<datetime>"
    if DATE.match(text):
        return "<date>"
    text = US_DATE_IN_TEXT.sub("<date>", text)
    text = DAY_LABEL_IN_TEXT.sub("<date>", text)
    text = SEQUENCE.sub(lambda m: f"{m.group(1)}/<year>/<seq>", text)
    return ORDER_NUMBER.sub("S<seq>", text)


@dataclass
class IdMap:
    """Rule "ids": recorded id -> replayed id per model, a bijection learnt as the replay goes."""

    ids: dict[tuple[str, int], int] = field(default_factory=dict)
    claimed: dict[tuple[str, int], int] = field(default_factory=dict)

    def check(self, model: str, recorded: int, actual: int) -> bool:
        known = self.ids.get((model, recorded))
        if known is not None:
            return known == actual
        owner = self.claimed.get((model, actual))
        if owner is not None and owner != recorded:
            return False
        self.ids[(model, recorded)] = actual
        self.claimed[(model, actual)] = recorded
        return True

    def get(self, model: str | None, recorded: Any) -> Any:
        if model and isinstance(recorded, int) and not isinstance(recorded, bool):
            return self.ids.get((model, recorded), recorded)
        return recorded


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Comparer:
    ids: IdMap
    models: dict[str, ModelSpec] = field(default_factory=load_models)
    problems: list[str] = field(default_factory=list)

    def differ(self, path: str, recorded: Any, actual: Any) -> None:
        self.problems.append(f"{path}: recorded {_short(recorded)} != replayed {_short(actual)}")

    # --- values -------------------------------------------------------------------------------
    def value(
        self,
        path: str,
        recorded: Any,
        actual: Any,
        model: str | None = None,
        id_model: str | None = None,
    ) -> None:
        """Compare two values; `id_model` says ints here are ids of that model, `model` that
        dicts here are records of that model."""
        if id_model and is_int(recorded) and is_int(actual):
            if not self.ids.check(id_model, recorded, actual):
                self.differ(f"{path} (id of {id_model})", recorded, actual)
            return
        if type(recorded) is not type(actual):
            if not (isinstance(recorded, float) and isinstance(actual, float)):
                self.differ(path, recorded, actual)
            return
        if isinstance(recorded, dict):
            self.record(path, recorded, actual, model)
        elif isinstance(recorded, list):
            if len(recorded) != len(actual):
                self.differ(f"{path} (length {len(recorded)} vs {len(actual)})", recorded, actual)
                return
            for i, (r, a) in enumerate(zip(recorded, actual, strict=True)):
                self.value(f"{path}[{i}]", r, a, model, id_model)
        elif isinstance(recorded, float):
            if abs(recorded - actual) > 1e-9:  # rule "float rounding"
                self.differ(path, recorded, actual)
        elif isinstance(recorded, str):
            if recorded != actual and normalise_text(recorded) != normalise_text(actual):
                self.differ(path, recorded, actual)
        elif recorded != actual:
            self.differ(path, recorded, actual)

    def record(self, path: str, recorded: dict, actual: dict, model: str | None) -> None:
        if set(recorded) != set(actual):
            missing = sorted(set(recorded) - set(actual))
            extra = sorted(set(actual) - set(recorded))
            self.problems.append(f"{path}: keys missing {missing} extra {extra}")
        action = recorded.get("type")
        if isinstance(action, str) and action.startswith("ir.actions."):
            self.action(path, recorded, actual)
            return
        spec = self.models.get(model or "")
        for key in sorted(set(recorded) & set(actual)):
            r, a = recorded[key], actual[key]
            sub = f"{path}.{key}"
            if key in SECRET_KEYS and isinstance(r, str):  # rule "secrets"
                if type(r) is not type(a):
                    self.differ(sub, r, a)
                continue
            if key == "id" and model:
                self.value(sub, r, a, id_model=model)
                continue
            owner = recorded.get("res_model") or recorded.get("model")
            if key == "res_id" and isinstance(owner, str):  # many2one_reference
                self.value(sub, r, a, id_model=owner)
                continue
            if key == "res_id" and model == "ir.model.data" and is_int(r) and is_int(a):
                # the row's `model` was not read: any model whose recorded id r is a
                if r != a and not any(
                    m_r == r and self.ids.ids[(m, m_r)] == a for m, m_r in self.ids.ids
                ):
                    self.differ(sub, r, a)
                continue
            if key == "analytic_distribution" and isinstance(r, dict) and isinstance(a, dict):
                # rule "ids": the keys are account.analytic.account ids (as text)
                self.value(
                    sub,
                    {
                        self.ids.get("account.analytic.account", int(k)) if k.isdigit() else k: v
                        for k, v in r.items()
                    },
                    {int(k) if k.isdigit() else k: v for k, v in a.items()},
                )
                continue
            fspec = spec.fields.get(key) if spec else None
            if fspec is not None and fspec.relation:
                if (
                    fspec.type == "many2one"
                    and isinstance(r, list)
                    and isinstance(a, list)
                    and len(r) == 2
                    and len(a) == 2
                ):
                    self.value(f"{sub}[0]", r[0], a[0], id_model=fspec.relation)
                    self.value(f"{sub}[1]", r[1], a[1])
                    continue
                self.value(sub, r, a, model=fspec.relation, id_model=fspec.relation)
                continue
            self.value(sub, r, a)

    def action(self, path: str, recorded: dict, actual: dict) -> None:
        """An action dict (ir.actions.*): its own id, its views' ids, and the record ids its
        `res_id` and `context` (`default_<field>`, `active_id(s)`) name."""
        target = recorded.get("res_model")
        spec = self.models.get(target) if isinstance(target, str) else None
        for key in sorted(set(recorded) & set(actual)):
            r, a = recorded[key], actual[key]
            sub = f"{path}.{key}"
            if key == "id":  # rule "view and action ids"
                if type(r) is not type(a):
                    self.differ(sub, r, a)
            elif (
                key in ("view_id", "search_view_id")
                and isinstance(r, list)
                and isinstance(a, list)
                and len(r) == len(a) == 2
            ):
                self.value(f"{sub}[1]", r[1], a[1])  # rule "view and action ids" for [0]
            elif key == "views" and isinstance(r, list) and isinstance(a, list):
                self.value(sub, [v[1:] for v in r], [v[1:] for v in a])
                self.value(f"{sub} (ids set)", [bool(v[0]) for v in r], [bool(v[0]) for v in a])
            elif key == "res_id" and isinstance(target, str):
                self.value(sub, r, a, id_model=target)
            elif key == "context" and isinstance(r, dict) and isinstance(a, dict):
                self.context(sub, r, a, spec)
            else:
                self.value(sub, r, a, model=target if isinstance(target, str) else None)

    def context(self, path: str, recorded: dict, actual: dict, spec: ModelSpec | None) -> None:
        if set(recorded) != set(actual):
            self.problems.append(f"{path}: keys {sorted(recorded)} vs {sorted(actual)}")
        for key in sorted(set(recorded) & set(actual)):
            field = (
                spec.fields.get(key.removeprefix("default_"))
                if spec and key.startswith("default_")
                else None
            )
            id_model = field.relation if field is not None else None
            if key in SECRET_KEYS:  # rule "secrets"
                continue
            if key in ("active_id", "active_ids"):
                id_model = recorded.get("active_model")
            self.value(f"{path}.{key}", recorded[key], actual[key], id_model=id_model)

    # --- whole answers ------------------------------------------------------------------------
    def error(self, recorded: dict, actual: dict) -> None:
        for key in ("code", "message"):
            self.value(f"error.{key}", recorded.get(key), actual.get(key))
        want, got = recorded.get("data", {}), actual.get("data", {})
        if set(want) != set(got):
            self.problems.append(f"error.data: keys {sorted(want)} vs {sorted(got)}")
        for key in sorted(set(want) & set(got)):
            if key == "debug":  # rule "tracebacks"
                continue
            if key in ("message", "arguments"):
                self.value(f"error.data.{key}", self.texts_with_ids(want[key]), got[key])
                continue
            self.value(f"error.data.{key}", want[key], got[key])

    def texts_with_ids(self, value: Any) -> Any:
        """Rule "record ids in texts": recorded ids named in an error text become replayed ids."""
        if isinstance(value, list):
            return [self.texts_with_ids(v) for v in value]
        if not isinstance(value, str):
            return value

        def swap(m: re.Match[str]) -> str:
            ids = [
                self.ids.get(m.group(1), int(i))
                for i in m.group(2).replace(" ", "").split(",")
                if i
            ]
            return (
                f"{m.group(1)}({', '.join(map(str, ids))},)"
                if len(ids) == 1
                else f"{m.group(1)}({', '.join(map(str, ids))})"
            )

        return RECORD_IN_TEXT.sub(swap, value)

    def result(self, model: str | None, method: str | None, recorded: Any, actual: Any) -> None:
        handler = RESULT_SHAPES.get(method or "")
        if model and handler:
            handler(self, model, recorded, actual)
        else:
            self.value("result", recorded, actual, model=model)


def _ids_result(c: Comparer, model: str, recorded: Any, actual: Any) -> None:
    c.value("result", recorded, actual, id_model=model)


def _records_result(c: Comparer, model: str, recorded: Any, actual: Any) -> None:
    c.value("result", recorded, actual, model=model)


def _pairs_result(c: Comparer, model: str, recorded: Any, actual: Any) -> None:
    if not (isinstance(recorded, list) and isinstance(actual, list)) or len(recorded) != len(
        actual
    ):
        c.value("result", recorded, actual)
        return
    for i, (r, a) in enumerate(zip(recorded, actual, strict=True)):
        if isinstance(r, list) and isinstance(a, list) and len(r) == len(a) == 2:
            c.value(f"result[{i}][0]", r[0], a[0], id_model=model)
            c.value(f"result[{i}][1]", r[1], a[1])
        else:
            c.value(f"result[{i}]", r, a)


def _load_result(c: Comparer, model: str, recorded: Any, actual: Any) -> None:
    if isinstance(recorded, dict) and isinstance(actual, dict):
        c.record(
            "result",
            {k: v for k, v in recorded.items() if k != "ids"},
            {k: v for k, v in actual.items() if k != "ids"},
            None,
        )
        c.value("result.ids", recorded.get("ids"), actual.get("ids"), id_model=model)
    else:
        c.value("result", recorded, actual)


RESULT_SHAPES: dict[str, Callable[[Comparer, str, Any, Any], None]] = {
    "create": _ids_result,
    "search": _ids_result,
    "exists": _ids_result,
    "copy": _ids_result,
    "read": _records_result,
    "search_read": _records_result,
    "web_read": _records_result,
    "read_group": _records_result,
    "name_search": _pairs_result,
    "name_create": _pairs_result,
    "load": _load_result,
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."
