"""Currency rates and conversions, as Odoo 18 keeps and applies them (base/models/res_currency.py).

- ``res.currency.rate``: ``rate`` is how many units of the currency one unit of the company's
  currency buys, from its date (``name``) on; a rate belongs to a main company (``company_id``)
  or to every company (no company). One rate per (day, currency, company), strictly positive.
- The rate of a currency for a company on a day (``_get_rates``): among the rates of the
  company's root company or of no company, dated on or before the day, the company's own first
  (``ORDER BY company_id.id, name DESC``: a NULL company sorts last), the newest of them; with
  none, the *oldest* rate of the currency; with no rate at all, 1.0. The company's own currency
  usually has no rate, hence 1.
- A conversion (``_get_conversion_rate`` / ``_convert``): amount x rate(to) / rate(from), rounded
  to the target currency's rounding. Nothing signals a missing rate: Odoo converts at 1.
- ``res.currency.rate`` / ``inverse_rate`` read with context ``to_currency``, ``date`` and the
  company (``allowed_company_ids``) are that ratio and its inverse (``_compute_current_rate``).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .behaviours import Behaviour, m2o_id, register
from .errors import ValidationError

if TYPE_CHECKING:
    from .orm import Env, Model

Vals = dict[str, Any]
RATE_MODEL = "res.currency.rate"


def _day(value: Any) -> str:
    return str(value)[:10]


def root_company(env: Env, company_id: int) -> int:
    """The company whose rates a company uses (``company.root_id``: the top of its parents)."""
    companies = env["res.company"]
    seen: set[int] = set()
    current = company_id
    while current not in seen:
        seen.add(current)
        row = companies.raw_rows([current], ["parent_id"]).get(current)
        parent = row.get("parent_id") if row else None
        if not parent:
            return current
        current = int(parent)
    return current


def company_currency(env: Env, company_id: int) -> int:
    row = env["res.company"].raw_rows([company_id], ["currency_id"]).get(company_id)
    return int(row["currency_id"]) if row and row.get("currency_id") else 1


def currency_rate(env: Env, currency_id: int, company_id: int, day: str) -> float:
    """``res.currency._get_rates`` for one currency: the rate Odoo applies on ``day``.

    ``COALESCE((newest on or before the day), (oldest), 1.0)``: a rate row left without a rate
    (created without one: NULL) falls through to the oldest rate, as in Odoo."""
    root = root_company(env, company_id)
    rows = env.conn.execute(
        "SELECT name, rate, company_id FROM res_currency_rate WHERE currency_id=? "
        "AND (company_id IS NULL OR company_id=?)",
        (currency_id, root),
    ).fetchall()
    on_or_before = [r for r in rows if _day(r[0]) <= day]
    if on_or_before:
        # ORDER BY company_id.id (NULL last), name DESC
        picked = min(on_or_before, key=lambda r: (r[2] is None, _neg_day(r[0])))[1]
        if picked:
            return float(picked)
    if rows:
        # the fallback: ORDER BY company_id.id (NULL last), name ASC
        oldest = min(rows, key=lambda r: (r[2] is None, _day(r[0])))[1]
        if oldest:
            return float(oldest)
    return 1.0


def _neg_day(value: Any) -> tuple[int, ...]:
    return tuple(-int(part) for part in _day(value).split("-"))


def conversion_rate(env: Env, source: int, target: int, company_id: int, day: str) -> float:
    """``res.currency._get_conversion_rate(source, target, company, date)``."""
    if source == target:
        return 1.0
    return currency_rate(env, target, company_id, day) / currency_rate(env, source, company_id, day)


def currency_round(env: Env, currency_id: int, amount: float) -> float:
    """``res.currency.round``: half-up to the currency's rounding (0.01 when unset)."""
    row = env["res.currency"].raw_rows([currency_id], ["rounding"]).get(currency_id)
    rounding = (
        Decimal(repr(float(row["rounding"]))) if row and row.get("rounding") else Decimal("0.01")
    )
    steps = (Decimal(repr(float(amount))) / rounding).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return float(steps * rounding)


def convert(env: Env, amount: float, source: int, target: int, company_id: int, day: str) -> float:
    """``res.currency._convert(amount, target, company, date)`` (rounded)."""
    if not amount:
        return 0.0
    return currency_round(
        env, target, amount * conversion_rate(env, source, target, company_id, day)
    )


def context_company(env: Env) -> int:
    """``env.company``: the first allowed company of the context, else the user's company."""
    allowed = env.context.get("allowed_company_ids") or []
    if allowed:
        return int(allowed[0])
    row = env["res.users"].raw_rows([env.uid], ["company_id"]).get(env.uid)
    return int(row["company_id"]) if row and row.get("company_id") else 1


@register
class CurrencyRate(Behaviour):
    model = RATE_MODEL

    def defaults(self, model: Model) -> Vals:
        values = super().defaults(model)
        values["company_id"] = root_company(model.env, context_company(model.env))
        return values

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        return [self._sanitize(model, dict(vals)) for vals in vals_list]

    def before_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        cleaned = self._sanitize(model, dict(vals), ids)
        vals.clear()
        vals.update(cleaned)

    def _sanitize(self, model: Model, vals: Vals, ids: list[int] | None = None) -> Vals:
        """``_sanitize_vals`` then the inverses: ``company_rate`` is per the company's currency
        (times its latest rate, 1 without one); ``inverse_company_rate`` is 1 / company_rate."""
        if "inverse_company_rate" in vals and ("company_rate" in vals or "rate" in vals):
            del vals["inverse_company_rate"]
        if "company_rate" in vals and "rate" in vals:
            del vals["company_rate"]
        if "inverse_company_rate" in vals:
            inverse = float(vals.pop("inverse_company_rate") or 1.0)
            vals["company_rate"] = 1.0 / inverse
        if "company_rate" in vals:
            company = m2o_id(vals.get("company_id"))
            if company is None and ids:
                company = model.raw_rows(ids[:1], ["company_id"])[ids[0]]["company_id"]
            company = company or root_company(model.env, context_company(model.env))
            vals["rate"] = float(vals.pop("company_rate") or 0.0) * self._last_rate(model, company)
        return vals

    @staticmethod
    def _last_rate(model: Model, company_id: int) -> float:
        """``_get_last_rates_for_companies``: the newest rate of the company's currency, else 1."""
        currency = company_currency(model.env, company_id)
        row = model.conn.execute(
            "SELECT rate FROM res_currency_rate WHERE currency_id=? AND rate IS NOT NULL AND "
            "rate != 0 AND (company_id=? OR company_id IS NULL) ORDER BY name DESC LIMIT 1",
            (currency, company_id),
        ).fetchone()
        return float(row[0]) if row else 1.0

    @staticmethod
    def _previous_rate(model: Model, row: Vals) -> float | None:
        """``_get_latest_rate``: the currency's newest non-zero rate of the same company before
        the row's date."""
        found = model.conn.execute(
            "SELECT rate FROM res_currency_rate WHERE currency_id=? AND rate != 0 AND "
            "company_id IS ? AND name < ? ORDER BY name DESC LIMIT 1",
            (row.get("currency_id"), row.get("company_id"), row.get("name")),
        ).fetchone()
        return float(found[0]) if found else None

    def check_constraints(self, model: Model, rows: list[Vals]) -> None:
        super().check_constraints(model, rows)
        for row in rows:
            self._check(model, row, None)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        for record_id, row in model.raw_rows(
            ids, ["name", "rate", "currency_id", "company_id"]
        ).items():
            self._check(model, row, record_id)

    @staticmethod
    def _check(model: Model, row: Vals, record_id: int | None) -> None:
        if row.get("rate") is not None and float(row["rate"]) <= 0:
            raise ValidationError(
                "The operation cannot be completed: The currency rate must be strictly positive."
            )
        company = row.get("company_id")
        if company:
            parent = model.env["res.company"].raw_rows([int(company)], ["parent_id"])
            if parent.get(int(company), {}).get("parent_id"):
                raise ValidationError("Currency rates should only be created for main companies")
        same = model.conn.execute(
            "SELECT id FROM res_currency_rate WHERE name=? AND currency_id=? AND company_id IS ? "
            "AND id IS NOT ?",
            (row.get("name"), row.get("currency_id"), company, record_id),
        ).fetchone()
        if same:
            raise ValidationError(
                "The operation cannot be completed: Only one currency rate per day allowed!"
            )

    def compute_company_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        """(rate, else the currency's previous rate, else 1) / the company currency's last rate;
        a rate created without one keeps NULL (reads 0.0) but shows its predecessor here."""
        rows = model.raw_rows(ids, ["name", "rate", "currency_id", "company_id"])
        out = {}
        for record_id, row in rows.items():
            company = row["company_id"] or root_company(model.env, context_company(model.env))
            rate = row["rate"] or self._previous_rate(model, {**row, "company_id": company})
            out[record_id] = float(rate or 1.0) / self._last_rate(model, company)
        return out

    def compute_inverse_company_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: 1.0 / (rate or 1.0) for i, rate in self.compute_company_rate(model, ids).items()}

    def display_names(self, model: Model, ids: list[int]) -> dict[int, str]:
        return {i: str(r["name"]) for i, r in model.raw_rows(ids, ["name"]).items()}


@register
class Currency(Behaviour):
    """res.currency's rate fields: per the context's ``date``, ``to_currency`` and company."""

    model = "res.currency"

    def _rates(self, model: Model, ids: list[int]) -> dict[int, float]:
        env = model.env
        company = context_company(env)
        day = _day(env.context.get("date") or _today())
        target = int(env.context.get("to_currency") or company_currency(env, company))
        target_rate = currency_rate(env, target, company, day)
        return {i: currency_rate(env, i, company, day) / target_rate for i in ids}

    def compute_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return self._rates(model, ids)

    def compute_inverse_rate(self, model: Model, ids: list[int]) -> dict[int, Any]:
        return {i: 1.0 / rate for i, rate in self._rates(model, ids).items()}

    def compute_rate_string(self, model: Model, ids: list[int]) -> dict[int, Any]:
        env = model.env
        company = context_company(env)
        target = int(env.context.get("to_currency") or company_currency(env, company))
        names = {i: r["name"] for i, r in model.raw_rows([*ids, target], ["name"]).items()}
        return {
            i: ""
            if i == company_currency(env, company)
            else f"1 {names.get(target)} = {rate:.6f} {names.get(i)}"
            for i, rate in self._rates(model, ids).items()
        }

    def compute_date(self, model: Model, ids: list[int]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        for record_id in ids:
            row = model.conn.execute(
                "SELECT name FROM res_currency_rate WHERE currency_id=? ORDER BY name DESC LIMIT 1",
                (record_id,),
            ).fetchone()
            out[record_id] = row[0] if row else False
        return out


def _today() -> str:
    from .orm import today

    return today()
