"""The outbox is tied to its database, sets aside what the database refuses for good, opens a file
of the previous version, and never holds up the callers queueing records while it drains.

Run on an SQLite file AND on the real PostgreSQL server (the `database_url` fixture); records are
put in the outbox directly, as an outage would have left them.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from digit_knower.store import Store, UnknownOutboxEntryError
from digit_knower.store.outbox import DEAD_LETTER_AFTER, Entry, Outbox
from digit_knower.store.tables import predictions
from tests.support.concurrency import HANG_GUARD_S, wait_until
from tests.support.store import (
    POISON_LATENCY_MS,
    accept_poison,
    count_rows,
    make_record,
    make_several,
    open_store,
    queue_prediction,
    refuse_poison,
)

# What the outbox of the first release created, word for word: files like this are out there.
PREVIOUS_VERSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('model', 'prediction', 'label')),
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_key ON outbox (key, kind);
"""


@pytest.fixture
def shared_outbox(tmp_path: Path) -> Path:
    return tmp_path / "state" / "outbox.sqlite3"


@pytest.fixture
def store(database_url: str, shared_outbox: Path) -> Iterator[Store]:
    with open_store(database_url, shared_outbox) as store:
        yield store


@pytest.fixture
def other_database_url(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A second, empty database of the same kind."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.sqlite3'}"
    return request.getfixturevalue("postgres").create_database()


def label_payload(label: int) -> str:
    return json.dumps({"true_label": label, "labelled_at": datetime.now(UTC).isoformat()})


def labels_in(store: Store) -> dict[uuid.UUID, int | None]:
    with store.engine.connect() as connection:
        return dict(connection.execute(select(predictions.c.id, predictions.c.true_label)).all())


# --- Each entry is tied to its database -------------------------------------------------------------


def test_each_entry_carries_its_database_fingerprint_and_never_the_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://app:s3cret-horse@DB.example:6543/digits"
    with Store(url, outbox_path=tmp_path / "outbox.sqlite3") as store:
        queue_prediction(store)
        assert store.fingerprint == "postgresql://app@db.example:6543/digits"
    with sqlite3.connect(tmp_path / "outbox.sqlite3") as raw:
        assert raw.execute("SELECT fingerprint FROM outbox").fetchall() == [(store.fingerprint,)]
        everything = "\n".join(line for line in raw.iterdump())
    assert "s3cret-horse" not in everything

    with Store(f"sqlite:///{tmp_path}/sub/../db.sqlite3", outbox_path=tmp_path / "o2.sqlite3") as local:
        assert local.fingerprint == f"sqlite:///{(tmp_path / 'db.sqlite3').resolve()}"
    socket = "postgresql+psycopg://app@/digits?host=/run/PostgreSQL"  # a socket folder keeps its case
    with Store(socket, outbox_path=tmp_path / "o3.sqlite3") as over_a_socket:
        assert over_a_socket.fingerprint == "postgresql://app@/run/PostgreSQL:5432/digits"


def test_entries_for_another_database_are_left_alone_and_reported(
    store: Store, other_database_url: str, shared_outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same state folder used with two DATABASE_URLs: each database gets only its own records."""
    with open_store(other_database_url, shared_outbox) as other:
        ours = [queue_prediction(store, 1), queue_prediction(store, 2)]
        store.outbox.append("label", str(ours[0]), label_payload(1))
        theirs = [queue_prediction(other, 3) for _ in range(3)]

        assert store.flush_outbox() == 3
        assert labels_in(store) == {ours[0]: 1, ours[1]: None}
        assert count_rows(other) == 0  # not written to the wrong database...
        status = store.outbox_status()
        assert (status.backlog, status.foreign, status.dead_letters) == (0, 3, 0)  # ...and kept
        assert f"3 entries for another database, {other.fingerprint}" in caplog.text
        [group] = store.outbox.foreign()
        assert (group.database, group.count) == (other.fingerprint, 3)

        # They hold nothing up: this database's writes go straight to it again.
        later = make_record(4)
        store.log_prediction(later)
        assert later.id in labels_in(store) and store.outbox_backlog() == 0

        assert other.flush_outbox() == 3  # their own database takes them
        assert set(labels_in(other)) == set(theirs)
        assert store.outbox_status().foreign == 0 and other.outbox_backlog() == 0


def test_an_operator_can_have_another_databases_entries_written_here_or_drop_them(
    store: Store, other_database_url: str, shared_outbox: Path
) -> None:
    with Store(other_database_url, outbox_path=shared_outbox) as other:
        moved = queue_prediction(other, 5)
        store.outbox.adopt_foreign(other.fingerprint)
        queue_prediction(other, 6)
    assert store.flush_outbox() == 1
    assert list(labels_in(store)) == [moved]
    assert store.outbox.drop_foreign(other.fingerprint) == 1
    assert store.outbox_status().foreign == 0
    with pytest.raises(UnknownOutboxEntryError, match="no entries wait for the database"):
        store.outbox.drop_foreign(other.fingerprint)
    with pytest.raises(UnknownOutboxEntryError, match="is not another database"):
        store.outbox.drop_foreign(store.fingerprint)


def test_the_flusher_finds_entries_another_process_left_for_this_database(
    store: Store, shared_outbox: Path
) -> None:
    """E.g. the page restarted with a backlog and nobody visits it: the API writes it."""
    store.start_flusher(idle_check_s=0.2)
    record = make_record(8)
    another_process = Outbox(shared_outbox, store.fingerprint)
    another_process.append("prediction", str(record.id), record.model_dump_json())
    another_process.close()
    wait_until(lambda: record.id in labels_in(store))
    assert store.outbox_backlog() == 0


# --- A record refused for good is set aside; the queue moves on -------------------------------------


def test_a_refused_entry_is_tried_a_few_times_then_set_aside_and_the_queue_moves_on(
    database_url: str, shared_outbox: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # A long pause before refused entries are tried again on their own: here each try is an
    # explicit flush_outbox(), and in between the store works around them.
    with open_store(database_url, shared_outbox, pause_s=60) as store:
        refuse_poison(database_url)
        first = queue_prediction(store, 1)
        poison = queue_prediction(store, 2, latency_ms=POISON_LATENCY_MS)
        second = queue_prediction(store, 3)
        store.outbox.append("label", str(first), label_payload(1))
        store.outbox.append("label", str(poison), label_payload(2))
        third = queue_prediction(store, 4)

        # The entries behind the refused one are applied at once...
        assert store.flush_outbox() == 4
        assert labels_in(store) == {first: 1, second: None, third: None}
        assert (store.outbox_backlog(), store.dead_letter_count()) == (2, 0)  # ...it waits for a retry
        assert "refused 2 outbox entries" in caplog.text

        # While it waits, the database serves reads and takes labels for what it already holds.
        assert store.set_true_label(second, 3).true_label == 3
        assert store.get(second).true_label == 3 and len(store.recent()) == 3

        # A prediction made meanwhile queues behind them, and lands with the next flush.
        meanwhile = make_record(5)
        store.log_prediction(meanwhile)
        assert store.outbox_backlog() == 3
        for _ in range(DEAD_LETTER_AFTER - 1):
            store.flush_outbox()
        assert labels_in(store) == {first: 1, second: 3, third: None, meanwhile.id: None}
        assert (store.outbox_backlog(), store.dead_letter_count()) == (0, 2)  # with its label
        assert "set aside as dead letters" in caplog.text

        prediction, label = store.outbox.dead_letters()
        assert (prediction.kind, prediction.key, prediction.attempts) == ("prediction", str(poison), 3)
        assert "refuse_poison" in prediction.error or "poison record refused" in prediction.error
        assert (label.kind, label.key) == ("label", str(poison))
        assert f"its prediction was set aside (dead letter {prediction.id})" in label.error

        # With the prediction set aside, nothing waits: writes go straight to the database again.
        after = make_record(6)
        store.log_prediction(after)
        assert store.outbox_backlog() == 0 and after.id in labels_in(store)


def test_a_dead_letter_retried_once_the_database_accepts_it_lands_with_its_label(
    store: Store, database_url: str
) -> None:
    refuse_poison(database_url)
    poison = queue_prediction(store, 2, latency_ms=POISON_LATENCY_MS)
    store.outbox.append("label", str(poison), label_payload(8))
    for _ in range(DEAD_LETTER_AFTER):
        store.flush_outbox()
    prediction, _label = store.outbox.dead_letters()
    with pytest.raises(UnknownOutboxEntryError, match="no dead letter has the id 999999"):
        store.outbox.retry_dead_letters([prediction.id, 999999])
    assert store.dead_letter_count() == 2  # an unknown id changes nothing

    accept_poison(database_url)
    assert store.outbox.retry_dead_letters([prediction.id]) == 2  # its label comes along
    assert store.dead_letter_count() == 0
    assert store.flush_outbox() == 2
    assert labels_in(store) == {poison: 8}


def test_dropping_a_dead_prediction_drops_its_labels_too(store: Store, database_url: str) -> None:
    refuse_poison(database_url)
    kept_apart = queue_prediction(store, 2, latency_ms=POISON_LATENCY_MS)
    store.outbox.append("label", str(kept_apart), label_payload(2))
    store.outbox.append("prediction", "not-a-uuid", "{not json")
    for _ in range(DEAD_LETTER_AFTER):
        store.flush_outbox()
    prediction, _label, unreadable = store.outbox.dead_letters()
    assert unreadable.error.startswith("the record cannot be read")
    assert store.outbox.drop_dead_letters([prediction.id]) == 2
    assert [letter.id for letter in store.outbox.dead_letters()] == [unreadable.id]
    assert store.outbox.drop_dead_letters(None) == 1 and store.dead_letter_count() == 0


def test_a_label_whose_prediction_is_not_there_yet_is_kept_and_applied_later(store: Store) -> None:
    """Two threads may queue a label before its prediction at the start of an outage."""
    record = make_record(3)
    store.outbox.append("label", str(record.id), label_payload(9))
    assert store.flush_outbox() == 0
    assert store.outbox_backlog() == 1 and store.dead_letter_count() == 0  # kept, not dropped

    store.outbox.append("prediction", str(record.id), record.model_dump_json())
    assert store.flush_outbox() == 2
    assert labels_in(store) == {record.id: 9}


def test_every_digits_picture_of_several_waits_in_the_outbox_and_lands_whole(store: Store) -> None:
    """A prediction of several digits made during an outage keeps all its pictures, not only the first."""
    record = make_several(4, 2, 1)
    store.outbox.append("prediction", str(record.id), record.model_dump_json())

    assert store.flush_outbox() == 1
    with store.engine.connect() as connection:
        row = connection.execute(select(predictions.c.part_inputs).where(predictions.c.id == record.id))
        assert row.scalar_one() == record.part_inputs
    assert store.get(record.id) == record


# --- A file of the previous version ------------------------------------------------------------------


def test_an_outbox_file_of_the_previous_version_opens_migrates_and_drains(
    database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "outbox.sqlite3"
    record = make_record(5)
    with sqlite3.connect(path, isolation_level=None) as old:
        old.execute("PRAGMA journal_mode=WAL")
        old.executescript(PREVIOUS_VERSION_SCHEMA)
        old.executemany(
            "INSERT INTO outbox (kind, key, payload, queued_at) VALUES (?, ?, ?, ?)",
            [
                ("prediction", str(record.id), record.model_dump_json(), "2026-11-26T12:00:00+00:00"),
                ("label", str(record.id), label_payload(5), "2026-11-26T12:00:01+00:00"),
            ],
        )
    old.close()

    with Store(database_url, outbox_path=path) as store:
        store.upgrade()
        assert store.outbox_status().backlog == 2  # bound to the first database that opens it
        assert store.flush_outbox() == 2
        assert labels_in(store) == {record.id: 5}
    with sqlite3.connect(path) as migrated:
        assert migrated.execute("PRAGMA user_version").fetchone() == (1,)
        columns = {row[1] for row in migrated.execute("PRAGMA table_info(outbox)")}
    migrated.close()
    assert {"fingerprint", "attempts", "last_error"} <= columns


def test_a_new_outbox_file_opened_while_another_process_locks_it_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    """Switching a new file to WAL needs an exclusive lock, and SQLite does not wait for it: the
    page and the API starting together on a new state folder would fail at random."""
    path = tmp_path / "outbox.sqlite3"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # another process, in the middle of creating the file
    threading.Timer(0.3, lambda: other.execute("ROLLBACK")).start()
    outbox = Outbox(path, "sqlite:///db")
    outbox.append("prediction", "k", "{}")
    assert outbox.backlog() == 1
    outbox.close()
    other.close()


# --- Draining never holds up queueing ----------------------------------------------------------------


class HeldApply:
    """An `apply` that waits inside its first batch until released (a database that is slow)."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def __call__(self, batch: list[Entry]) -> dict[int, str]:
        self.inside.set()
        assert self.release.wait(HANG_GUARD_S)
        return {}


def in_thread(call) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("queuer", ["same process", "another process"])
def test_records_are_queued_while_a_drain_waits_for_the_database(tmp_path: Path, queuer: str) -> None:
    path = tmp_path / "outbox.sqlite3"
    draining = Outbox(path, "sqlite:///db")
    draining.append("prediction", "first", "{}")
    held = HeldApply()
    drain = in_thread(lambda: draining.drain(held))
    assert held.inside.wait(HANG_GUARD_S)

    queueing = draining if queuer == "same process" else Outbox(path, "sqlite:///db")
    append = in_thread(lambda: queueing.append("prediction", "second", "{}"))
    append.join(HANG_GUARD_S)  # a deadline for giving up, not a measure: it takes milliseconds
    assert not append.is_alive(), "queueing waited for the drain"
    assert draining.backlog() == 2

    held.release.set()
    drain.join(HANG_GUARD_S)
    assert draining.backlog() == 0  # the drain went on with what was queued meanwhile
    for outbox in {draining, queueing}:
        outbox.close()


def test_one_drainer_at_a_time_and_the_others_step_aside(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    first, second = Outbox(path, "sqlite:///db"), Outbox(path, "sqlite:///db")
    first.append("prediction", "k", "{}")
    held = HeldApply()
    drain = in_thread(lambda: first.drain(held))
    assert held.inside.wait(HANG_GUARD_S)
    assert second.drain(lambda batch: {}, wait=False) is None  # another process is at it
    held.release.set()
    drain.join(HANG_GUARD_S)
    assert second.drain(lambda batch: {}, wait=False).applied == 0 and second.backlog() == 0
    first.close()
    second.close()
