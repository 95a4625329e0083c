"""Drawings as people make them: MNIST test digits redrawn on a 280x280 canvas, read back.

Each variant redraws the same 1000 test digits (fixed seed): traced along their skeleton
with a round brush, 30-90% of the canvas high (70-90% for a 40 px brush), anywhere on
the canvas. The shipped model, behind the preprocessing, must read at least 98.5% of each
variant. (The digits the redrawing itself spoils, such as an 8 whose small loop MNIST
filled in and the skeleton loses, count as misread too: the bar includes them.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from digit_knower import EmptyImageError, Predictor
from digit_knower.data.mnist import Split, load_test
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training.drawings import redraw as drawing

pytestmark = pytest.mark.slow

DIGITS = 1000
REQUIRED_ACCURACY = 0.985

Paint = Callable[[NDArray[np.uint8]], NDArray[np.uint8]]

# name: (height range as shares of the canvas, brush in canvas pixels or None, paint)
# A brush of None is in proportion to the digit (8-16% of its height), as people choose.
# A 40 px brush closes the loops and gaps of a digit shorter than about 70% of the canvas
# (its stroke is then over a sixth of the digit's height): a blot, for people too.
VARIANTS: dict[str, tuple[tuple[float, float], float | None, Paint]] = {
    "thin-2px-pen": ((0.3, 0.9), 2.0, drawing.white_on_black),
    "thick-40px-brush": ((0.7, 0.9), 40.0, drawing.white_on_black),
    "white-on-black": ((0.3, 0.9), None, drawing.white_on_black),
    "black-on-white": ((0.3, 0.9), None, drawing.black_on_white),
    "black-on-transparent": ((0.3, 0.9), None, drawing.black_on_transparent),
}


@pytest.fixture(scope="module")
def sample(mnist_dir: Path) -> Split:
    test = load_test(mnist_dir, download=False)
    chosen = np.random.default_rng(2026).choice(len(test.labels), DIGITS, replace=False)
    return Split(test.images[chosen], test.labels[chosen])


def redraw(
    sample: Split, heights: tuple[float, float], brush: float | None, paint: Paint
) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    canvases = []
    for digit in sample.images:
        points = drawing.skeleton_points(digit)
        canvases.append(paint(drawing.trace(points, drawing.random_stroke(rng, points, heights, brush))))
    return canvases


@pytest.mark.parametrize("variant", VARIANTS)
def test_drawn_digits_are_read(sample: Split, variant: str):
    predictor = Predictor.load(SHIPPED_MODEL_DIR)
    read = []
    for canvas in redraw(sample, *VARIANTS[variant]):
        try:
            read.append(predictor.predict(canvas).digit)
        except EmptyImageError:  # a drawing taken for blank is a drawing not read
            read.append(-1)
    accuracy = float(np.mean(np.array(read) == sample.labels))
    assert accuracy >= REQUIRED_ACCURACY, f"{variant}: read {accuracy:.1%} of {DIGITS} drawings"
