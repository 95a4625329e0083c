"""Nothing is lost when PostgreSQL goes away, the backlog lands by itself once it is back, and a
wrong URL gets one clear line.

These tests stop and start a server, so they run their OWN PostgreSQL (the session's shared one
stays up). It asks for passwords over TCP, so that a wrong password is really refused.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, event, func, select

from digit_knower.store import (
    DatabaseConfigError,
    DatabaseUnavailableError,
    InvalidLabelError,
    PredictionRecord,
    SchemaOutOfDateError,
    Store,
    uuid7,
)
from digit_knower.store.tables import model_versions, predictions
from tests.support.concurrency import queue_in_order, start
from tests.support.postgres_server import PostgresServer
from tests.support.store import HeldInserts, db, log_calls, make_card, make_record

pytestmark = pytest.mark.postgres

PASSWORD = "right-horse-battery"


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    try:
        hba = server.datadir / "pg_hba.conf"
        hba.write_text(
            "local all all trust\n"
            "host all all 127.0.0.1/32 scram-sha-256\n"
            "host all all ::1/128 scram-sha-256\n"
        )
        server.start()
        with psycopg.connect(
            host=str(server.root), port=server.port, user="postgres", dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f"CREATE ROLE app LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        server.destroy()


@pytest.fixture
def url(server: PostgresServer) -> str:
    """A fresh database owned by `app`, reached over TCP with its password."""
    name = f"dk_{uuid7().hex[-12:]}"
    with psycopg.connect(
        host=str(server.root), port=server.port, user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER app')
    return f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:{server.port}/{name}"


@pytest.fixture
def store(url: str, server: PostgresServer, tmp_path: Path) -> Iterator[Store]:
    # A short back-off, so that a test can wait it out; a server a test stopped is started again.
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3", retry_after_s=0.05, retry_at_most_s=0.05) as s:
        s.upgrade()
        s.ensure_schema()
        yield s
    if not (server.datadir / "postmaster.pid").exists():
        server.start()


def rows(store: Store) -> list:
    with store.engine.connect() as connection:
        return list(connection.execute(select(predictions.c.id, predictions.c.true_label)))


def test_an_outage_loses_nothing_and_the_flush_writes_each_record_once(
    store: Store, server: PostgresServer
) -> None:
    server.stop()
    records = [make_record(i % 10) for i in range(50)]
    for record in records:
        store.log_prediction(record)
    labels = {record.id: (record.digit + 1) % 10 for record in records[:20]}
    for prediction_id, label in labels.items():
        assert store.set_true_label(prediction_id, label).true_label == label
    assert store.outbox_backlog() == 70
    assert not store.is_reachable()
    with pytest.raises(DatabaseUnavailableError):
        store.stats()

    server.start()
    assert store.flush_outbox() == 70

    found = rows(store)
    assert len(found) == 50
    assert {row.id for row in found} == {record.id for record in records}
    assert {row.id: row.true_label for row in found if row.true_label is not None} == labels
    assert store.outbox_backlog() == 0
    assert store.flush_outbox() == 0
    for record in records:  # a client retrying every request changes nothing
        store.log_prediction(record)
    assert len(rows(store)) == 50


def test_the_backlog_flushes_itself_on_the_next_write_after_the_outage(
    store: Store, server: PostgresServer
) -> None:
    server.stop()
    waiting = [make_record(3) for _ in range(5)]
    for record in waiting:
        store.log_prediction(record)
    store.set_true_label(waiting[0].id, 8)
    store.set_true_label(waiting[0].id, 3)  # queued in order: the second label must win
    server.start()
    time.sleep(0.1)  # the back-off (0.05 s here) runs out

    later = make_record(4)
    store.log_prediction(later)

    assert store.outbox_backlog() == 0
    assert {row.id: row.true_label for row in rows(store)} == {
        waiting[0].id: 3,
        **{record.id: None for record in waiting[1:]},
        later.id: None,
    }


def test_after_a_server_restart_the_next_call_reaches_it_on_a_fresh_connection(
    store: Store, server: PostgresServer
) -> None:
    """Pooled connections are not pinged before use: the one call that meets a connection the
    restart killed is made once more on a new one, so nothing waits in the outbox."""
    before = make_record(1)
    store.log_prediction(before)  # the pool now holds a connection from before the restart
    server.stop()
    server.start()

    after = make_record(2)
    store.log_prediction(after)
    assert store.outbox_backlog() == 0
    assert store.stats().total == 2  # reads too
    assert store.set_true_label(after.id, 2).true_label == 2
    assert {row.id for row in rows(store)} == {before.id, after.id}


def test_during_an_outage_calls_do_not_each_wait_for_the_database(url: str, server: PostgresServer, tmp_path):
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3", retry_after_s=60) as store:
        store.upgrade()
        attempts = []
        event.listen(store.engine, "do_connect", lambda *args: attempts.append(1))
        server.stop()
        try:
            for _ in range(50):
                store.log_prediction(make_record())
        finally:
            server.start()
        assert len(attempts) == 1  # the first failure starts the back-off
        assert store.outbox_backlog() == 50
        assert store.flush_outbox() == 50


def test_labels_during_an_outage(store: Store, server: PostgresServer) -> None:
    logged_before = make_record(2)
    store.log_prediction(logged_before)
    server.stop()

    with pytest.raises(InvalidLabelError):
        store.set_true_label(logged_before.id, 10)
    # Logged by this process before the outage: it can be checked locally, so it is accepted.
    assert store.set_true_label(logged_before.id, 5).true_label == 5
    # Never seen by this process: it cannot be checked, so the caller is told it was not kept.
    with pytest.raises(DatabaseUnavailableError, match="label was not kept"):
        store.set_true_label(uuid7(), 5)
    assert store.outbox_backlog() == 1

    server.start()
    assert store.flush_outbox() == 1
    assert store.get(logged_before.id).true_label == 5


def test_a_prediction_waiting_in_the_outbox_can_be_read_back(store: Store, server: PostgresServer) -> None:
    server.stop()
    record = make_record(6)
    store.log_prediction(record)
    store.set_true_label(record.id, 6)
    got = store.get(record.id)
    assert isinstance(got, PredictionRecord) and (got.id, got.true_label) == (record.id, 6)


def test_a_model_registered_while_the_database_is_down_arrives_later(
    store: Store, server: PostgresServer
) -> None:
    server.stop()
    store.register_model(make_card("dk-down"))
    server.start()
    store.flush_outbox()
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(model_versions)).scalar_one() == 1


def test_a_server_that_is_down_at_start_is_told_apart_from_a_wrong_schema(
    url: str, server: PostgresServer, tmp_path: Path
) -> None:
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        with pytest.raises(SchemaOutOfDateError, match="run: digit-knower db upgrade"):
            store.ensure_schema()
        store.upgrade()
        server.stop()
        try:
            with pytest.raises(DatabaseUnavailableError, match="connection refused") as caught:
                store.ensure_schema()
            assert not isinstance(caught.value, DatabaseConfigError)
            store.log_prediction(make_record())  # predicting goes on
        finally:
            server.start()
        store.ensure_schema()  # the start-up check flushes what piled up
        assert store.outbox_backlog() == 0
        assert len(rows(store)) == 1


def test_a_wrong_password_is_one_clear_line(url: str, tmp_path: Path) -> None:
    wrong = url.replace(PASSWORD, "wrong")
    with (
        Store(wrong, outbox_path=tmp_path / "outbox.sqlite3") as store,
        pytest.raises(DatabaseConfigError) as caught,
    ):
        store.ensure_schema()
    message = str(caught.value)
    assert "\n" not in message
    assert 'password authentication failed for user "app"' in message
    assert "wrong" not in message  # never the password


def test_an_unknown_database_is_one_clear_line(server: PostgresServer, tmp_path: Path) -> None:
    url = f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:{server.port}/no_such_db"
    with (
        Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store,
        pytest.raises(DatabaseConfigError) as caught,
    ):
        store.ensure_schema()
    assert str(caught.value) == (
        f"cannot connect to PostgreSQL at 127.0.0.1:{server.port}/no_such_db: "
        'database "no_such_db" does not exist; check DATABASE_URL'
    )


def test_db_upgrade_with_a_wrong_password_is_one_line_on_stderr(url: str, tmp_path: Path) -> None:
    done = db("upgrade", url=url.replace(PASSWORD, "wrong"), state=tmp_path)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert 'password authentication failed for user "app"; check DATABASE_URL' in done.stderr


def test_an_outage_in_the_middle_of_a_batch_sends_the_whole_batch_to_the_outbox_in_order(
    store: Store, server: PostgresServer
) -> None:
    records = [make_record(i) for i in range(6)]
    inserts = HeldInserts(store)
    try:
        plug = start(lambda: store.log_prediction(records[0]))
        inserts.wait_for_insert()
        batch = queue_in_order(log_calls(store, records[1:]), lambda: store.pending_writes)
        inserts.let_one_go()  # the first record commits; the writer takes the five queued behind it
        inserts.wait_for_insert()  # ... checks its connection out, pings it, and is about to insert
        server.stop()
        inserts.let_one_go()
        assert [caller.result() for caller in [plug, *batch]] == [None] * 6  # nobody sees the outage
    finally:
        inserts.stop_holding()
    server.start()
    assert [row.id for row in rows(store)] == [records[0].id]
    with sqlite3.connect(store.outbox.path) as outbox:
        queued = [key for (key,) in outbox.execute("SELECT key FROM outbox ORDER BY seq")]
    assert queued == [str(record.id) for record in records[1:]]

    time.sleep(0.1)  # the back-off (0.05 s here) runs out
    assert store.flush_outbox() == 5
    assert sorted(row.id for row in rows(store)) == sorted(record.id for record in records)


# --- The background flusher: the backlog lands with no call at all ----------------------------------
# These read the database through a connection of their own, never through the store under test.

GIVE_UP_S = 120  # a deadline for giving up on a broken flusher, not a measure (see bench/outbox_drain.py)


@pytest.fixture
def flushing_store(url: str, server: PostgresServer, tmp_path: Path) -> Iterator[Store]:
    """A migrated store with its background flusher, and short pauses so that a test can wait
    them out; a server a test stopped is started again."""
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3", retry_after_s=0.2, retry_at_most_s=1.0) as s:
        s.upgrade()
        s.ensure_schema()
        s.start_flusher()
        yield s
    if not (server.datadir / "postmaster.pid").exists():
        server.start()


def rows_seen_from_outside(url: str) -> dict[uuid.UUID, int | None]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return dict(connection.execute(select(predictions.c.id, predictions.c.true_label)).all())
    finally:
        engine.dispose()


def wait_for_rows(url: str, count: int) -> float:
    """Seconds until the database holds `count` predictions."""
    started = time.monotonic()
    while len(rows_seen_from_outside(url)) < count:
        assert time.monotonic() - started < GIVE_UP_S, "the backlog never landed"
        time.sleep(0.1)
    return time.monotonic() - started


def connect_attempts(store: Store) -> list[float]:
    attempts: list[float] = []
    event.listen(store.engine, "do_connect", lambda *args: attempts.append(time.monotonic()))
    return attempts


def test_with_no_traffic_the_backlog_lands_once_the_database_is_back(
    flushing_store: Store,
    server: PostgresServer,
    url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.stop()
    records = [make_record(i % 10) for i in range(30)]
    for record in records:
        flushing_store.log_prediction(record)
    labels = {record.id: record.digit for record in records[:5]}
    for prediction_id, label in labels.items():
        flushing_store.set_true_label(prediction_id, label)
    assert flushing_store.outbox_backlog() == 35

    server.start()
    took = wait_for_rows(url, 30)  # nobody calls the store meanwhile

    found = rows_seen_from_outside(url)
    assert set(found) == {record.id for record in records}
    assert {key: value for key, value in found.items() if value is not None} == labels
    assert flushing_store.outbox_backlog() == 0
    with capsys.disabled():
        print(f"\n[flusher] backlog of 35 landed {took:.1f} s after PostgreSQL was back (no traffic)")


def test_during_an_outage_the_flusher_keeps_to_the_back_off(
    flushing_store: Store,
    server: PostgresServer,
) -> None:
    attempts = connect_attempts(flushing_store)
    server.stop()
    flushing_store.log_prediction(make_record())  # the first failure starts the back-off (0.2 s, up to 1 s)
    started = time.monotonic()
    time.sleep(3)
    elapsed = time.monotonic() - started
    # Tries at 0.2, 0.6, 1.4, 2.4 s..., never in a busy loop; a slow machine only makes fewer.
    assert 1 <= len(attempts) <= 2 + elapsed / 0.2
    assert flushing_store.outbox_backlog() == 1


def test_an_idle_flusher_never_touches_the_database(flushing_store: Store) -> None:
    attempts = connect_attempts(flushing_store)
    flushing_store.engine.dispose()  # so that any query would have to connect
    time.sleep(1)
    assert attempts == []
    assert flushing_store.outbox_backlog() == 0


def test_close_stops_the_flusher_during_an_outage_and_the_backlog_stays_on_disk(
    url: str,
    server: PostgresServer,
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "outbox.sqlite3"
    store = Store(url, outbox_path=outbox, retry_after_s=0.2, retry_at_most_s=1.0)
    store.upgrade()
    store.start_flusher()
    server.stop()
    try:
        record = make_record(4)
        store.log_prediction(record)
        flushers = [t for t in threading.enumerate() if t.name == f"outbox-flusher {store.where}"]
        assert len(flushers) == 1
        store.close()
        assert not flushers[0].is_alive()
    finally:
        server.start()
    with Store(url, outbox_path=outbox) as later:
        assert later.outbox_backlog() == 1  # the next run finds it and writes it
        assert later.flush_outbox() == 1
    assert list(rows_seen_from_outside(url)) == [record.id]
