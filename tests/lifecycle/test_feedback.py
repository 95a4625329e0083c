"""The feedback split: stable for good, about 80/20, and named exactly in the model card."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from digit_knower.lifecycle.feedback import HOLDOUT_PERCENT, in_holdout, split
from digit_knower.store import Feedback, uuid7

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def rows(count: int, *, start: int = 0, seed: int = 0) -> list[Feedback]:
    """`count` labelled rows, one a second from T0 + `start` seconds, as the store returns them."""
    rng = random.Random(seed)
    made = []
    for i in range(start, start + count):
        at = T0 + timedelta(seconds=i)
        made.append(
            Feedback(
                id=uuid7(int(at.timestamp() * 1e9) + rng.randrange(1000)),
                created_at=at,
                model_version="dk-test",
                true_label=rng.randrange(10),
                model_input=rng.randbytes(784),
            )
        )
    return made


def test_adding_rows_never_moves_an_old_row_between_training_and_holdout() -> None:
    old = rows(500)
    before = split(old)
    after = split([*old, *rows(2000, start=500, seed=1)])

    held_before = {bytes(image) for image in before.holdout.images}
    held_after = {bytes(image) for image in after.holdout.images}
    trained_after = {bytes(image) for image in after.train.images}
    for row in old:
        assert (row.model_input in held_before) == (row.model_input in held_after)
        assert (row.model_input in held_before) != (row.model_input in trained_after)


def test_a_rows_side_is_fixed_by_its_id_alone_in_every_version_of_the_code() -> None:
    # Pinned: changing the hash or its salt would move old rows into a new model's training data.
    held = ["00000000-0002-468a-cf12-1579bde2468a", "00000000-000a-3d70-a3d1-60a3d67a3d6d"]
    trained = ["00000000-0001-2345-6789-0abcdef12345", "00000000-0003-69d0-369b-20369cd369cf"]
    assert [in_holdout(uuid.UUID(i)) for i in held] == [True, True]
    assert [in_holdout(uuid.UUID(i)) for i in trained] == [False, False]


def test_about_a_fifth_of_the_rows_are_held_out() -> None:
    ids = [uuid.uuid4() for _ in range(20_000)]
    share = sum(map(in_holdout, ids)) / len(ids)
    assert abs(share - HOLDOUT_PERCENT / 100) < 0.01


def test_the_split_keeps_each_rows_picture_and_label_together_oldest_first() -> None:
    given = rows(300)
    result = split(list(reversed(given)))  # the order given does not matter
    assert len(result.train) + len(result.holdout) == result.rows == 300
    train_rows = [r for r in given if not in_holdout(r.id)]
    assert [bytes(i) for i in result.train.images] == [r.model_input for r in train_rows]
    assert result.train.labels.tolist() == [r.true_label for r in train_rows]
    assert result.train.images.shape == (len(train_rows), 28, 28)


def test_the_lineage_names_the_latest_row_and_a_checksum_of_every_row() -> None:
    given = rows(120)
    lineage = split(given).lineage()
    assert lineage["feedback_rows"] == 120
    assert lineage["feedback_train_rows"] + lineage["feedback_holdout_rows"] == 120
    assert lineage["feedback_latest"] == {
        "id": str(given[-1].id),
        "created_at": given[-1].created_at.isoformat(),
    }

    relabelled = [
        *given[:-1],
        Feedback(**{**given[-1].__dict__, "true_label": (given[-1].true_label + 1) % 10}),
    ]
    assert split(relabelled).sha256 != split(given).sha256
    assert split(list(given)).sha256 == split(given).sha256


def test_no_feedback_is_an_empty_split() -> None:
    result = split([])
    assert (len(result.train), len(result.holdout), result.latest) == (0, 0, None)
    assert result.train.images.shape == (0, 28, 28)
