"""MNIST digits redrawn the way a person draws on the web page's 280x280 canvas.

Each digit is thinned to its skeleton (scikit-image), scaled and moved on the canvas, and
traced again with a round brush of one uniform width, anti-aliased like a browser canvas.
The result is a fresh drawing with the digit's shape but none of MNIST's framing or stroke.

`mouse_style` makes the robustness set that training, retraining, the benchmarks and the tests
share: a mouse-drawn digit 90-230 px high, a round brush of radius 6-14 px, in three polarities.
Needs scikit-image (the `train` extra); serving never imports this module.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFilter
from skimage.morphology import skeletonize

CANVAS = 280
SUPERSAMPLE = 2  # drawn this much larger, then area-averaged: anti-aliased edges
SKELETON_DETAIL = 4  # the skeleton is found on the digit enlarged this much
SKELETON_LEVEL = 128


@dataclass(frozen=True)
class Stroke:
    """How the digit is drawn, in canvas pixels."""

    scale: float  # canvas pixels per MNIST pixel of the skeleton
    brush: float  # brush diameter
    centre: tuple[float, float]  # (row, column) of the digit's box centre


def skeleton_points(digit: NDArray[np.uint8]) -> NDArray[np.float64]:
    """(row, column) of each pixel of the digit's one-pixel-wide skeleton, in MNIST pixels.

    The digit is enlarged before thinning, so the skeleton follows the stroke smoothly
    instead of in whole-pixel stairs that the brush would trace as zigzags.
    """
    large = Image.fromarray(digit).resize((28 * SKELETON_DETAIL,) * 2, Image.Resampling.BICUBIC)
    large = large.filter(ImageFilter.GaussianBlur(SKELETON_DETAIL / 2))
    return np.argwhere(skeletonize(np.asarray(large) >= SKELETON_LEVEL)) / SKELETON_DETAIL


def _segments(points: NDArray[np.float64]) -> list[tuple[int, int]]:
    """Index pairs of 8-connected skeleton pixels: the strokes to trace between them."""
    step = 1 / SKELETON_DETAIL + 1e-9
    # Chebyshev distance between every two points (a skeleton has a few hundred at most).
    apart = np.abs(points[:, np.newaxis] - points[np.newaxis]).max(axis=2)
    first, second = np.nonzero(np.triu(apart <= step, k=1))
    return list(zip(first.tolist(), second.tolist(), strict=True))


def trace(points: NDArray[np.float64], stroke: Stroke, supersample: int = SUPERSAMPLE) -> NDArray[np.uint8]:
    """Skeleton points traced with a round brush: (280, 280) ink coverage 0-255.

    `supersample` 1 draws without anti-aliasing, four times faster: training's many redrawings
    use it, as preprocessing shrinks the canvas threefold and averages the jagged edges away.
    """
    box = np.ptp(points, axis=0) * stroke.scale
    origin = np.asarray(stroke.centre) - box / 2
    canvas_points = ((points - points.min(axis=0)) * stroke.scale + origin) * supersample
    size = CANVAS * supersample
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = stroke.brush * supersample / 2
    xy = [(float(c), float(r)) for r, c in canvas_points]
    for i, j in _segments(points):
        draw.line([xy[i], xy[j]], fill=255, width=max(1, round(2 * radius)))
    for x, y in xy:
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(image.reduce(supersample) if supersample > 1 else image)


def random_stroke(
    rng: np.random.Generator, points: NDArray[np.float64], heights: tuple[float, float], brush: float | None
) -> Stroke:
    """A random size and an off-centre position that keeps the whole digit on the canvas.

    heights: the range of the drawn digit's height, as shares of the canvas height.
    brush None: a brush in proportion to the digit, as people pick one for their drawing size.
    """
    height = rng.uniform(*heights) * CANVAS
    brush = brush if brush is not None else rng.uniform(0.08, 0.16) * height
    extent = np.maximum(np.ptp(points, axis=0), 1.0)
    # The drawn height is the skeleton's extent plus one brush width (half at each end);
    # a digit wider than tall is shrunk until it fits across the canvas too.
    scale = min(max(height - brush, 1.0) / extent[0], (CANVAS - 2 - brush) / extent[1])
    half_box = (extent * scale + brush) / 2
    centre = rng.uniform(half_box, CANVAS - half_box)
    return Stroke(scale=float(scale), brush=float(brush), centre=(float(centre[0]), float(centre[1])))


def white_on_black(ink: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.repeat(ink[:, :, np.newaxis], 3, axis=2)


def black_on_white(ink: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.repeat((255 - ink)[:, :, np.newaxis], 3, axis=2)


def black_on_transparent(ink: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """What an HTML canvas exports: black RGB everywhere, the stroke only in the alpha channel."""
    rgba = np.zeros((*ink.shape, 4), dtype=np.uint8)
    rgba[:, :, 3] = ink
    return rgba


Paint = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]
# How the same ink reaches the reader: the page's canvas (white on black), a drawing program
# (black on white) and a transparent canvas exported as PNG (black on transparent).
POLARITIES: dict[str, Paint] = {
    "white-on-black": white_on_black,
    "black-on-white": black_on_white,
    "black-on-transparent": black_on_transparent,
}
# A digit drawn with a mouse on the 280x280 canvas: 90-230 px high, a brush of radius 6-14 px.
MOUSE_HEIGHTS = (90 / CANVAS, 230 / CANVAS)
MOUSE_BRUSH_RADIUS = (6.0, 14.0)


def mouse_style(digit: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One MNIST digit redrawn as with a mouse: (280, 280) ink coverage 0-255, white on black."""
    points = skeleton_points(digit)
    brush = 2 * rng.uniform(*MOUSE_BRUSH_RADIUS)
    return trace(points, random_stroke(rng, points, MOUSE_HEIGHTS, brush))


def mouse_style_inks(digits: NDArray[np.uint8], seed: int) -> NDArray[np.uint8]:
    """`mouse_style` for each digit, from one seeded generator: the same set for the same seed."""
    rng = np.random.default_rng(seed)
    return np.stack([mouse_style(digit, rng) for digit in digits])
