"""The real-data sets the reader's quality is measured on, and the figures counted on them: pen
digits of the validation rows only, drawn the same way as curves or as polylines; Omniglot
drawings, none a digit; what counts as read right, and the share of each verdict."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.omniglot import load_omniglot
from digit_knower.data.pendigits import PenDigits, load_pendigits
from digit_knower.reader.predictor import Prediction
from digit_knower.training import reader_quality as quality
from digit_knower.training.drawings import pen_paths, redraw


@pytest.fixture(scope="module")
def pen(data_dir: Path) -> PenDigits:
    return load_pendigits(data_dir, download=False)


def said(verdict: str, digit: int = 0) -> Prediction:
    return Prediction(
        digit=digit,
        confidence=0.9,
        probabilities=(0.1,) * 10,
        model_input=np.zeros((28, 28), np.uint8),
        model_version="test",
        verdict=verdict,  # type: ignore[arg-type]
        digits=(digit,),
    )


def test_read_right_is_a_confident_right_digit_only() -> None:
    read = [said("digit", 3), said("unsure", 3), said("digit", 5), said("not_a_digit", 3), None]
    assert quality.read_right(read, [(3,)] * 5) == pytest.approx(1 / 5)
    assert quality.accuracy(read, [(3,)] * 5) == pytest.approx(3 / 5)  # the best guess, any verdict


def test_verdict_shares_count_every_verdict_and_the_blank() -> None:
    read = [said("digit"), said("digit"), said("unsure"), said("several_digits"), None]
    shares = quality.verdict_shares(read)
    assert shares == pytest.approx(
        {"digit": 0.4, "unsure": 0.2, "not_a_digit": 0.0, "several_digits": 0.2, "blank": 0.2}
    )


def test_by_digit_gathers_each_digit_s_pictures_in_order() -> None:
    assert quality.by_digit([(7,), (1,), (7,), (0,)]) == {0: [3], 1: [1], 7: [0, 2]}


def test_the_pen_sets_hold_the_validation_rows_drawn_alike_but_for_the_stroke(pen: PenDigits) -> None:
    curves = quality.pen_digit_set(pen)
    polylines = quality.pen_digit_set(pen, curve=False)
    rows = pen_paths.validation_rows()
    assert len(curves) == len(polylines) == len(rows)
    assert curves.labels == polylines.labels == tuple((int(pen.labels[row]),) for row in rows)
    assert curves.paints == polylines.paints and set(curves.paints) == set(redraw.POLARITIES)
    assert not np.array_equal(curves.inks[0], polylines.inks[0])
    # The same place and brush: each curve's ink lies where its polyline's does.
    for curve, polyline in zip(curves.inks[:20], polylines.inks[:20], strict=True):
        assert np.corrcoef(curve.ravel(), polyline.ravel())[0, 1] > 0.6


def test_the_omniglot_set_is_drawings_that_are_no_digit(data_dir: Path) -> None:
    drawings = quality.omniglot_set(load_omniglot(data_dir, download=False).valid, count=30)
    again = quality.omniglot_set(load_omniglot(data_dir, download=False).valid, count=30)
    assert len(drawings) == 30 and drawings.labels == ((),) * 30
    assert np.array_equal(drawings.inks, again.inks) and drawings.paints == again.paints


def test_numbers_are_two_or_three_digits_in_a_row_with_the_gap_asked_for(mnist_dir: Path) -> None:
    from digit_knower.data.mnist import load_mnist

    digits = quality.validation_digits(load_mnist(mnist_dir, download=False))
    apart, touching = quality.number_set(digits, 3, count=20), quality.number_set(digits, 0, count=20)
    assert len(apart) == 20 and all(len(label) in (2, 3) for label in apart.labels)
    assert touching.name == "numbers touching" and apart.name == "numbers 3 px apart"
    again = quality.number_set(digits, 3, count=20)
    assert np.array_equal(apart.inks, again.inks) and apart.labels == again.labels  # seeded

    def blank_runs(ink: np.ndarray) -> int:
        """How many runs of blank columns lie between the ink's first and last column."""
        inked = (ink > 60).any(axis=0)
        inside = inked[np.flatnonzero(inked)[0] : np.flatnonzero(inked)[-1] + 1]
        return int(np.sum(np.diff(inside.astype(int)) == -1))

    # 3 px apart, the digits' inks are parted by blank columns; touching, they mostly are not.
    parted = [blank_runs(ink) >= len(label) - 1 for ink, label in zip(apart.inks, apart.labels, strict=True)]
    assert np.mean(parted) >= 0.9
    assert np.mean([blank_runs(ink) == 0 for ink in touching.inks]) >= 0.5
    for ink in apart.inks:
        assert ink.shape == (redraw.CANVAS, redraw.CANVAS) and ink.max() > 200
