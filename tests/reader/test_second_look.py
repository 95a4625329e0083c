"""The second look: the inputs the network is unsure of are read again, shifted, and averaged."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower.reader import second_look


def logits_for(confidences: list[float], not_a_digit: list[float]) -> np.ndarray:
    """Calibrated logits whose likeliest digit (0) and "not a digit" have these probabilities."""
    rows = []
    for p, q in zip(confidences, not_a_digit, strict=True):
        digits = np.full(10, (1 - p) / 9)
        digits[0] = p
        rows.append(np.log(np.append(digits * (1 - q), q)))
    return np.array(rows, dtype=np.float32)


def test_only_the_undecided_are_looked_at_again() -> None:
    logits = logits_for([0.999, 0.6, 0.999, 0.999], [0.001, 0.001, 0.5, 0.999])
    assert second_look.undecided(logits).tolist() == [False, True, True, False]


def test_each_undecided_input_is_read_in_four_shifts_and_the_five_readings_averaged() -> None:
    inputs = np.zeros((3, 28, 28), np.uint8)
    inputs[:, 10:18, 12:16] = 255
    logits = logits_for([0.999, 0.6, 0.999], [0.001, 0.001, 0.001])
    seen: list[np.ndarray] = []

    def run(views: np.ndarray) -> np.ndarray:
        seen.append(views)
        return np.ones((len(views), 11), np.float32)

    looked = second_look.with_second_look(logits, inputs, run)

    (views,) = seen
    assert len(views) == 4  # the one undecided input, shifted four ways
    assert {tuple(np.argwhere(v)[0]) for v in views} == {(10, 13), (10, 11), (11, 12), (9, 12)}
    np.testing.assert_allclose(looked[1], (logits[1] + 4) / 5, rtol=1e-6)
    assert np.array_equal(looked[[0, 2]], logits[[0, 2]])  # the sure ones are left alone


def test_a_batch_without_doubt_costs_no_second_run() -> None:
    logits = logits_for([0.999, 0.998], [0.0001, 0.0001])

    def run(views: np.ndarray) -> np.ndarray:
        pytest.fail("no second run expected")

    assert second_look.with_second_look(logits, np.zeros((2, 28, 28), np.uint8), run) is logits
