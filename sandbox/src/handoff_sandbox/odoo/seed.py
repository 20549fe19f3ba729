"""The initial content of database "psa", mirroring the recorded install (README: no demo data).

Ids match the recorded ones where transcripts rely on them: company 1, partners 1 (My Company) and
3 (Administrator), users 1 (OdooBot) and 2 (admin), USD 1, United States 233, Hours uom 4, tax 1,
journals 1 INV ... 6 BNK1, 7 CSH1, accounts 7 (receivable) and 27 (product sales), employee 1.
"""

from __future__ import annotations

from typing import Any

from .auth import SEED_API_KEY, credentials_tables, issue_api_key
from .introspection import seed_fields
from .orm import Env

Vals = dict[str, Any]


def _put(env: Env, model: str, record_id: int, vals: Vals) -> int:
    """Create one record, then give it the recorded id (seed only; nothing references it yet)."""
    records = env[model]
    created = records.create([vals])[0]
    if created != record_id:
        env.conn.execute(f"UPDATE {records.spec.table} SET id=? WHERE id=?", (record_id, created))
    return record_id


def seed(env: Env) -> None:
    credentials_tables(env.db)
    conn = env.conn
    # Rows that others point to are written first, with raw SQL, to break the cycles
    # (company -> partner -> company, user -> partner...).
    conn.execute(
        "INSERT INTO res_currency(id, name, symbol, active, full_name) "
        "VALUES (1, 'USD', '$', 1, 'United States dollar'), "
        "(2, 'EUR', '€', 0, 'Euro')"
    )
    conn.execute("INSERT INTO res_country(id, name, code) VALUES (233, 'United States', 'US')")
    conn.execute(
        "INSERT INTO res_partner(id, name, complete_name, is_company, active, type, "
        "commercial_partner_id, country_id, lang, autopost_bills) VALUES "
        "(1, 'My Company', 'My Company', 1, 1, 'contact', 1, 233, 'en_US', 'ask'), "
        "(2, 'OdooBot', 'OdooBot', 0, 0, 'contact', 2, NULL, 'en_US', 'ask'), "
        "(3, 'Administrator', 'Administrator', 0, 1, 'contact', 3, NULL, 'en_US', "
        "'ask')"
    )
    conn.execute("UPDATE res_partner SET company_id=1 WHERE id IN (2, 3)")
    conn.execute(
        "INSERT INTO res_company(id, name, partner_id, currency_id, "
        "fiscalyear_last_day, fiscalyear_last_month, layout_background, "
        "account_price_include, account_opening_date, chart_template, active, "
        "account_peppol_proxy_state) VALUES "
        "(1, 'My Company', 1, 1, 31, '12', 'Blank', 'tax_excluded', '2026-01-01', "
        "'generic_coa', 1, 'not_registered')"
    )
    for group_id, name in ((1, "Internal User"), (10, "Portal"), (12, "Public"), (7, "Settings")):
        conn.execute("INSERT INTO res_groups(id, name) VALUES (?, ?)", (group_id, name))
    conn.execute(
        "INSERT INTO res_users(id, login, partner_id, company_id, active, share, "
        "notification_type, groups_id, company_ids) VALUES "
        "(1, '__system__', 2, 1, 0, 0, 'email', '[1]', '[1]'), "
        "(2, 'admin', 3, 1, 1, 0, 'email', '[1, 7]', '[1]')"
    )
    conn.execute("INSERT INTO sandbox_password(uid, password) VALUES (2, 'admin')")
    issue_api_key(env, 2, "sandbox seed key", SEED_API_KEY)
    stamp(env)

    for xml, model, res_id in (
        ("base.group_user", "res.groups", 1),
        ("base.group_portal", "res.groups", 10),
        ("base.main_company", "res.company", 1),
        ("base.main_partner", "res.partner", 1),
        ("base.user_admin", "res.users", 2),
        ("base.partner_admin", "res.partner", 3),
        ("base.USD", "res.currency", 1),
        ("base.us", "res.country", 233),
        ("uom.product_uom_hour", "uom.uom", 4),
        ("uom.product_uom_unit", "uom.uom", 1),
        ("uom.product_uom_day", "uom.uom", 3),
        ("uom.product_uom_dozen", "uom.uom", 2),
        ("uom.product_uom_categ_unit", "uom.category", 1),
        ("uom.uom_categ_wtime", "uom.category", 3),
        ("hr.employee_admin", "hr.employee", 1),
    ):
        module, name = xml.split(".")
        env["ir.model.data"].create(
            [{"module": module, "name": name, "model": model, "res_id": res_id, "noupdate": True}]
        )
    # The modules of the reference install (../shared/real-odoo: psa_template) that clients ask
    # about; ir.module.module is readable like on the real server.
    env["ir.module.module"].create(
        [
            {
                "name": name,
                "state": state,
                "shortdesc": desc,
                "license": lic,
                "to_buy": lic == "OEEL-1",
                "application": app,
                "sequence": 100,
            }
            for name, state, desc, lic, app in (
                ("base", "installed", "Base", "LGPL-3", False),
                ("account", "installed", "Invoicing", "LGPL-3", True),
                ("account_peppol", "installed", "Peppol", "LGPL-3", False),
                ("analytic", "installed", "Analytic Accounting", "LGPL-3", False),
                ("contacts", "installed", "Contacts", "LGPL-3", True),
                ("crm", "installed", "CRM", "LGPL-3", True),
                ("hr", "installed", "Employees", "LGPL-3", True),
                ("hr_expense", "installed", "Expenses", "LGPL-3", True),
                ("hr_timesheet", "installed", "Task Logs", "LGPL-3", False),
                ("l10n_de", "installed", "Germany - Accounting", "LGPL-3", False),
                ("l10n_uk", "installed", "UK - Accounting", "LGPL-3", False),
                ("l10n_us_account", "installed", "United States - Accounting", "LGPL-3", False),
                ("product", "installed", "Products & Pricelists", "LGPL-3", False),
                ("project", "installed", "Project", "LGPL-3", True),
                (
                    "project_timesheet_holidays",
                    "uninstalled",
                    "Timesheet when on Time Off",
                    "LGPL-3",
                    False,
                ),
                ("sale", "installed", "Sales", "LGPL-3", False),
                ("sale_expense", "installed", "Sales Expense", "LGPL-3", False),
                ("sale_management", "installed", "Sales", "LGPL-3", True),
                ("sale_project", "installed", "Sales - Project", "LGPL-3", False),
                ("sale_timesheet", "installed", "Sales Timesheet", "LGPL-3", False),
                ("timesheet_grid", "uninstallable", "Timesheets", "OEEL-1", True),
                ("uom", "installed", "Units of measure", "LGPL-3", False),
            )
        ]
    )
    env["ir.model"].create(
        [
            {"name": spec.description, "model": spec.name, "transient": spec.transient}
            for spec in env.db.models.values()
        ]
    )
    seed_fields(env)

    for uom_id, cat, name, kind, factor in (
        (1, 1, "Units", "reference", 1.0),
        (2, 1, "Dozens", "bigger", 1 / 12),
        (3, 3, "Days", "reference", 1.0),
        (4, 3, "Hours", "smaller", 8.0),
    ):
        env.conn.execute(
            "INSERT OR IGNORE INTO uom_category(id, name) VALUES (?, ?)",
            (cat, {1: "Unit", 3: "Working Time"}[cat]),
        )
        _put(
            env,
            "uom.uom",
            uom_id,
            {
                "name": name,
                "category_id": cat,
                "uom_type": kind,
                "factor": factor,
                "factor_inv": 1 / factor,
                "rounding": 0.01,
                "active": True,
                # hr_timesheet's data: how the timesheet grid edits it
                "timesheet_widget": {3: "float_toggle", 4: "float_time"}.get(uom_id, False),
            },
        )
    env.conn.execute("INSERT INTO product_category(id, name) VALUES (1, 'All')")
    env.conn.execute("INSERT INTO account_analytic_plan(id, name) VALUES (1, 'Projects')")
    env.conn.execute(
        "INSERT INTO account_tax_group(id, name, company_id, country_id, active) "
        "VALUES (1, 'Tax 15%', 1, 233, 1)"
    )
    for account_id, code, name, kind in (
        (7, "121000", "Account Receivable", "asset_receivable"),
        (17, "211000", "Account Payable", "liability_payable"),
        (27, "400000", "Product Sales", "income"),
        (33, "600000", "Expenses", "expense"),
        (45, "101401", "Bank", "asset_cash"),
    ):
        _put(env, "account.account", account_id, {"code": code, "name": name, "account_type": kind})
    for tax_id, name, use in ((1, "15%", "sale"), (2, "15%", "purchase")):
        _put(
            env,
            "account.tax",
            tax_id,
            {
                "name": name,
                "amount": 15.0,
                "amount_type": "percent",
                "type_tax_use": use,
                "country_id": 233,
                "tax_group_id": 1,
                "sequence": 1,
            },
        )
    for journal_id, code, name, kind in (
        (1, "INV", "Customer Invoices", "sale"),
        (2, "BILL", "Vendor Bills", "purchase"),
        (3, "MISC", "Miscellaneous Operations", "general"),
        (4, "EXCH", "Exchange Difference", "general"),
        (5, "CABA", "Cash Basis Taxes", "general"),
        (6, "BNK1", "Bank", "bank"),
        (7, "CSH1", "Cash", "cash"),
    ):
        _put(
            env,
            "account.journal",
            journal_id,
            {
                "code": code,
                "name": name,
                "type": kind,
                "invoice_reference_model": "odoo",
                "invoice_reference_type": "invoice",
            },
        )
    env["account.payment.method.line"].create(
        [
            {"name": "Manual Payment", "journal_id": 6, "payment_type": "inbound"},
            {"name": "Manual Payment", "journal_id": 6, "payment_type": "outbound"},
            {"name": "Manual Payment", "journal_id": 7, "payment_type": "inbound"},
        ]
    )
    # Odoo's data files create these terms without a company: every company shares them.
    env["account.payment.term"].create(
        [
            {"name": name, "sequence": seq, "company_id": False}
            for seq, name in enumerate(
                (
                    "Immediate Payment",
                    "15 Days",
                    "21 Days",
                    "30 Days",
                    "45 Days",
                    "End of Following Month",
                    "10 Days after End of Next Month",
                    "30% Now, Balance 60 Days",
                ),
                start=1,
            )
        ]
    )
    env["crm.stage"].create(
        [
            {"name": n, "sequence": i}
            for i, n in enumerate(("New", "Qualified", "Proposition", "Won"), start=1)
        ]
    )
    env["crm.stage"].write([4], {"is_won": True})
    env["project.project"].create([{"name": "Internal", "allow_billable": False}])
    _put(
        env,
        "hr.employee",
        1,
        {"name": "Administrator", "user_id": 2, "company_id": 1, "work_contact_id": 3},
    )


def stamp(env: Env) -> None:
    from .orm import utc_now

    now = utc_now()
    for table in ("res_partner", "res_users", "res_company", "res_currency"):
        env.conn.execute(
            f"UPDATE {table} SET create_date=?, write_date=?, create_uid=1, write_uid=1", (now, now)
        )
