"""Real hands as training inputs: pen digits in every style a canvas gives them, Omniglot's letters,
each through the reader's own preprocessing, the same for a seed, and made once, then cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.omniglot import Omniglot, load_omniglot
from digit_knower.data.pendigits import PenDigits, load_pendigits
from digit_knower.reader import preprocess
from digit_knower.training.drawings import handwriting


@pytest.fixture(scope="module")
def pen(data_dir: Path) -> PenDigits:
    return load_pendigits(data_dir, download=False)


@pytest.fixture(scope="module")
def omniglot(data_dir: Path) -> Omniglot:
    return load_omniglot(data_dir, download=False)


def test_a_pen_digit_becomes_a_model_input_the_same_for_the_same_seed(pen: PenDigits) -> None:
    first = [handwriting.pen_input(path, np.random.default_rng(7)) for path in pen.paths[:20]]
    again = [handwriting.pen_input(path, np.random.default_rng(7)) for path in pen.paths[:20]]
    other = [handwriting.pen_input(path, np.random.default_rng(8)) for path in pen.paths[:20]]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    for image in first:
        assert image.shape == (preprocess.MODEL_SIZE, preprocess.MODEL_SIZE) and image.dtype == np.uint8
        assert image.max() > 200 and (image > 0).mean() < 0.6  # ink on black, not a filled square


def test_pen_digits_come_in_curves_and_polylines_stretched_and_at_the_writer_s_width(pen: PenDigits) -> None:
    # The same path in many drawings: the styles differ in the ink's width and its corners.
    rng = np.random.default_rng(0)
    one = pen.paths[int(np.flatnonzero(pen.labels == 1)[0])]
    widths = [int((handwriting.pen_input(one, rng).max(axis=0) > 40).sum()) for _ in range(40)]
    assert min(widths) < 0.6 * max(widths)  # some as wide as high, some as narrow as the writer drew


def test_an_omniglot_letter_becomes_a_model_input(omniglot: Omniglot) -> None:
    rng = np.random.default_rng(0)
    images = [handwriting.omniglot_input(omniglot.train.polylines(i), rng) for i in range(20)]
    assert all(image.shape == (28, 28) and image.max() > 200 for image in images)


def test_the_drawings_are_made_once_then_read_from_the_cache(
    pen: PenDigits, omniglot: Omniglot, tmp_path: Path
) -> None:
    rows = np.arange(30, dtype=np.int64)

    def make() -> handwriting.Handwriting:
        letters = omniglot.valid.head(25)
        return handwriting.load_or_make(pen, rows, letters, tmp_path, per_row=2, seed=3, workers=1)

    first = make()
    assert first.pen_digits.shape == (60, 28, 28) and first.omniglot.shape == (25, 28, 28)
    assert np.array_equal(first.pen_labels, np.repeat(pen.labels[rows], 2))
    files = {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    assert len(files) == 1
    again = make()
    assert {p: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert np.array_equal(first.pen_digits, again.pen_digits)
    assert np.array_equal(first.omniglot, again.omniglot)


def test_head_takes_the_first_drawings(omniglot: Omniglot) -> None:
    head = omniglot.valid.head(3)
    assert len(head) == 3
    for i in range(3):
        assert np.array_equal(head[i], omniglot.valid[i])
    assert len(omniglot.valid.head(10**6)) == len(omniglot.valid)
