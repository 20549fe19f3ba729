"""Logins, passwords and API keys of the sandbox (the key works wherever a password does)."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from .orm import utc_now

if TYPE_CHECKING:
    from .orm import Database, Env

# The API key seeded for admin, so JSON-2 (bearer) calls work without the web-session dance.
SEED_API_KEY = "5a4d3b0c1e2f4a6b8c9d0e1f2a3b4c5d6e7f8a9b"


def credentials_tables(db: Database) -> None:
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS sandbox_password (uid INTEGER PRIMARY KEY, password TEXT)"
    )
    db.conn.execute(
        "CREATE TABLE IF NOT EXISTS sandbox_apikey (key TEXT PRIMARY KEY, "
        "uid INTEGER, apikey_id INTEGER)"
    )


def issue_api_key(env: Env, uid: int, name: str, key: str | None = None) -> str:
    key = key or secrets.token_hex(20)
    apikey_id = env["res.users.apikeys"].create([{"name": name, "user_id": uid}])[0]
    env.conn.execute(
        "INSERT INTO sandbox_apikey(key, uid, apikey_id) VALUES(?, ?, ?)", (key, uid, apikey_id)
    )
    return key


def uid_for_key(db: Database, key: str) -> int | None:
    row = db.conn.execute("SELECT uid FROM sandbox_apikey WHERE key=?", (key,)).fetchone()
    return row[0] if row else None


def authenticate(db: Database, login: str, password: str) -> int | None:
    """The uid for a login and a password or API key, or None (Odoo answers `false`)."""
    row = db.conn.execute(
        "SELECT u.id FROM res_users u WHERE u.login=? AND u.active=1", (login,)
    ).fetchone()
    if row is None:
        return None
    return row[0] if check_password(db, row[0], password) else None


def check_password(db: Database, uid: int, password: str) -> bool:
    if not isinstance(password, str) or not password:
        return False
    stored = db.conn.execute("SELECT password FROM sandbox_password WHERE uid=?", (uid,)).fetchone()
    if stored and secrets.compare_digest(stored[0], password):
        return True
    return uid_for_key(db, password) == uid


__all__ = [
    "SEED_API_KEY",
    "authenticate",
    "check_password",
    "issue_api_key",
    "uid_for_key",
    "utc_now",
]
