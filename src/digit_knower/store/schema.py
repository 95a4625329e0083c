"""Alembic, driven from code: upgrade, downgrade and the current revision, with no alembic.ini."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, text

from digit_knower.store.errors import SchemaOutOfDateError

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The PostgreSQL advisory lock that one migration holds at a time, in each database: any fixed
# 64-bit number that no other application on the same database uses ("digitkno" in ASCII).
MIGRATION_LOCK_ID = 0x6469_6769_746B_6E6F


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision this code knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None for a database that was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


class Migration(NamedTuple):
    """The database's revision before and after a migration, both read while holding its lock."""

    before: str | None
    after: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.after


def upgrade(engine: Engine, revision: str = "head") -> Migration:
    return _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str = "-1") -> Migration:
    return _run(engine, command.downgrade, revision)


def _run(engine: Engine, alembic_command: Callable[[Config, str], None], revision: str) -> Migration:
    """Run an Alembic command in one transaction, one process at a time.

    Migrations started together (a Helm hook, replicas, a person) wait for each other: the first
    migrates, the others then find nothing left to do, and say so: the revisions are read inside
    the lock. On SQLite, BEGIN IMMEDIATE takes the write lock first; on PostgreSQL, a
    transaction-level advisory lock does (released at commit).
    """
    is_sqlite = engine.dialect.name == "sqlite"
    options = {"sqlite_begin": "IMMEDIATE"} if is_sqlite else {}
    with engine.connect().execution_options(**options) as connection, connection.begin():
        if not is_sqlite:
            _take_migration_lock(connection)
        before = MigrationContext.configure(connection).get_current_revision()
        try:
            alembic_command(_config(connection), revision)
        except CommandError as err:
            raise SchemaOutOfDateError(f"cannot migrate to {revision!r}: {err}") from None
        return Migration(before, MigrationContext.configure(connection).get_current_revision())


def _take_migration_lock(connection: Connection) -> None:
    """Wait for the migration lock; say so once when another migration holds it."""
    lock_id = {"id": MIGRATION_LOCK_ID}
    if connection.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), lock_id).scalar():
        return
    log.warning("another digit-knower migration is running on this database; waiting for it to finish")
    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), lock_id)


def check_current(revision: str | None, where: str) -> None:
    """SchemaOutOfDateError, saying what to run, unless `revision` is the head."""
    head = head_revision()
    if revision == head:
        return
    if revision is None:
        state = "has no tables yet"
    elif revision in known_revisions():
        state = f"is at revision {revision}, older than this code's {head}"
    else:
        raise SchemaOutOfDateError(
            f"the database ({where}) is at revision {revision}, which this version of digit-knower "
            f"does not know (it needs {head}); run the digit-knower version that migrated it"
        )
    raise SchemaOutOfDateError(f"the database ({where}) {state}; run: digit-knower db upgrade")
