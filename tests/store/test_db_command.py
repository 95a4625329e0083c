"""`digit-knower db ...`, run as a person runs it: the installed console script, in a subprocess."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from digit_knower.store import Store
from digit_knower.store.schema import head_revision
from tests.support.store import DIGIT_KNOWER, db, make_record


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
    again = db("upgrade", url=database_url, state=tmp_path)
    assert again.returncode == 0, again.stderr
    assert f"already at revision {head_revision()} (head is {head_revision()}); nothing to do" in again.stdout
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
    url = f"sqlite:///{tmp_path / 'digit_knower.sqlite3'}"
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        store.ensure_schema()
        store.outbox.append("prediction", "x", make_record().model_dump_json())
    done = db("flush", url=None, state=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "applied 1 outbox entries" in done.stdout
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        assert len(store.recent()) == 1 and store.outbox_backlog() == 0


# --- db flush --wait and db outbox ------------------------------------------------------------------

EMBEDDED = "sqlite:///{}/digit_knower.sqlite3"  # the embedded database in a state folder
LIST_HINT = "list them with: digit-knower db outbox list"


def outbox_with_everything(tmp_path: Path) -> tuple[str, str]:
    """The embedded database's outbox holding a dead letter, one record for another database and
    one for this one. Returns (this database's fingerprint, the other's)."""
    url = EMBEDDED.format(tmp_path)
    outbox = tmp_path / "outbox.sqlite3"
    with Store(url, outbox_path=outbox, retry_after_s=0.01, retry_at_most_s=0.01) as store:
        store.ensure_schema()
        store.outbox.append("prediction", "broken", "{not json")
        for _ in range(3):
            store.flush_outbox()
        assert store.dead_letter_count() == 1
        store.outbox.append("prediction", "mine", make_record().model_dump_json())
        with Store(f"sqlite:///{tmp_path / 'other.sqlite3'}", outbox_path=outbox) as other:
            other.outbox.append("prediction", "theirs", make_record().model_dump_json())
        return store.fingerprint, other.fingerprint


def test_db_outbox_list_shows_what_waits_for_which_database_and_every_dead_letter(tmp_path: Path) -> None:
    mine, theirs = outbox_with_everything(tmp_path)
    done = db("outbox", "list", url=None, state=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    where = f"the SQLite file {tmp_path}/digit_knower.sqlite3"
    assert lines[0] == f"outbox {tmp_path / 'outbox.sqlite3'}, for {where} ({mine})"
    assert "waiting for this database: 1" in lines
    assert "waiting for other databases: 1" in lines
    assert f"  1 for {theirs} (the oldest queued" in done.stdout
    assert f"digit-knower db outbox retry --database {theirs}" in done.stdout
    assert "dead letters: 1" in lines
    [dead] = [line for line in lines if line.startswith("  id ")]
    assert "prediction broken for this database" in dead
    assert "refused 3 times" in dead and "the record cannot be read" in dead


def test_db_outbox_retry_and_drop_name_dead_letters_and_say_what_they_did(tmp_path: Path) -> None:
    outbox_with_everything(tmp_path)
    with Store(EMBEDDED.format(tmp_path), outbox_path=tmp_path / "outbox.sqlite3") as store:
        [letter] = store.outbox.dead_letters()

    unknown = db("outbox", "drop", "999", url=None, state=tmp_path)
    assert (unknown.returncode, unknown.stdout) == (1, "")
    assert unknown.stderr == f"error: no dead letter has the id 999; {LIST_HINT}\n"

    for wrong in (("outbox", "drop"), ("outbox", "retry", "--all", str(letter.id))):
        misused = db(*wrong, url=None, state=tmp_path)
        assert misused.returncode == 2 and misused.stderr.count("\n") == 1, misused.stderr
        assert "by their ids, or use --all, or --database" in misused.stderr

    retried = db("outbox", "retry", str(letter.id), url=None, state=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout.startswith("queued 1 dead letters again")
    assert "dead letters: 0" in db("outbox", "list", url=None, state=tmp_path).stdout

    flushed = db("flush", url=None, state=tmp_path)  # refused again (attempt 1 of 3), kept
    assert flushed.returncode == 0, flushed.stderr
    assert "1 entries the database refused wait for another try" in flushed.stdout
    assert "left alone: 1 entries for other databases" in flushed.stdout


def test_db_outbox_can_write_another_databases_records_here_or_drop_them(tmp_path: Path) -> None:
    _mine, theirs = outbox_with_everything(tmp_path)
    moved = db("outbox", "retry", "--database", theirs, url=None, state=tmp_path)
    assert moved.returncode == 0, moved.stderr
    where = f"the SQLite file {tmp_path}/digit_knower.sqlite3"
    assert moved.stdout == f"1 entries meant for {theirs} will be written to {where}\n"
    flushed = db("flush", url=None, state=tmp_path)
    assert "applied 2 outbox entries" in flushed.stdout  # "mine" and "theirs"
    with Store(EMBEDDED.format(tmp_path), outbox_path=tmp_path / "o2.sqlite3") as store:
        assert len(store.recent()) == 2

    gone = db("outbox", "drop", "--database", theirs, url=None, state=tmp_path)
    assert gone.returncode == 1
    assert gone.stderr == f"error: no entries wait for the database {theirs}; {LIST_HINT}\n"


@pytest.mark.postgres
def test_db_flush_wait_writes_the_backlog_once_the_database_is_back(tmp_path: Path) -> None:
    from tests.support.postgres_server import own_server

    with own_server() as server:
        url = server.create_database()
        with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
            store.upgrade()
            server.stop()
            for _ in range(3):
                store.log_prediction(make_record())
            assert store.outbox_backlog() == 3

        once = db("flush", url=url, state=tmp_path)
        assert once.returncode == 1 and once.stderr.count("\n") == 1
        assert "connection refused" in once.stderr

        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        env.update(DIGIT_KNOWER_STATE_DIR=str(tmp_path), DATABASE_URL=url)
        waiting = subprocess.Popen(
            [str(DIGIT_KNOWER), "db", "flush", "--wait", "120"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert waiting.stderr.readline().startswith("waiting: cannot connect to PostgreSQL")
        server.start()
        out, _err = waiting.communicate()
        assert waiting.returncode == 0
        assert f"applied 3 outbox entries from {tmp_path / 'outbox.sqlite3'}" in out
        assert server.query(url, "SELECT count(*) FROM predictions") == [(3,)]
