"""`digit-knower db ...`, run as a person runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from digit_knower.store import Store
from digit_knower.store.schema import head_revision

DIGIT_KNOWER = Path(sys.executable).parent / "digit-knower"


def db(*args: str, url: str | None, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DIGIT_KNOWER_STATE_DIR"] = str(state)
    if url is not None:
        env["DATABASE_URL"] = url
    return subprocess.run(
        [str(DIGIT_KNOWER), "db", *args], env=env, capture_output=True, text=True, cwd=state
    )


def test_db_upgrade_current_and_downgrade_through_the_cli(database_url: str, tmp_path: Path) -> None:
    before = db("current", url=database_url, state=tmp_path)
    assert before.returncode == 0, before.stderr
    assert "out of date; run: digit-knower db upgrade" in before.stdout

    upgraded = db("upgrade", url=database_url, state=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded to revision {head_revision()}" in upgraded.stdout
    with Store(database_url, auto_migrate=False, outbox_path=tmp_path / "o.sqlite3") as store:
        store.ensure_schema()  # current: no SchemaOutOfDateError

    assert "up to date" in db("current", url=database_url, state=tmp_path).stdout
    downgraded = db("downgrade", "base", url=database_url, state=tmp_path)
    assert downgraded.returncode == 0, downgraded.stderr
    assert "no tables" in downgraded.stdout


def test_db_upgrade_without_database_url_creates_the_embedded_database(tmp_path: Path) -> None:
    done = db("upgrade", url=None, state=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "digit_knower.sqlite3").exists()
    assert str(tmp_path / "digit_knower.sqlite3") in done.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("not a url", "DATABASE_URL is not a database URL; use postgresql+psycopg://"),
        ("mysql://u:p@host/db", "unsupported database 'mysql'"),
        ("postgresql+asyncpg://u@host/db", "driver 'asyncpg', which is not installed"),
        ("sqlite://", "in-memory SQLite database"),
        (
            "postgresql://u:secret@127.0.0.1:1/db",
            "cannot connect to PostgreSQL at 127.0.0.1:1/db: connection refused",
        ),
    ],
)
def test_a_bad_database_url_gets_one_clear_line_and_no_stack_trace(url: str, expected: str, tmp_path: Path):
    done = db("upgrade", url=url, state=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert expected in done.stderr
    assert "secret" not in done.stderr


def test_db_flush_applies_what_the_outbox_holds(tmp_path: Path) -> None:
    from tests.test_store import make_record

    url = f"sqlite:///{tmp_path / 'digit_knower.sqlite3'}"
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        store.ensure_schema()
        store.outbox.append("prediction", "x", make_record().model_dump_json())
    done = db("flush", url=None, state=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "applied 1 outbox entries" in done.stdout
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        assert len(store.recent()) == 1 and store.outbox_backlog() == 0
