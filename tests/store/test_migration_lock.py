"""Migrations that cannot race: `digit-knower db upgrade` started many times at once on PostgreSQL.

A Helm hook, several replicas and a person may all run the migrations at the same moment. They take
a PostgreSQL advisory lock, so they run one after the other: the first migrates, the others wait,
then find nothing left to do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import inspect
from sqlalchemy.engine import make_url

from digit_knower.store import Store
from digit_knower.store.schema import MIGRATION_LOCK_ID, head_revision
from digit_knower.store.tables import Base

pytestmark = pytest.mark.postgres

DIGIT_KNOWER = Path(sys.executable).parent / "digit-knower"
TABLES = {"alembic_version", *Base.metadata.tables}  # every table of the schema at head
# How long to wait for a subprocess to reach the lock before giving up with its output: a deadline
# for a broken test, never a performance assertion.
GIVE_UP_AFTER_S = 120


def start_upgrade(url: str, state: Path) -> subprocess.Popen[str]:
    """`digit-knower db upgrade` as a pod runs it: its own state folder (outbox), DATABASE_URL set."""
    state.mkdir(parents=True)
    env = {**os.environ, "DATABASE_URL": url, "DIGIT_KNOWER_STATE_DIR": str(state)}
    return subprocess.Popen(
        [str(DIGIT_KNOWER), "db", "upgrade"],
        env=env,
        cwd=state,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def libpq(url: str) -> str:
    parsed = make_url(url)
    return f"host={parsed.host} port={parsed.port} user={parsed.username} dbname={parsed.database}"


def schema_of(url: str, tmp_path: Path) -> tuple[str | None, set[str]]:
    with Store(url, outbox_path=tmp_path / "check-outbox.sqlite3", auto_migrate=False) as store:
        return store.current_revision(), set(inspect(store.engine).get_table_names())


def test_eight_concurrent_upgrades_of_a_fresh_database_all_succeed_and_reach_head(postgres, tmp_path) -> None:
    url = postgres.create_database()
    runs = [start_upgrade(url, tmp_path / f"pod-{n}") for n in range(8)]
    outcomes = [(run.wait(), *run.communicate()) for run in runs]

    failed = [(rc, err) for rc, _out, err in outcomes if rc != 0]
    assert failed == [], failed
    said = [out for _rc, out, _err in outcomes]
    # One migrates; the others wait for its lock, then find the database at head and say so.
    assert sum(f"upgraded to revision {head_revision()}" in out for out in said) == 1, said
    assert sum(f"already at revision {head_revision()}" in out for out in said) == 7, said
    assert schema_of(url, tmp_path) == (head_revision(), TABLES)
    with psycopg.connect(libpq(url)) as connection:
        assert connection.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_an_upgrade_waits_while_another_migration_holds_the_lock_then_finishes(postgres, tmp_path) -> None:
    url = postgres.create_database()
    with psycopg.connect(libpq(url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_ID,))
        run = start_upgrade(url, tmp_path / "pod")
        wait_for_lock_waiter(holder, run)
        assert schema_of(url, tmp_path) == (None, set()), "it migrated while another held the lock"
        holder.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_ID,))
        out, err = run.communicate()

    assert run.returncode == 0, err
    assert "another digit-knower migration is running on this database; waiting" in err
    assert f"upgraded to revision {head_revision()}" in out
    assert schema_of(url, tmp_path) == (head_revision(), TABLES)


def wait_for_lock_waiter(holder: psycopg.Connection, run: subprocess.Popen[str]) -> None:
    """Until a session waits for the migration lock (pg_locks splits the 64-bit key in two halves)."""
    high, low = MIGRATION_LOCK_ID >> 32, MIGRATION_LOCK_ID & 0xFFFF_FFFF
    query = (
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND classid::bigint = %s AND objid::bigint = %s AND database = "
        "(SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    deadline = time.monotonic() + GIVE_UP_AFTER_S
    while holder.execute(query, (high, low)).fetchone() != (1,):
        if run.poll() is not None:
            pytest.fail(f"db upgrade ended without waiting for the lock: {run.communicate()}")
        if time.monotonic() > deadline:
            run.kill()
            pytest.fail(f"db upgrade never waited for the lock: {run.communicate()}")
        time.sleep(0.1)
