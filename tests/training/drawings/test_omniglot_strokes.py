"""Omniglot's mouse drawings redrawn on the page's canvas: every stroke where the pen drew it and no
line where the pen was lifted, scaled to fit with a margin, the same for a seed, and read as ink
by the reader whatever the polarity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.omniglot import Drawings, load_omniglot
from digit_knower.reader.preprocess import preprocess
from digit_knower.training.drawings import omniglot_strokes, pen_paths, redraw

CANVAS = pen_paths.CANVAS


@pytest.fixture(scope="module")
def valid(data_dir: Path) -> Drawings:
    return load_omniglot(data_dir, download=False).valid


def edge_ink(ink: np.ndarray) -> int:
    return int(max(ink[0].max(), ink[-1].max(), ink[:, 0].max(), ink[:, -1].max()))


def ink_box(ink: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(ink)
    return int(np.ptp(rows)) + 1, int(np.ptp(cols)) + 1


def test_the_same_seed_draws_the_same_drawings_and_another_seed_others(valid: Drawings) -> None:
    first, again, other = (omniglot_strokes.draw_many(valid, range(10), seed) for seed in (7, 7, 8))
    assert first.shape == (10, CANVAS, CANVAS) and first.dtype == np.uint8
    assert np.array_equal(first, again)
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


def test_every_drawing_lies_wholly_on_the_canvas_at_a_size_a_person_draws(valid: Drawings) -> None:
    inks = omniglot_strokes.draw_many(valid, range(200), seed=1)
    assert [edge_ink(ink) for ink in inks] == [0] * len(inks)
    sizes = [max(ink_box(ink)) for ink in inks]
    low, high = (share * CANVAS for share in pen_paths.SIZES)
    assert low - 2 <= min(sizes) and max(sizes) <= high + 2


@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_a_drawing_of_any_extent_is_scaled_to_fit(scale: float) -> None:
    strokes = [np.array([[0, 0], [300, 0], [300, 400]]) * scale, np.array([[0, 400], [150, 200]]) * scale]
    ink = omniglot_strokes.draw(strokes, np.random.default_rng(2))
    assert edge_ink(ink) == 0
    height, width = ink_box(ink)
    assert pen_paths.SIZES[0] * CANVAS - 2 <= height <= pen_paths.SIZES[1] * CANVAS + 2
    assert width < height  # its shape kept: 300 wide, 400 high


def test_the_pen_draws_nothing_between_two_strokes() -> None:
    # Two bars, one above the other: the pen lifted between them.
    top, bottom = np.array([[0, 0], [100, 0]]), np.array([[0, 100], [100, 100]])
    ink = omniglot_strokes.draw([top, bottom], np.random.default_rng(3))
    rows = np.flatnonzero(ink.any(axis=1))
    gap = np.flatnonzero(np.diff(rows) > 1)
    assert len(gap) == 1  # two separate bands of ink
    joined = omniglot_strokes.draw([np.concatenate([top, bottom])], np.random.default_rng(3))
    assert len(np.flatnonzero(np.diff(np.flatnonzero(joined.any(axis=1))) > 1)) == 0


def test_a_single_point_is_a_dot_of_the_brush_s_size() -> None:
    rng = np.random.default_rng(4)
    ink = omniglot_strokes.draw([np.array([[5.0, 5.0]])], rng)
    height, width = ink_box(ink)
    assert pen_paths.BRUSH_PX[0] - 2 <= height <= pen_paths.BRUSH_PX[1] + 2 and abs(height - width) <= 1
    assert edge_ink(ink) == 0


@pytest.mark.parametrize("polarity", list(redraw.POLARITIES))
def test_every_polarity_reads_as_the_same_ink(valid: Drawings, polarity: str) -> None:
    for ink in omniglot_strokes.draw_many(valid, range(10), seed=5):
        seen = preprocess(redraw.POLARITIES[polarity](ink))
        assert seen.max() == 255 and (seen > 128).sum() >= 20
        assert np.abs(seen.astype(int) - preprocess(ink).astype(int)).max() <= 2


@pytest.mark.parametrize(
    ("strokes", "message"),
    [
        ([], "at least one stroke"),
        ([np.zeros((0, 2))], r"\(k, 2\)"),
        ([np.zeros((3, 3))], r"\(k, 2\)"),
        ([np.array([[0.0, 0.0], [np.nan, 1.0]])], "finite"),
        ([np.array([[0.0, 0.0]]), np.array([[np.inf, 1.0]])], "finite"),
    ],
)
def test_a_drawing_that_is_not_one_is_refused_with_a_clear_error(
    strokes: list[np.ndarray], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        omniglot_strokes.draw(strokes, np.random.default_rng(0))
