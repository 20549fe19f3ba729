"""Access rights of non-admin users, as far as the recorded transcripts show them.

Admin (uid 2) and the superuser (uid 1) may do everything. An internal user holding only
`base.group_user` (res.groups id 1) reads contacts but not sales, CRM or accounting; a portal user
(res.groups id 10) sees only its own partner and its own invoices (record rules filter silently).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import AccessError

if TYPE_CHECKING:
    from .orm import Env
    from .schema import ModelSpec

ADMIN_UIDS = {1, 2}
GROUP_INTERNAL = 1
GROUP_PORTAL = 10

READ_METHODS = {
    "read",
    "search",
    "search_read",
    "search_count",
    "read_group",
    "name_search",
    "web_read",
    "web_search_read",
    "fields_get",
    "default_get",
    "exists",
    "check_access_rights",
    "has_access",
    "context_get",
    "copy_data",
}
OPERATION_WORDS = {"read": "access", "create": "create", "write": "modify", "unlink": "delete"}

# Groups Odoo lists in the AccessError text, per model (recorded for sale.order, crm.lead, res.users).
ALLOWED_GROUPS: dict[tuple[str, str], list[str]] = {
    ("sale.order", "read"): [
        "Invoicing/Invoicing",
        "Project/Administrator",
        "Sales/Administrator",
        "Sales/User: Own Documents Only",
        "Technical/Show Accounting Features - Readonly",
        "Technical/Show Full Accounting Features",
        "User types/Portal",
    ],
    ("crm.lead", "create"): ["Sales/Administrator", "Sales/User: Own Documents Only"],
    ("crm.lead", "read"): ["Sales/Administrator", "Sales/User: Own Documents Only"],
    ("res.users", "write"): ["Administration/Access Rights"],
    ("res.users", "create"): ["Administration/Access Rights"],
    ("res.users", "unlink"): ["Administration/Access Rights"],
}
# What an internal user with no application group may do, by model.
INTERNAL_ALLOWED: dict[str, set[str]] = {
    "res.partner": {"read", "create", "write", "unlink"},
    "res.users": {"read"},
    "res.company": {"read"},
    "res.currency": {"read"},
    "res.country": {"read"},
    "uom.uom": {"read"},
    "ir.model.data": {"read"},
    "ir.model": {"read"},
    "ir.model.fields": {"read"},
    "res.groups": {"read"},
    "product.template": {"read"},
    "product.product": {"read"},
}
PORTAL_RULES: dict[str, str] = {"res.partner": "id", "account.move": "partner_id"}
NOBODY_DELETES = {"res.users.apikeys.description"}


def operation_of(method: str) -> str:
    if method in READ_METHODS:
        return "read"
    if method in ("create", "write", "unlink"):
        return method
    return "write"


def _groups_of(env: Env) -> list[int]:
    row = env.conn.execute("SELECT groups_id FROM res_users WHERE id=?", (env.uid,)).fetchone()
    import json

    return json.loads(row[0]) if row and row[0] else []


def _denied(spec: ModelSpec, operation: str, groups: list[str] | None) -> AccessError:
    word = OPERATION_WORDS[operation]
    if groups:
        listed = "".join(f"\n\t- {g}" for g in groups)
        middle = f"This operation is allowed for the following groups:{listed}"
    else:
        middle = "No group currently allows this operation."
    return AccessError(
        f"You are not allowed to {word} '{spec.description}' ({spec.name}) records.\n\n"
        f"{middle}\n\nContact your administrator to request access if necessary."
    )


def check_model_access(env: Env, spec: ModelSpec, method: str) -> None:
    operation = operation_of(method)
    if spec.name in NOBODY_DELETES and operation == "unlink":
        raise _denied(spec, operation, None)
    if env.uid in ADMIN_UIDS:
        return
    groups = _groups_of(env)
    if GROUP_PORTAL in groups:
        if spec.name in PORTAL_RULES and operation == "read":
            return
    elif operation in INTERNAL_ALLOWED.get(spec.name, set()):
        return
    raise _denied(
        spec, operation, ALLOWED_GROUPS.get((spec.name, operation), ["Administration/Settings"])
    )


def record_rule(env: Env, spec: ModelSpec) -> list[Any]:
    if env.uid in ADMIN_UIDS or spec.name not in PORTAL_RULES:
        return []
    if GROUP_PORTAL not in _groups_of(env):
        return []
    row = env.conn.execute("SELECT partner_id FROM res_users WHERE id=?", (env.uid,)).fetchone()
    return [[PORTAL_RULES[spec.name], "=", row[0] if row else 0]]
