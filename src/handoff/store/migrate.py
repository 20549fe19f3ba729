"""Alembic, driven from code so `handoff db upgrade` and `handoff run` need no alembic.ini."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from handoff.store.db import Store

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(store: Store) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = store.engine
    return config


def upgrade(store: Store, revision: str = "head") -> None:
    command.upgrade(alembic_config(store), revision)


def head_revision() -> str | None:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(store: Store) -> str | None:
    with store.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(store: Store) -> bool:
    return current_revision(store) == head_revision()
