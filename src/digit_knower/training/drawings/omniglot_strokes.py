"""Omniglot characters, drawn by real people with a mouse, redrawn on the page's 280x280 canvas.

Each drawing is a few strokes in sketch-rnn's stroke-3 form (`digit_knower.data.omniglot`): the
pen's offsets, and where it lifted. They are letters of 50 alphabets, none a digit: the reader's
best examples of "not a digit" in real hands. Each is drawn as the canvas draws a mouse's path:
its polylines traced with one round brush, scaled to fit at a random size and position with a
margin to every edge, at a brush width the page's slider offers (`pen_paths.fit_on_canvas`).
Training only (numpy and Pillow; never serving).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from digit_knower.data.omniglot import Drawings
from digit_knower.training.drawings import nondigits, pen_paths, redraw

Polyline = pen_paths.Polyline


def check_strokes(strokes: Sequence[ArrayLike]) -> list[Polyline]:
    """The strokes as (k, 2) float64 arrays of finite (x, y) points, k >= 1 each, at least one
    stroke; ValueError if not."""
    lines = [np.asarray(stroke, dtype=np.float64) for stroke in strokes]
    if not lines:
        raise ValueError("a drawing needs at least one stroke")
    for line in lines:
        if line.ndim != 2 or line.shape[1] != 2 or len(line) == 0:
            raise ValueError(f"a stroke is a (k, 2) array of (x, y) points, k >= 1, not shape {line.shape}")
        if not np.isfinite(line).all():
            raise ValueError("a stroke's points must be finite numbers (no NaN or infinity)")
    return lines


def draw(
    strokes: Sequence[ArrayLike], rng: np.random.Generator, supersample: int = redraw.SUPERSAMPLE
) -> NDArray[np.uint8]:
    """A drawing's strokes (absolute (x, y) points, y down, any units; as `Drawings.polylines`)
    on the canvas: (280, 280) ink 0-255, white on black. Paint it with `pen_paths.paint`."""
    lines, brush = pen_paths.fit_on_canvas(check_strokes(strokes), rng)
    return nondigits.render(lines, brush, supersample)


def draw_many(drawings: Drawings, indices: Sequence[int], seed: int) -> NDArray[np.uint8]:
    """`draw` for each chosen drawing, from one seeded generator: (len(indices), 280, 280) ink,
    the same for the same seed."""
    rng = np.random.default_rng(seed)
    return np.stack([draw(drawings.polylines(int(i)), rng) for i in indices])
