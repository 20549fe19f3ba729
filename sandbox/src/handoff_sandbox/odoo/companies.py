"""Companies: their country (the partner's) and their chart of accounts.

A company's ``country_id`` is not stored: Odoo reads and writes it on the company's partner.

Real Odoo 18 loads a chart (accounts, journals, tax groups) for a company created over RPC only
when creating it installed its country's localisation; otherwise (a US company: ``generic_coa``)
the company has no sale journal and invoicing fails with "No journal could be found in company
… for any of those types: sale" (hub_calls_refused_by_real_odoo.json #3) until
``account.chart.template.try_loading(template_code, company)`` runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .behaviours import Behaviour, m2o_id, register, rpc

if TYPE_CHECKING:
    from .orm import Model

Vals = dict[str, Any]
# Country code -> the chart Odoo 18 guesses for it (``_guess_chart_template``) among those the
# recorded install has; every other country gets the generic chart.
CHARTS_BY_COUNTRY = {"GB": "uk", "DE": "de_skr03", "US": "generic_coa"}
# What a chart makes per company that invoicing and payments look up.
CHART_JOURNALS = (
    ("INV", "Customer Invoices", "sale"),
    ("BILL", "Vendor Bills", "purchase"),
    ("MISC", "Miscellaneous Operations", "general"),
    ("BNK1", "Bank", "bank"),
    ("CSH1", "Cash", "cash"),
)


@register
class Company(Behaviour):
    model = "res.company"

    def compute_country_id(self, model: Model, ids: list[int]) -> dict[int, Any]:
        partners = model.raw_rows(ids, ["partner_id"])
        countries = model.env["res.partner"].raw_rows(
            [p for r in partners.values() if (p := r["partner_id"])], ["country_id"]
        )
        return {
            i: countries[r["partner_id"]]["country_id"]
            for i, r in partners.items()
            if r["partner_id"] in countries and countries[r["partner_id"]]["country_id"]
        }

    def before_create(self, model: Model, vals_list: list[Vals]) -> list[Vals]:
        # Odoo makes the company's partner when none is given (res.company.create).
        for vals in vals_list:
            if not vals.get("partner_id") and vals.get("name"):
                vals["partner_id"] = model.env["res.partner"].create([{
                    "name": vals["name"], "is_company": True,
                    **{k: vals[k] for k in ("email", "phone", "website", "vat") if vals.get(k)},
                }])[0]  # fmt: skip
        return vals_list

    def after_create(self, model: Model, ids: list[int], vals_list: list[Vals]) -> None:
        for record_id, vals in zip(ids, vals_list, strict=True):
            self._country_to_partner(model, [record_id], vals)

    def after_write(self, model: Model, ids: list[int], vals: Vals) -> None:
        self._country_to_partner(model, ids, vals)

    @staticmethod
    def _country_to_partner(model: Model, ids: list[int], vals: Vals) -> None:
        if "country_id" not in vals:
            return
        partners = [
            r["partner_id"] for r in model.raw_rows(ids, ["partner_id"]).values() if r["partner_id"]
        ]
        if partners:
            model.env["res.partner"].write(partners, {"country_id": m2o_id(vals["country_id"])})


@register
class ChartTemplate(Behaviour):
    model = "account.chart.template"

    @rpc()
    def try_loading(
        self,
        model: Model,
        ids: Any,
        template_code: str | bool = False,
        company: int | bool = False,
        install_demo: bool = False,
        force_create: bool = True,
        **_: Any,
    ) -> None:
        if not company:
            return None
        env = model.env
        [row] = env["res.company"].read_rows([int(company)], ["country_id", "chart_template"])
        country = m2o_id(row["country_id"])
        code = template_code or self._guess(model, country)
        if row["chart_template"] == code:
            return None
        env["res.company"].write([int(company)], {"chart_template": code})
        journals = env["account.journal"]
        have = {
            r["type"]
            for r in journals.values(
                journals.search_ids([["company_id", "=", int(company)]]), ["type"]
            )
        }
        journals.create(
            [
                {
                    "code": jcode,
                    "name": name,
                    "type": kind,
                    "company_id": int(company),
                    "invoice_reference_model": "odoo",
                    "invoice_reference_type": "invoice",
                }
                for jcode, name, kind in CHART_JOURNALS
                if kind not in have
            ]
        )
        groups = env["account.tax.group"]
        if country and not groups.search_ids(
            [["company_id", "=", int(company)], ["country_id", "=", country]]
        ):
            groups.create([{"name": "Tax 15%", "company_id": int(company), "country_id": country}])
        return None

    @staticmethod
    def _guess(model: Model, country: int | None) -> str:
        if not country:
            return "generic_coa"
        [row] = model.env["res.country"].read_rows([country], ["code"])
        return CHARTS_BY_COUNTRY.get(str(row["code"] or ""), "generic_coa")
