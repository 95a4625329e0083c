"""What the network's outputs mean, and the softmax every part of the reader reads them with."""

from __future__ import annotations

import numpy as np

from digit_knower.reader.classes import CLASSES, DIGITS, NOT_A_DIGIT, softmax


def test_the_ten_digits_come_first_then_not_a_digit() -> None:
    assert (DIGITS, NOT_A_DIGIT, CLASSES) == (10, 10, 11)


def test_softmax_rows_are_probabilities_in_the_order_of_the_logits() -> None:
    logits = np.random.default_rng(0).normal(0, 3, (100, CLASSES)).astype(np.float32)
    probabilities = softmax(logits)
    assert probabilities.dtype == np.float64
    assert np.allclose(probabilities.sum(axis=1), 1, atol=1e-15, rtol=0)
    assert np.array_equal(probabilities.argmax(axis=1), logits.argmax(axis=1))


def test_softmax_does_not_overflow_on_huge_logits() -> None:
    probabilities = softmax(np.array([[1000.0, 0.0], [-1000.0, -1000.0]]))
    assert np.isfinite(probabilities).all()
    assert probabilities.tolist() == [[1.0, 0.0], [0.5, 0.5]]
