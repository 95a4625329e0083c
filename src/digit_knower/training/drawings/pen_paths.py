"""Pen-written digits (UCI's pen-based digits) drawn as the page's 280x280 canvas would hold them.

Each digit of `pendigits.tra` is its pen path resampled to 8 points, evenly spaced along the path,
with y growing upward, both axes 0-100. A polyline through 8 points is cornered wherever the pen
curved, so the path is drawn as a smooth curve through its points (a centripetal Catmull-Rom
spline: it passes through every point, and unlike the uniform one it makes no loops or cusps
between points that lie close together); the plain polyline is offered too. The drawing gets a
random size and position on the canvas, a round brush of a width the page's slider offers (6-40
px, never more than a share of the drawing's size) and, when painted, a random polarity.

Both axes of every row span exactly 0-100: UCI stretched each axis on its own, so the file has lost
each digit's width-to-height ratio, and a 1 or a 3 comes out as wide as a 0. The points seem to
have been spaced evenly along the pen's path *before* that stretch: squeezed back to a narrower
ratio, a row's 7 steps come out far more nearly of one length (their spread halves for most
digits). So the ratio that makes them most nearly equal is an estimate of the one the writer drew
(`arc_length_aspect`: about 0.9 for 0s, 0.55-0.75 for the others).

The rows carry no writer ids; `validation_rows` is a fixed, seeded share of them, kept out of
training and read by `reader_quality`. Training only (numpy and Pillow; never serving).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from digit_knower.data.pendigits import ROW_COUNT
from digit_knower.training.drawings import nondigits, redraw

CANVAS: Final = redraw.CANVAS
# The drawing's longest side, as shares of the canvas: a digit drawn with a mouse is 90-230 px.
SIZES: Final = redraw.MOUSE_HEIGHTS
# The page's brush slider (diameter in px); a brush is never wider than this share of the drawing.
BRUSH_PX: Final = (6.0, 40.0)
MAX_BRUSH_SHARE: Final = 0.3
# Pixels kept clear at every edge: the brush's anti-aliased rim never reaches the canvas's border.
EDGE_MARGIN: Final = 2
# The curve is sampled at least this often along each chord, in the units of the path (a pixel or
# two on the canvas: the round brush's joints make it smooth).
CURVE_STEP: Final = 1.0
# Centripetal Catmull-Rom (Yuksel et al., 2011): knots spaced by the square root of the chord.
CENTRIPETAL: Final = 0.5
# The width-to-height ratios `arc_length_aspect` tries (a tall 1 to a wide 7), and its answer's range.
ASPECTS: Final = np.exp(np.linspace(math.log(0.1), math.log(2.5), 241))
ASPECT_RANGE: Final = (0.25, 1.5)
# A fifth of the rows are the validation rows: always the same ones (the seed), whatever runs.
VALIDATION_SHARE: Final = 0.2
VALIDATION_SEED: Final = 19

Polyline = NDArray[np.float64]  # (k, 2): x, y


def check_path(path: ArrayLike) -> Polyline:
    """The path as a (k, 2) float64 array of (x, y) points, k >= 2, all finite; ValueError if not."""
    points = np.asarray(path, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"a pen path is a (k, 2) array of (x, y) points, not shape {points.shape}")
    if len(points) < 2:
        raise ValueError(f"a pen path needs at least 2 points, got {len(points)}")
    if not np.isfinite(points).all():
        raise ValueError("a pen path's points must be finite numbers (no NaN or infinity)")
    return points


def catmull_rom(path: ArrayLike, step: float = CURVE_STEP) -> Polyline:
    """A smooth curve through every point of the path, in order: (m, 2) points about `step` apart.

    A centripetal Catmull-Rom spline; the curve leaves the first point towards the second and
    reaches the last from the one before (phantom end points mirror their neighbours). Points that
    repeat the one before are dropped; a path whose points all coincide is that one point.
    """
    points = check_path(path)
    keep = np.concatenate(([True], np.hypot(*np.diff(points, axis=0).T) > 1e-9))
    points = points[keep]
    if len(points) == 1:
        return points
    ends = (2 * points[0] - points[1], 2 * points[-1] - points[-2])
    padded = np.concatenate(([ends[0]], points, [ends[1]]))
    pieces = [points[:1]]
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i : i + 4]
        count = max(2, math.ceil(float(np.hypot(*(p2 - p1))) / step))
        pieces.append(_segment(p0, p1, p2, p3, count)[1:])
    return np.concatenate(pieces)


def _segment(
    p0: NDArray[np.float64],
    p1: NDArray[np.float64],
    p2: NDArray[np.float64],
    p3: NDArray[np.float64],
    count: int,
) -> Polyline:
    """`count + 1` points of the spline from p1 to p2, both included (Barry and Goldman's pyramid)."""
    t0 = 0.0
    t1 = t0 + float(np.hypot(*(p1 - p0))) ** CENTRIPETAL
    t2 = t1 + float(np.hypot(*(p2 - p1))) ** CENTRIPETAL
    t3 = t2 + float(np.hypot(*(p3 - p2))) ** CENTRIPETAL
    t = np.linspace(t1, t2, count + 1)[:, np.newaxis]

    def lerp(a: NDArray[np.float64], b: NDArray[np.float64], ta: float, tb: float) -> NDArray[np.float64]:
        return ((tb - t) * a + (t - ta) * b) / (tb - ta)

    a1, a2, a3 = lerp(p0, p1, t0, t1), lerp(p1, p2, t1, t2), lerp(p2, p3, t2, t3)
    b1, b2 = lerp(a1, a2, t0, t2), lerp(a2, a3, t1, t3)
    curve = lerp(b1, b2, t1, t2)
    curve[0], curve[-1] = p1, p2  # exactly through the points, whatever the rounding
    return curve


def arc_length_aspect(path: ArrayLike) -> float:
    """The width-to-height ratio the writer most likely drew the path with (see the module's note).

    The ratio, within ASPECT_RANGE, by which the path's x must be scaled for its steps to be most
    nearly of one length, as they were when UCI resampled the pen's path.
    """
    steps = np.diff(check_path(path), axis=0)
    lengths = np.hypot(steps[np.newaxis, :, 0] * ASPECTS[:, np.newaxis], steps[np.newaxis, :, 1])
    spread = lengths.std(axis=1) / np.maximum(lengths.mean(axis=1), 1e-9)
    return float(np.clip(ASPECTS[int(spread.argmin())], *ASPECT_RANGE))


def on_screen(path: ArrayLike, aspect: float | None = None) -> Polyline:
    """The path with y growing downward, as on a screen; `aspect` scales x so that the path is that
    many times as wide as it is high (None: as stored)."""
    points = check_path(path)
    screen = np.stack([points[:, 0], points[:, 1].max() - points[:, 1]], axis=1)
    width, height = np.ptp(screen, axis=0)
    if aspect is not None and width > 0:
        screen[:, 0] = (screen[:, 0] - screen[:, 0].min()) * aspect * height / width
    return screen


def random_brush(rng: np.random.Generator, size: float) -> float:
    """A brush diameter the page's slider offers, no wider than MAX_BRUSH_SHARE of the drawing."""
    widest = min(BRUSH_PX[1], max(BRUSH_PX[0], MAX_BRUSH_SHARE * size))
    return float(rng.uniform(BRUSH_PX[0], widest))


def fit_on_canvas(
    lines: Sequence[Polyline], rng: np.random.Generator, sizes: tuple[float, float] = SIZES
) -> tuple[list[Polyline], float]:
    """Lines (x, y down, any units) at a random size and position on the canvas, with a brush.

    The drawing's longest side, brush included, is a random share `sizes` of the canvas; it lies
    wholly on the canvas, EDGE_MARGIN pixels or more from every edge. Returns the lines in canvas
    pixels and the brush's diameter.
    """
    points = np.concatenate(lines)
    low, extent = points.min(axis=0), np.ptp(points, axis=0)
    size = rng.uniform(*sizes) * CANVAS
    brush = random_brush(rng, size)
    size = min(size, CANVAS - 2 * EDGE_MARGIN)
    scale = max(size - brush, 1.0) / max(float(extent.max()), 1e-9)
    half_box = extent * scale / 2 + brush / 2 + EDGE_MARGIN
    centre = rng.uniform(half_box, CANVAS - half_box)
    return [(line - low - extent / 2) * scale + centre for line in lines], brush


def draw(
    path: ArrayLike,
    rng: np.random.Generator,
    *,
    curve: bool = True,
    aspect: float | None = None,
    supersample: int = redraw.SUPERSAMPLE,
) -> NDArray[np.uint8]:
    """One pen path (y up, as in the file) drawn on the canvas: (280, 280) ink 0-255, white on black.

    curve: a smooth curve through the points; False draws the plain polyline between them.
    aspect: the drawing's width over its height (e.g. `arc_length_aspect(path)`); None keeps the
    file's coordinates. Size, position and brush are random (`fit_on_canvas`); paint the ink in a
    polarity with `paint`.
    """
    screen = on_screen(path, aspect)
    line = catmull_rom(screen) if curve else screen
    lines, brush = fit_on_canvas([line], rng)
    return nondigits.render(lines, brush, supersample)


def random_polarity(rng: np.random.Generator) -> str:
    """One of `redraw.POLARITIES`, at random: white on black (the page), black on white, or black on
    a transparent background (a canvas exported as PNG)."""
    return str(rng.choice(list(redraw.POLARITIES)))


def paint(ink: NDArray[np.uint8], rng: np.random.Generator) -> tuple[NDArray[np.uint8], str]:
    """The ink painted in a random polarity: the picture (RGB, or RGBA when transparent), and the
    polarity's name."""
    polarity = random_polarity(rng)
    return redraw.POLARITIES[polarity](ink), polarity


def validation_rows(count: int = ROW_COUNT) -> NDArray[np.int64]:
    """The rows of `pendigits.tra` kept for validation, ascending: a fixed, seeded fifth of them.

    Training must leave them out (`training_rows`). The file's rows are shuffled and carry no
    writer ids, so these share writers with the training rows: expect new writers to score lower.
    """
    rng = np.random.default_rng(VALIDATION_SEED)
    chosen = rng.choice(count, round(VALIDATION_SHARE * count), replace=False)
    return np.sort(chosen).astype(np.int64)


def training_rows(count: int = ROW_COUNT) -> NDArray[np.int64]:
    """Every row not among `validation_rows`, ascending."""
    return np.setdiff1d(np.arange(count, dtype=np.int64), validation_rows(count))
