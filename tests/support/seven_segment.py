"""A simulated user with one consistent style: seven-segment digits, as on a calculator, drawn with
a mouse on the page's 280x280 canvas.

The shipped model learned MNIST's handwriting and the strokes of a mouse; these boxy digits it
often calls no digit at all (a third of them: most "8"s, "0"s and "2"s, made of straight bars),
and the "6" of a calculator (top bar, no curve) looks to it like a "5". This is the user that the
learning loop must learn from. The tests and
bench/learning_loop.py share it, so the bench measures exactly what the tests exercise.

    drawings = seven_segment_drawings(labels, seed=1)    # (N, 280, 280) ink, white on black
    png = canvas_png(drawings[0])                         # what the page's canvas sends
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

CANVAS = 280
SUPERSAMPLE = 2

# The segments, lettered as on every seven-segment display: a top, b top right, c bottom right,
# d bottom, e bottom left, f top left, g middle. Coordinates in the digit's box, y downwards.
SEGMENT_ENDS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "a": ((0.0, 0.0), (1.0, 0.0)),
    "b": ((1.0, 0.0), (1.0, 0.5)),
    "c": ((1.0, 0.5), (1.0, 1.0)),
    "d": ((0.0, 1.0), (1.0, 1.0)),
    "e": ((0.0, 0.5), (0.0, 1.0)),
    "f": ((0.0, 0.0), (0.0, 0.5)),
    "g": ((0.0, 0.5), (1.0, 0.5)),
}
# A calculator's digits: its 6 and 9 have their tails, its 7 has no hook.
DIGIT_SEGMENTS = {
    0: "abcdef",
    1: "bc",
    2: "abged",
    3: "abgcd",
    4: "fgbc",
    5: "afgcd",
    6: "afgedc",
    7: "abc",
    8: "abcdefg",
    9: "abcdfg",
}


def seven_segment(digit: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """One seven-segment `digit` drawn as with a mouse: (280, 280) ink coverage 0-255.

    The style stays the same (upright-ish box, small gaps between the segments, a round brush);
    each drawing varies its size, place, slant, proportions and the wobble of the hand.
    """
    height = rng.uniform(120, 220)
    width = height * rng.uniform(0.45, 0.62)
    brush = rng.uniform(12, 24)  # diameter: a radius of 6-12 px
    slant = rng.uniform(-0.05, 0.2)  # shift of the top to the right, as a share of the height
    gap = rng.uniform(0.0, 0.08)  # each segment stops this share short of its corners
    left = rng.uniform(brush, CANVAS - brush - width - slant * height)
    top = rng.uniform(brush, CANVAS - brush - height)

    def to_canvas(x: float, y: float) -> tuple[float, float]:
        wobble = rng.normal(0, 0.012, size=2)
        cx = left + (x + wobble[0]) * width + slant * height * (1 - y)
        cy = top + (y + wobble[1]) * height
        return cx * SUPERSAMPLE, cy * SUPERSAMPLE

    size = CANVAS * SUPERSAMPLE
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = brush * SUPERSAMPLE / 2
    for segment in DIGIT_SEGMENTS[digit]:
        (x0, y0), (x1, y1) = SEGMENT_ENDS[segment]
        direction = np.array([x1 - x0, y1 - y0]) / max(abs(x1 - x0), abs(y1 - y0))
        start, end = np.array([x0, y0]) + gap * direction, np.array([x1, y1]) - gap * direction
        # A mouse stroke is a few short straight moves, never a perfect line.
        points = [to_canvas(*(start + (end - start) * t)) for t in np.linspace(0, 1, 5)]
        draw.line(points, fill=255, width=max(1, round(2 * radius)), joint="curve")
        for x, y in (points[0], points[-1]):
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(image.reduce(SUPERSAMPLE))


def seven_segment_drawings(labels: Sequence[int], seed: int) -> NDArray[np.uint8]:
    """`seven_segment` for each label, from one seeded generator: the same set for the same seed."""
    rng = np.random.default_rng(seed)
    return np.stack([seven_segment(int(label), rng) for label in labels])


def balanced_labels(count: int, seed: int) -> NDArray[np.int64]:
    """`count` digits, each of 0-9 about equally often, in a seeded random order."""
    labels = np.arange(count) % 10
    return np.random.default_rng(seed).permutation(labels)


def canvas_png(ink: NDArray[np.uint8]) -> bytes:
    """The drawing as the page's canvas sends it: a PNG, white ink on black."""
    buffer = io.BytesIO()
    Image.fromarray(ink).convert("RGBA").save(buffer, format="PNG")
    return buffer.getvalue()
