"""Pen-written digits drawn as the page's canvas holds them: a smooth curve (or the polyline)
through the pen's points, at a random size, position, brush and polarity, always the same for a
seed, wholly on the canvas, and read as ink by the reader whatever the polarity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.pendigits import ROW_COUNT, PenDigits, load_pendigits
from digit_knower.reader.preprocess import preprocess
from digit_knower.training.drawings import nondigits, pen_paths, redraw

CANVAS = pen_paths.CANVAS
# A zig-zag, y up as in the file: cornered at every point when drawn as a polyline.
ZIGZAG = np.array([[0, 100], [100, 85], [0, 70], [100, 55], [0, 40], [100, 25], [0, 10], [100, 0]], float)


@pytest.fixture(scope="module")
def pen(data_dir: Path) -> PenDigits:
    return load_pendigits(data_dir, download=False)


@pytest.fixture(scope="module")
def some_paths(pen: PenDigits) -> np.ndarray:
    """A hundred validation rows: every digit, many writers' styles."""
    return pen.paths[pen_paths.validation_rows()[:100]]


def turning_angles(line: np.ndarray) -> np.ndarray:
    """The angle (degrees) by which the line turns at each inner point."""
    steps = np.diff(line, axis=0)
    headings = np.arctan2(steps[:, 1], steps[:, 0])
    return np.degrees(np.abs((np.diff(headings) + np.pi) % (2 * np.pi) - np.pi))


def edge_ink(ink: np.ndarray) -> int:
    """The most ink on the canvas's outermost rows and columns: 0 when nothing touches an edge."""
    return int(max(ink[0].max(), ink[-1].max(), ink[:, 0].max(), ink[:, -1].max()))


# --- The curve --------------------------------------------------------------------------------


def test_the_curve_passes_through_every_point_of_the_path_in_order() -> None:
    curve = pen_paths.catmull_rom(ZIGZAG)
    nearest = [int(np.hypot(*(curve - point).T).argmin()) for point in ZIGZAG]
    assert [float(np.hypot(*(curve[i] - point))) for i, point in zip(nearest, ZIGZAG, strict=True)] == [
        0.0
    ] * 8
    assert nearest == sorted(nearest)
    assert nearest[0] == 0 and nearest[-1] == len(curve) - 1


def test_the_curve_is_smooth_where_the_polyline_is_cornered() -> None:
    assert turning_angles(ZIGZAG).min() > 120  # the polyline turns sharply at every point
    curve = pen_paths.catmull_rom(ZIGZAG)
    assert turning_angles(curve).max() < 30
    assert np.hypot(*np.diff(curve, axis=0).T).max() <= 2 * pen_paths.CURVE_STEP


def test_points_the_pen_repeated_are_drawn_once_and_a_path_in_one_place_is_a_dot() -> None:
    repeated = np.array([[0, 0], [0, 0], [50, 50], [50, 50], [100, 0]], float)
    curve = pen_paths.catmull_rom(repeated)
    assert np.isfinite(curve).all()
    assert np.hypot(*np.diff(curve, axis=0).T).min() > 0
    assert pen_paths.catmull_rom([[3, 4], [3, 4]]).tolist() == [[3.0, 4.0]]


# --- Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ([[1.0, 2.0]], "at least 2 points"),
        (np.zeros((0, 2)), "at least 2 points"),
        ([[0.0, 0.0], [np.nan, 5.0], [10.0, 10.0]], "finite"),
        ([[0.0, 0.0], [np.inf, 5.0]], "finite"),
        (np.zeros((8, 3)), r"\(k, 2\)"),
        (np.zeros(16), r"\(k, 2\)"),
    ],
)
def test_a_path_that_is_not_one_is_refused_with_a_clear_error(path: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        pen_paths.check_path(path)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message):
        pen_paths.draw(path, np.random.default_rng(0))  # type: ignore[arg-type]


# --- On the canvas ----------------------------------------------------------------------------


def test_the_file_s_y_grows_upward_and_the_canvas_s_downward() -> None:
    # A path from the top left to the bottom right, as the file gives it (y up).
    screen = pen_paths.on_screen([[0, 100], [100, 0]])
    assert screen.tolist() == [[0.0, 0.0], [100.0, 100.0]]
    ink = pen_paths.draw([[0, 100], [100, 0]], np.random.default_rng(0), curve=False)
    rows, cols = np.nonzero(ink > 128)
    assert np.corrcoef(rows, cols)[0, 1] > 0.9  # down and to the right on the canvas


def test_an_aspect_makes_the_drawing_that_many_times_as_wide_as_high() -> None:
    screen = pen_paths.on_screen(ZIGZAG, aspect=0.4)
    width, height = np.ptp(screen, axis=0)
    assert width / height == pytest.approx(0.4)
    assert pen_paths.on_screen(ZIGZAG).tolist() == pen_paths.on_screen(ZIGZAG, aspect=None).tolist()


def test_the_writer_s_aspect_is_recovered_from_points_spaced_evenly_along_the_path() -> None:
    # A pen path of 7 steps of one length in turning directions, about a third as wide as high;
    # then stretched to 0-100 on both axes, as UCI's file stretched every digit.
    headings = np.radians([80, 100, 250, 280, 60, 120, 290])
    steps = np.stack([np.cos(headings), np.sin(headings)], axis=1)
    points = np.concatenate(([[0.0, 0.0]], np.cumsum(steps, axis=0)))
    true_aspect = np.ptp(points[:, 0]) / np.ptp(points[:, 1])
    assert true_aspect == pytest.approx(0.34, abs=0.01)
    stretched = (points - points.min(axis=0)) / np.ptp(points, axis=0) * 100
    assert pen_paths.arc_length_aspect(stretched) == pytest.approx(true_aspect, rel=0.02)


@pytest.mark.parametrize("curve", [True, False])
def test_the_same_seed_draws_the_same_picture_and_another_seed_another(
    some_paths: np.ndarray, curve: bool
) -> None:
    def drawn(seed: int) -> list[np.ndarray]:
        rng = np.random.default_rng(seed)
        return [pen_paths.draw(path, rng, curve=curve) for path in some_paths[:10]]

    first, again, other = drawn(5), drawn(5), drawn(6)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not any(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize("curve", [True, False])
@pytest.mark.parametrize("aspect", [None, 0.3])
def test_every_drawing_lies_wholly_on_the_canvas(
    some_paths: np.ndarray, curve: bool, aspect: float | None
) -> None:
    rng = np.random.default_rng(1)
    inks = [pen_paths.draw(path, rng, curve=curve, aspect=aspect) for path in some_paths]
    assert all(ink.max() == 255 for ink in inks)
    assert [edge_ink(ink) for ink in inks] == [0] * len(inks)


def test_even_the_biggest_drawing_with_the_thickest_brush_stays_off_the_edges() -> None:
    for seed in range(20):
        lines, brush = pen_paths.fit_on_canvas(
            [pen_paths.catmull_rom(ZIGZAG)], np.random.default_rng(seed), (1, 1)
        )
        assert brush <= pen_paths.BRUSH_PX[1]
        ink = nondigits.render(lines, brush)
        assert edge_ink(ink) == 0
        rows, cols = np.nonzero(ink)
        assert max(np.ptp(rows), np.ptp(cols)) >= CANVAS - 6  # and it is as big as asked


def test_sizes_and_brushes_are_those_a_person_uses_on_the_page(some_paths: np.ndarray) -> None:
    rng = np.random.default_rng(2)
    for path in some_paths[:40]:
        lines, brush = pen_paths.fit_on_canvas([pen_paths.on_screen(path)], rng)
        box = np.ptp(np.concatenate(lines), axis=0).max() + brush
        assert pen_paths.SIZES[0] * CANVAS - 1e-6 <= box <= pen_paths.SIZES[1] * CANVAS + 1e-6
        assert pen_paths.BRUSH_PX[0] <= brush <= pen_paths.MAX_BRUSH_SHARE * box + 1e-6


@pytest.mark.parametrize("polarity", list(redraw.POLARITIES))
def test_every_polarity_reads_as_the_same_ink(some_paths: np.ndarray, polarity: str) -> None:
    for path in some_paths[:10]:
        ink = pen_paths.draw(path, np.random.default_rng(3))
        painted = redraw.POLARITIES[polarity](ink)
        seen = preprocess(painted)
        assert seen.max() == 255 and (seen > 128).sum() >= 20
        assert np.abs(seen.astype(int) - preprocess(ink).astype(int)).max() <= 2


def test_paint_picks_each_polarity_and_says_which() -> None:
    ink = pen_paths.draw(ZIGZAG, np.random.default_rng(0))
    rng = np.random.default_rng(4)
    seen = {}
    for _ in range(30):
        picture, polarity = pen_paths.paint(ink, rng)
        seen[polarity] = picture
    assert set(seen) == set(redraw.POLARITIES)
    assert seen["black-on-transparent"].shape == (CANVAS, CANVAS, 4)
    assert seen["black-on-white"][0, 0].tolist() == [255, 255, 255]
    assert seen["white-on-black"][0, 0].tolist() == [0, 0, 0]


# --- The validation rows ------------------------------------------------------------------------


def test_the_validation_rows_are_a_fixed_fifth_of_the_file_kept_apart_from_training() -> None:
    rows = pen_paths.validation_rows()
    assert len(rows) == round(0.2 * ROW_COUNT) == 1499
    assert np.array_equal(rows, pen_paths.validation_rows())  # the same every time
    assert rows[:5].tolist() == [4, 9, 19, 36, 48]  # and the same as when first chosen
    assert np.all(np.diff(rows) > 0)
    training = pen_paths.training_rows()
    assert len(np.intersect1d(rows, training)) == 0
    assert len(rows) + len(training) == ROW_COUNT


def test_the_validation_rows_hold_every_digit_in_about_its_share(pen: PenDigits) -> None:
    counts = np.bincount(pen.labels[pen_paths.validation_rows()], minlength=10)
    assert counts.min() >= 0.7 * len(pen_paths.validation_rows()) / 10
