"""The repository functions, each run on an SQLite file AND on the real PostgreSQL server."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import func, insert, select

from digit_knower.store import (
    InvalidLabelError,
    InvalidModelCardError,
    PredictionRecord,
    Store,
    UnknownPredictionError,
    uuid7,
)
from digit_knower.store.tables import model_versions, predictions
from tests.support.store import T0, count_rows, make_card, make_record


def test_a_logged_prediction_reads_back_unchanged(store: Store) -> None:
    record = make_record(3)
    store.log_prediction(record)
    assert store.get(record.id) == record
    assert store.outbox_backlog() == 0


def test_retrying_the_same_id_neither_duplicates_nor_fails(store: Store) -> None:
    record = make_record(3)
    for _ in range(3):
        store.log_prediction(record)
    assert count_rows(store) == 1


def test_recent_is_newest_first_with_limit_and_offset(store: Store) -> None:
    records = [make_record(i % 10, at=T0 + timedelta(seconds=i)) for i in range(25)]
    for record in random.Random(1).sample(records, len(records)):
        store.log_prediction(record)
    newest_first = [r.id for r in reversed(records)]
    assert [r.id for r in store.recent()] == newest_first[:20]
    assert [r.id for r in store.recent(limit=10, offset=20)] == newest_first[20:]
    assert store.recent(limit=5, offset=25) == []


def test_recent_filters_labelled_and_unlabelled(store: Store) -> None:
    records = [make_record(i, at=T0 + timedelta(seconds=i)) for i in range(6)]
    for record in records:
        store.log_prediction(record)
    for record in records[::2]:
        store.set_true_label(record.id, record.digit)
    assert [r.id for r in store.recent(labelled=True)] == [records[4].id, records[2].id, records[0].id]
    assert [r.id for r in store.recent(labelled=False)] == [records[5].id, records[3].id, records[1].id]


def test_recent_refuses_a_negative_limit(store: Store) -> None:
    with pytest.raises(ValueError, match="0 or more"):
        store.recent(limit=-1)


def test_a_label_is_kept_and_a_second_label_replaces_the_first(store: Store) -> None:
    record = make_record(1)
    store.log_prediction(record)
    first = store.set_true_label(record.id, 7)
    assert first.true_label == 7 and first.labelled_at is not None
    second = store.set_true_label(str(record.id), 1)
    assert second.true_label == 1
    assert second.labelled_at >= first.labelled_at
    assert store.get(record.id) == second
    assert count_rows(store) == 1


@pytest.mark.parametrize("label", [10, -1, 3.0, "3", True, None])
def test_a_label_outside_0_to_9_is_refused_with_a_clear_error(store: Store, label) -> None:
    record = make_record(1)
    store.log_prediction(record)
    with pytest.raises(InvalidLabelError, match="whole number from 0 to 9"):
        store.set_true_label(record.id, label)
    assert store.get(record.id).true_label is None


def test_a_label_for_an_unknown_id_is_refused(store: Store) -> None:
    unknown = uuid7()
    with pytest.raises(UnknownPredictionError, match=str(unknown)):
        store.set_true_label(unknown, 3)
    with pytest.raises(UnknownPredictionError, match="not a prediction id"):
        store.set_true_label("not-a-uuid", 3)
    with pytest.raises(UnknownPredictionError):
        store.get(unknown)
    assert store.outbox_backlog() == 0


@pytest.mark.parametrize(
    ("column", "value"),
    [("digit", 10), ("digit", -1), ("true_label", 10), ("true_label", -1), ("model_input", bytes(783))],
)
def test_the_database_itself_enforces_the_rules(store: Store, column: str, value) -> None:
    """Even a writer that bypasses PredictionRecord cannot store a digit or label outside 0-9."""
    row = make_record(2).model_dump()
    row.update({column: value, "labelled_at": T0} if column == "true_label" else {column: value})
    with pytest.raises(sa_exc.IntegrityError, match="ck_predictions"), store.engine.begin() as connection:
        connection.execute(insert(predictions).values(**row))
    assert count_rows(store) == 0


def test_eight_threads_logging_200_each_leave_exactly_1600_rows(store: Store) -> None:
    rng = random.Random(8)
    batches = [[make_record(rng.randrange(10), rng=rng) for _ in range(200)] for _ in range(8)]
    errors: list[BaseException] = []
    start = threading.Barrier(8)

    def log_all(batch: list[PredictionRecord]) -> None:
        start.wait()
        try:
            for record in batch:
                store.log_prediction(record)
        except BaseException as err:  # surfaced below: a thread's exception would vanish otherwise
            errors.append(err)

    threads = [threading.Thread(target=log_all, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store.outbox_backlog() == 0
    assert count_rows(store) == 1600
    with store.engine.connect() as connection:
        assert connection.execute(select(func.count(predictions.c.id.distinct()))).scalar_one() == 1600


def test_stats_match_a_hand_computed_confusion_matrix(store: Store) -> None:
    # (model, predicted digit, true label or None): counted by hand below.
    made = [
        ("dk-a", 3, 3),
        ("dk-a", 3, 3),
        ("dk-a", 8, 3),
        ("dk-a", 8, 8),
        ("dk-a", 5, None),
        ("dk-b", 1, 7),
        ("dk-b", 0, 0),
        ("dk-b", 5, None),
        ("dk-b", 9, 4),  # first labelled 9, then corrected to 4 below
    ]
    ids = []
    for version, digit, label in made:
        record = make_record(digit, model_version=version)
        store.log_prediction(record)
        ids.append(record.id)
        if label is not None:
            store.set_true_label(record.id, 9 if version == "dk-b" and digit == 9 else label)
    store.set_true_label(ids[-1], 4)

    stats = store.stats()

    expected = [[0] * 10 for _ in range(10)]
    expected[3][3] = 2
    expected[3][8] = 1
    expected[8][8] = 1
    expected[7][1] = 1
    expected[0][0] = 1
    expected[4][9] = 1
    assert stats.confusion == expected
    assert (stats.total, stats.labelled, stats.correct) == (9, 7, 4)
    assert stats.accuracy == pytest.approx(4 / 7)
    assert [(m.model_version, m.predictions, m.labelled, m.correct) for m in stats.per_model] == [
        ("dk-a", 5, 4, 3),
        ("dk-b", 4, 3, 1),
    ]
    assert stats.per_model[0].accuracy == pytest.approx(3 / 4)
    per_digit = {d.digit: (d.labelled, d.correct) for d in stats.per_digit}
    assert per_digit == {0: (1, 1), 1: (0, 0), 2: (0, 0), 3: (3, 2), 4: (1, 0), 5: (0, 0), 6: (0, 0),
                         7: (1, 0), 8: (1, 1), 9: (0, 0)}  # fmt: skip
    assert stats.per_digit[3].accuracy == pytest.approx(2 / 3)
    assert stats.per_digit[5].accuracy is None


def test_stats_count_rejected_and_old_rows_as_the_reader_read_them(store: Store) -> None:
    """Turned away or read as several digits: counted apart; logged before verdicts: as one digit."""
    for digit, verdict, label in [
        (4, "digit", 4),
        (9, "unsure", 4),
        (1, "not_a_digit", 7),
        (4, "several_digits", 4),
        (2, None, 2),  # a row from before migration 0002
        (5, "not_a_digit", None),
    ]:
        record = make_record(digit, verdict=verdict)
        store.log_prediction(record)
        if label is not None:
            store.set_true_label(record.id, label)

    stats = store.stats()

    assert (stats.total, stats.labelled, stats.correct, stats.rejected) == (6, 3, 2, 2)
    assert stats.per_verdict == {"digit": 1, "none": 1, "not_a_digit": 2, "several_digits": 1, "unsure": 1}
    assert stats.per_digit[4].labelled == 2 and stats.per_digit[7].labelled == 0
    assert [r.verdict for r in store.recent()].count(None) == 1  # old rows still list


def test_stats_of_an_empty_log(store: Store) -> None:
    stats = store.stats()
    assert (stats.total, stats.labelled, stats.accuracy, stats.per_model) == (0, 0, None, [])
    assert stats.confusion == [[0] * 10 for _ in range(10)]


def test_register_model_stores_the_card_and_is_harmless_to_repeat(store: Store, database_url: str) -> None:
    card = make_card()
    store.register_model(card)
    store.register_model(card)
    # A second process (a fresh store, with no memory of the first call) registers it again.
    with Store(database_url, outbox_path=store.outbox.path) as again:
        again.register_model(card)
    assert count_rows(store, model_versions) == 1
    with store.engine.connect() as connection:
        row = connection.execute(select(model_versions)).one()
    assert row.version == card["version"]
    assert (row.parameters, row.test_accuracy, row.train_seconds) == (345_000, 0.9956, 61.5)
    assert row.per_class_accuracy == [0.99] * 10
    assert row.hyperparameters == {"epochs": 3, "lr": 0.003}
    assert row.card == card
    assert store.outbox_backlog() == 0


def test_register_model_refuses_a_card_without_a_version(store: Store) -> None:
    with pytest.raises(InvalidModelCardError, match="version"):
        store.register_model({"architecture": "cnn"})


def test_is_reachable(store: Store) -> None:
    assert store.is_reachable()


def test_a_numpy_integer_label_is_welcome(store: Store) -> None:
    import numpy as np

    record = make_record(4)
    store.log_prediction(record)
    assert store.set_true_label(record.id, np.int64(4)).true_label == 4


def test_a_label_queued_before_its_prediction_still_applies(store: Store) -> None:
    """Two threads may queue a prediction and its label in either order when an outage begins."""
    record = make_record(5)
    labelled_at = datetime.now(UTC).isoformat()
    store.outbox.append("label", str(record.id), f'{{"true_label": 6, "labelled_at": "{labelled_at}"}}')
    store.outbox.append("prediction", str(record.id), record.model_dump_json())
    assert store.flush_outbox() == 2
    assert store.get(record.id).true_label == 6
