"""Alembic migrations, shipped in the package: upgrade from empty, downgrade, upgrade again."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError

from digit_knower.store import PredictionRecord, SchemaOutOfDateError, Store
from digit_knower.store.schema import head_revision
from digit_knower.store.tables import Base, predictions
from tests.support.store import T0, make_card, make_record, make_several

TABLES = {"model_versions", "predictions", "idempotency_keys", "deployments", "api_keys"}


# Columns that revisions 0005 (owners) and 0006 (every digit's picture) added: rows written by the
# code of earlier revisions have none.
NEWER_COLUMNS = {"owner", "labelled_by", "part_inputs"}


def insert_as_before_0005(store: Store, record: PredictionRecord) -> None:
    with store.engine.begin() as connection:
        connection.execute(predictions.insert().values(record.model_dump(exclude=NEWER_COLUMNS)))


def tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names()) - {"alembic_version"}


@pytest.fixture
def store(database_url: str, tmp_path: Path):
    with Store(database_url, outbox_path=tmp_path / "outbox.sqlite3", auto_migrate=False) as store:
        yield store


def test_upgrade_from_empty_then_downgrade_then_upgrade_again(store: Store) -> None:
    assert store.current_revision() is None and tables(store) == set()

    store.upgrade()
    assert store.current_revision() == head_revision()
    assert tables(store) == TABLES
    indexes = {ix["name"] for ix in inspect(store.engine).get_indexes("predictions")}
    assert {
        "ix_predictions_created_at",
        "ix_predictions_labelled_created_at",
        "ix_predictions_stats",
    } <= indexes

    store.downgrade("base")
    assert store.current_revision() is None and tables(store) == set()

    store.upgrade()
    assert store.current_revision() == head_revision()
    store.log_prediction(make_record(4))
    assert len(store.recent()) == 1


def test_the_migrations_build_exactly_the_tables_the_code_declares(store: Store) -> None:
    store.upgrade()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_ensure_schema_on_a_configured_database_says_what_to_run(store: Store) -> None:
    with pytest.raises(SchemaOutOfDateError, match="has no tables yet; run: digit-knower db upgrade"):
        store.ensure_schema()
    store.upgrade()
    store.ensure_schema()  # current now: no error


def test_ensure_schema_refuses_a_revision_this_code_does_not_know(store: Store) -> None:
    store.upgrade()
    with store.engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(SchemaOutOfDateError, match="revision 9999, which this version"):
        store.ensure_schema()


def test_the_embedded_default_database_migrates_itself_on_first_start(isolated_state: Path) -> None:
    with Store.from_settings() as store:
        assert store.current_revision() is None
        store.ensure_schema()
        assert store.current_revision() == head_revision()
        assert Path(store.url.database).parent == isolated_state


def test_stores_starting_together_on_a_new_embedded_database_migrate_it_once(tmp_path: Path) -> None:
    """The page and the API may start at the same moment on the same new SQLite file."""
    url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    start, errors = threading.Barrier(4), []

    def start_up() -> None:
        with Store(url) as store:
            start.wait()
            try:
                store.ensure_schema()
            except Exception as err:  # surfaced below
                errors.append(err)

    threads = [threading.Thread(target=start_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Store(url) as store:
        assert store.current_revision() == head_revision()
        assert tables(store) == TABLES


def test_sqlite_files_run_in_wal_mode(tmp_path: Path) -> None:
    with Store(f"sqlite:///{tmp_path / 'deep' / 'er' / 'db.sqlite3'}") as store:
        store.ensure_schema()
        with store.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_0002_adds_verdicts_keeping_old_rows_valid_up_down_and_up(store: Store) -> None:
    """Rows logged before verdicts keep none, still list and count, and survive a downgrade."""
    store.upgrade("0001")
    old = make_record(3, verdict=None)
    with store.engine.begin() as connection:  # written as the 0001 code wrote it
        row = old.model_dump(exclude={"verdict", "digits", *NEWER_COLUMNS})
        connection.execute(Base.metadata.tables["predictions"].insert().values(row))

    store.upgrade("0002")
    with store.engine.connect() as connection:
        (listed,) = connection.execute(select(predictions.c.id, predictions.c.verdict, predictions.c.digits))
    assert tuple(listed) == (old.id, None, None)
    insert_as_before_0005(store, make_record(5, verdict="not_a_digit"))
    bad = make_record(1).model_dump(exclude=NEWER_COLUMNS) | {"verdict": "maybe"}
    with pytest.raises(IntegrityError), store.engine.begin() as connection:  # only the four verdicts
        connection.execute(Base.metadata.tables["predictions"].insert().values(bad))
    assert store.stats().per_verdict == {"none": 1, "not_a_digit": 1}

    store.downgrade("0001")
    with store.engine.connect() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM predictions").scalar()
    assert count == 2
    assert "verdict" not in {c["name"] for c in inspect(store.engine).get_columns("predictions")}

    store.upgrade()
    assert {r.id: r.verdict for r in store.recent()}[old.id] is None


def test_revision_0003_adds_the_deployments_and_leaves_every_prediction_as_it_was(store: Store) -> None:
    store.upgrade("0002")
    old = make_record(4)
    insert_as_before_0005(store, old)

    store.upgrade()
    assert "deployments" in tables(store)
    assert store.recent() == [old] and store.serving_version() is None
    store.register_model(make_card("dk-b"))
    store.promote("dk-b", by="test", reason="up")

    store.downgrade("0002")
    assert tables(store) == {"model_versions", "predictions"}
    with store.engine.connect() as connection:
        assert connection.execute(select(predictions.c.id)).scalars().all() == [old.id]

    store.upgrade()
    assert store.serving_version() is None  # a fresh history


def test_0005_keeps_old_rows_ownerless_and_a_downgrade_drops_only_the_pruned_ones(store: Store) -> None:
    store.upgrade("0004")
    old, pruned = make_record(2, at=T0), make_record(3, at=T0 + timedelta(seconds=1))
    insert_as_before_0005(store, old)
    insert_as_before_0005(store, pruned)

    store.upgrade()
    assert "api_keys" in tables(store)
    assert store.recent(owner="someone") == []  # nobody owns the old rows: only an admin sees them
    assert [(r.id, r.owner) for r in store.recent()] == [(pruned.id, None), (old.id, None)]
    with store.engine.begin() as connection:
        connection.execute(predictions.update().where(predictions.c.id == pruned.id).values(model_input=None))

    store.downgrade("0004")
    with store.engine.connect() as connection:
        ids = connection.execute(select(predictions.c.id)).scalars().all()
    assert ids == [old.id]  # a row without its picture cannot fit 0004
    assert "api_keys" not in tables(store)


def insert_with_source(store: Store, source: str) -> None:
    """A row as the code before 0005 wrote it, with any source at all: only the database's check
    stands in the way (the record's own type would refuse an unknown source first)."""
    row = make_record(5).model_dump(exclude=NEWER_COLUMNS) | {"source": source}
    with store.engine.begin() as connection:
        connection.execute(predictions.insert().values(row))


def sources_by_id(store: Store) -> dict[uuid.UUID, str]:
    with store.engine.connect() as connection:
        rows = connection.execute(select(predictions.c.id, predictions.c.source))
        return {row.id: row.source for row in rows}


def test_0005_logs_uploads_as_their_own_source_and_a_downgrade_calls_them_web(store: Store) -> None:
    store.upgrade("0004")
    drawn = make_record(2, at=T0)
    insert_as_before_0005(store, drawn)
    with pytest.raises(IntegrityError):  # 0004 knows only the page ('web') and the API
        insert_with_source(store, "upload")

    store.upgrade()
    uploaded = make_record(3, at=T0 + timedelta(seconds=1), source="upload")
    store.log_prediction(uploaded)
    with pytest.raises(IntegrityError):  # the check still stands, with one more source
        insert_with_source(store, "email")
    assert [(r.id, r.source) for r in store.recent()] == [(uploaded.id, "upload"), (drawn.id, "web")]

    store.downgrade("0004")
    assert sources_by_id(store) == {drawn.id: "web", uploaded.id: "web"}  # a page prediction, as before
    with pytest.raises(IntegrityError):  # and the older check is back
        insert_with_source(store, "upload")

    store.upgrade()
    store.log_prediction(make_record(4, source="upload"))
    assert sorted(sources_by_id(store).values()) == ["upload", "web", "web"]


def insert_part_inputs(store: Store, part_inputs: bytes) -> None:
    """A row with any part_inputs at all: only the database's check stands in the way (the
    record's own type would refuse a broken picture first)."""
    row = make_several(4, 2).model_dump() | {"part_inputs": part_inputs}
    with store.engine.begin() as connection:
        connection.execute(predictions.insert().values(row))


def test_0006_keeps_every_digits_picture_and_old_rows_keep_their_first_up_down_and_up(store: Store) -> None:
    store.upgrade("0005")
    old = make_several(4, 2, at=T0)
    with store.engine.begin() as connection:  # as the 0005 code wrote it: the first digit's picture only
        connection.execute(predictions.insert().values(old.model_dump(exclude={"part_inputs"})))

    store.upgrade()
    new = make_several(7, 1, 3, at=T0 + timedelta(seconds=1))
    store.log_prediction(new)
    by_id = {r.id: r for r in store.recent()}
    assert (by_id[old.id].part_inputs, by_id[old.id].model_input) == (None, old.model_input)
    assert by_id[new.id].part_inputs == new.part_inputs and len(by_id[new.id].part_input_arrays()) == 3
    insert_part_inputs(store, bytes(2 * 784))  # two whole pictures go in
    for broken in (bytes(783), bytes(784 + 1), b""):  # and only whole 28x28 pictures
        with pytest.raises(IntegrityError):
            insert_part_inputs(store, broken)

    store.downgrade("0005")
    assert "part_inputs" not in {c["name"] for c in inspect(store.engine).get_columns("predictions")}
    with store.engine.connect() as connection:
        kept = dict(connection.execute(select(predictions.c.id, predictions.c.model_input)).all())
    assert len(kept) == 3  # every row stays, with its first picture
    assert (kept[old.id], kept[new.id]) == (old.model_input, new.model_input)

    store.upgrade()
    assert {r.part_inputs for r in store.recent()} == {None}  # the downgrade dropped the others
    store.log_prediction(make_several(5, 5))
