"""The store's value types, without a database: ids, records and the stats arithmetic."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from types import SimpleNamespace

import numpy as np
import pytest
from pydantic import ValidationError

from digit_knower.store import PredictionRecord, Stats, uuid7
from digit_knower.store.ids import uuid7_unix_ms


def test_uuid7_has_the_rfc_9562_layout_and_carries_its_time() -> None:
    ns = 1_764_167_000_123_456_789
    value = uuid7(ns)
    assert value.version == 7
    assert value.variant == uuid.RFC_4122
    assert uuid7_unix_ms(value) == ns // 1_000_000


def test_uuid7s_made_one_after_another_sort_in_creation_order_and_never_repeat() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    times = [uuid7_unix_ms(i) for i in ids]
    assert times == sorted(times)


def fake_prediction(digit: int = 7) -> SimpleNamespace:
    probabilities = [0.01] * 10
    probabilities[digit] = 0.91
    picture = np.zeros((28, 28), dtype=np.uint8)
    picture[4:24, 13:15] = 255
    return SimpleNamespace(
        digit=digit,
        confidence=0.91,
        probabilities=tuple(probabilities),
        model_input=picture,
        model_version="dk-test",
        verdict="digit",
        digits=(digit,),
    )


def test_from_prediction_keeps_what_the_model_saw_and_stamps_id_and_time_together() -> None:
    prediction = fake_prediction(7)
    record = PredictionRecord.from_prediction(prediction, source="web", latency_ms=1.5)
    assert record.id.version == 7
    assert record.created_at.tzinfo is not None
    assert abs(uuid7_unix_ms(record.id) - record.created_at.timestamp() * 1000) < 1
    assert (record.digit, record.model_version, record.source) == (7, "dk-test", "web")
    assert np.array_equal(record.model_input_array(), prediction.model_input)
    assert record.true_label is None and record.labelled_at is None
    assert (record.verdict, record.digits) == ("digit", [7])


def test_model_input_survives_a_json_round_trip_as_base64() -> None:
    record = PredictionRecord.from_prediction(fake_prediction(), source="api", latency_ms=0.2)
    record = record.model_copy(update={"model_input": bytes(range(256)) * 3 + bytes(16)})
    assert PredictionRecord.model_validate_json(record.model_dump_json()) == record


def several_digits(*digits: int) -> SimpleNamespace:
    """A reading of several digits as the reader gives it: the first part's figures and picture,
    and each digit's part with its own picture (a bar at a different place in each)."""
    parts = []
    for i, digit in enumerate(digits):
        part = fake_prediction(digit)
        part.model_input = np.zeros((28, 28), dtype=np.uint8)
        part.model_input[4:24, 4 + 4 * i : 6 + 4 * i] = 255
        parts.append(part)
    whole = fake_prediction(digits[0])
    whole.model_input = parts[0].model_input
    whole.verdict, whole.digits, whole.parts = "several_digits", digits, parts
    return whole


def test_several_digits_keep_the_picture_of_every_digit_left_to_right() -> None:
    prediction = several_digits(4, 2, 1)
    record = PredictionRecord.from_prediction(prediction, source="web", latency_ms=1)
    assert record.part_inputs is not None and len(record.part_inputs) == 3 * 784
    kept = np.stack(record.part_input_arrays())
    assert np.array_equal(kept, np.stack([part.model_input for part in prediction.parts]))
    assert np.array_equal(record.model_input_array(), kept[0])  # the first is `model_input`, as before


def test_one_digit_keeps_one_picture_and_no_parts() -> None:
    record = PredictionRecord.from_prediction(fake_prediction(3), source="web", latency_ms=1)
    assert record.part_inputs is None
    (picture,) = record.part_input_arrays()
    assert np.array_equal(picture, record.model_input_array())
    pruned = record.model_copy(update={"model_input": None})
    assert pruned.part_input_arrays() == []  # retention dropped it: nothing to show


def test_every_digits_picture_survives_a_json_round_trip_as_base64() -> None:
    """The outbox keeps records as JSON: a prediction queued during an outage keeps all its pictures."""
    record = PredictionRecord.from_prediction(several_digits(4, 2), source="api", latency_ms=0.2)
    record = record.model_copy(update={"part_inputs": bytes(range(256)) * 6 + bytes(32)})
    payload = record.model_dump_json()
    assert isinstance(json.loads(payload)["part_inputs"], str)  # base64 text, not a list of numbers
    assert PredictionRecord.model_validate_json(payload) == record


def test_a_record_from_before_the_parts_were_kept_still_reads() -> None:
    """An outbox entry queued by the previous version has no part_inputs at all."""
    record = PredictionRecord.from_prediction(fake_prediction(), source="web", latency_ms=1)
    payload = json.loads(record.model_dump_json())
    del payload["part_inputs"]
    assert PredictionRecord.model_validate_json(json.dumps(payload)) == record


@pytest.mark.parametrize(
    ("part_inputs", "why"),
    [
        (bytes(784 + 1), "whole 28x28 pictures"),
        (b"", "at least 784"),
        (bytes(3 * 784), "3 pictures for 2 digits"),
    ],
)
def test_parts_that_are_not_one_whole_picture_a_digit_are_refused(part_inputs: bytes, why: str) -> None:
    record = PredictionRecord.from_prediction(several_digits(4, 2), source="web", latency_ms=1)
    with pytest.raises(ValidationError, match=why):
        PredictionRecord.model_validate({**record.model_dump(), "part_inputs": part_inputs})


def test_timestamps_are_kept_in_utc() -> None:
    record = PredictionRecord.from_prediction(fake_prediction(), source="web", latency_ms=1)
    paris = datetime(2026, 11, 26, 15, 0, tzinfo=timezone(timedelta(hours=1)))
    moved = PredictionRecord.model_validate({**record.model_dump(), "created_at": paris})
    assert moved.created_at == paris and moved.created_at.tzinfo == UTC


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("digit", 10),
        ("digit", -1),
        ("source", "cli"),
        ("true_label", 10),
        ("model_input", bytes(783)),
        ("probabilities", [0.1] * 9),
        ("probabilities", [0.5] * 10),
        ("latency_ms", -1.0),
        ("confidence", float("nan")),
    ],
)
def test_a_record_that_breaks_a_rule_is_refused_before_it_reaches_a_database(field: str, value) -> None:
    record = PredictionRecord.from_prediction(fake_prediction(), source="web", latency_ms=1)
    with pytest.raises(ValidationError, match=field):
        PredictionRecord.model_validate({**record.model_dump(), field: value})


def test_a_model_input_that_is_not_28_by_28_is_refused() -> None:
    prediction = fake_prediction()
    prediction.model_input = np.zeros((28, 27), dtype=np.uint8)
    with pytest.raises(ValueError, match="28x28"):
        PredictionRecord.from_prediction(prediction, source="web", latency_ms=1)


def test_stats_from_grouped_counts() -> None:
    stats = Stats.from_counts(
        [
            ("a", 3, 3, "digit", 2),
            ("a", 3, 8, "unsure", 1),
            ("a", None, 5, "digit", 4),
            ("b", 3, 3, None, 1),  # logged before verdicts: read as one digit
            ("b", 0, 6, "digit", 2),
        ]
    )
    assert (stats.total, stats.labelled, stats.correct, stats.rejected) == (10, 6, 3, 0)
    assert stats.per_verdict == {"digit": 8, "none": 1, "unsure": 1}
    assert stats.accuracy == pytest.approx(0.5)
    assert [(m.model_version, m.predictions, m.labelled, m.correct) for m in stats.per_model] == [
        ("a", 7, 3, 2),
        ("b", 3, 3, 1),
    ]
    assert stats.per_digit[3].accuracy == pytest.approx(3 / 4)
    assert stats.per_digit[0].accuracy == 0.0
    assert stats.per_digit[5].accuracy is None  # predicted 5 four times, but never labelled
    assert stats.confusion[3] == [0, 0, 0, 3, 0, 0, 0, 0, 1, 0]
    assert stats.confusion[0][6] == 2


def test_predictions_turned_away_or_read_as_several_digits_are_counted_apart_from_the_accuracy() -> None:
    stats = Stats.from_counts(
        [
            ("a", 4, 4, "digit", 3),
            ("a", 4, 9, "unsure", 1),
            ("a", 4, 1, "not_a_digit", 2),  # the reader said so: not a misreading
            ("a", 4, 4, "several_digits", 1),
            ("a", None, 7, "not_a_digit", 5),  # unlabelled: counted in the total only
        ]
    )
    assert (stats.total, stats.labelled, stats.correct, stats.rejected) == (12, 4, 3, 3)
    assert stats.accuracy == pytest.approx(3 / 4)
    assert stats.per_digit[4].labelled == 4 and stats.confusion[4][1] == 0
    assert stats.per_verdict == {"digit": 3, "not_a_digit": 7, "several_digits": 1, "unsure": 1}
    assert (stats.per_model[0].labelled, stats.per_model[0].correct) == (4, 3)
