"""Drawings that are not one digit, made up from scratch: the reader learns to say so.

Outlier exposure (Hendrycks et al., 2019): the network gets an 11th class, "not a digit", and
trains on pictures like these beside the digits. Every family is drawn the way a person draws
with a mouse on the page's 280x280 canvas: a few hand-made polylines that wobble a little,
traced with a round brush, anti-aliased. Nothing is downloaded; the same seed gives the same set.

The families (`KINDS`):
- scribble: zig-zags through random points, random walks, loops, hatching back and forth;
- letter: capitals and small letters that look like no digit (A, E, F, H, K, M, N, R, T, V, W,
  X; k, m, n, r, w, x). Letters a digit could pass for (O, I, Z, S, B, G, q, ...) are left out;
- symbol: # + x * = < > ^ ~ % & @ ? arrows, a tick, a cross, infinity, a division sign;
- shape: triangles, squares, diamonds, stars, hearts, smileys, a house, spirals, waves, grids, a
  sun. No pentagon or hexagon: a quick hand's 0 is one (pen digits drawn as polylines had their
  0s refused as "not a digit" while these were in the class);
- mark: a lone dot, a few dots, a dash, a small tick or cross in a corner;
- run_together: two or three MNIST digits written so close that they touch or overlap. They are
  no *single* digit, but they are digits: training teaches them as "unsure" (its target spread
  evenly over the ten digits, `data_mix.ANY_DIGIT`), never as "not a digit", and the reader's
  segmentation looks for the cuts between them.

Needs scikit-image for run_together (through `redraw`); training only, never serving.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from digit_knower.training.drawings import redraw

CANVAS = redraw.CANVAS
SUPERSAMPLE = redraw.SUPERSAMPLE
KINDS = ("scribble", "letter", "symbol", "shape", "mark", "run_together")

Polyline = NDArray[np.float64]  # (k, 2): x, y
Figure = list[Polyline]  # in a unit box: x and y from 0 to 1, y down
Drawing = tuple[list[Polyline], float]  # polylines in canvas pixels, and the brush's diameter
Rng = np.random.Generator


# ---------------------------------------------------------------------------------------------
# Drawing
# ---------------------------------------------------------------------------------------------


def render(strokes: Sequence[Polyline], brush: float, supersample: int = SUPERSAMPLE) -> NDArray[np.uint8]:
    """Polylines in canvas pixels (x, y), traced with a round brush: (280, 280) ink 0-255.
    (`supersample` as in `redraw.trace`.)"""
    size = CANVAS * supersample
    image = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(image)
    radius = brush * supersample / 2
    for stroke in strokes:
        xy = [(float(x) * supersample, float(y) * supersample) for x, y in stroke]
        if len(xy) > 1:
            draw.line(xy, fill=255, width=max(1, round(2 * radius)))
        for x, y in xy:  # round joints and caps, as a canvas brush has
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=255)
    return np.asarray(image.reduce(supersample) if supersample > 1 else image)


def densify(line: Polyline, step: float) -> Polyline:
    """Points every `step` along the polyline (so that wobble bends it smoothly)."""
    line = np.asarray(line, dtype=np.float64)
    if len(line) < 2:
        return line
    lengths = np.hypot(*np.diff(line, axis=0).T)
    where = np.concatenate(([0.0], np.cumsum(lengths)))
    samples = np.linspace(0.0, where[-1], max(2, math.ceil(where[-1] / step) + 1))
    return np.stack([np.interp(samples, where, line[:, 0]), np.interp(samples, where, line[:, 1])], axis=1)


def wobble(line: Polyline, rng: Rng, amount: float) -> Polyline:
    """A hand's unsteadiness: a smooth random drift of up to about `amount` along the line."""
    if len(line) < 3 or amount <= 0:
        return line
    drift = np.cumsum(rng.normal(0.0, 1.0, size=line.shape), axis=0)
    drift -= np.linspace(0, 1, len(line))[:, None] * drift[-1]  # ends stay where they were aimed
    drift *= amount / max(np.abs(drift).max(), 1e-9)
    return line + drift


def place(figure: Figure, rng: Rng, heights: tuple[float, float] = (0.3, 0.85)) -> tuple[Figure, float]:
    """The unit-box figure sized, slanted, turned and moved onto the canvas, with a brush for it.

    Returns the polylines in canvas pixels and the brush diameter (in proportion to the size,
    as a person picks a brush for a drawing's size).
    """
    height = rng.uniform(*heights) * CANVAS
    width = height * rng.uniform(0.6, 1.25)
    brush = float(np.clip(rng.uniform(0.06, 0.16) * height, 4.0, 30.0))
    angle, shear = rng.uniform(-0.3, 0.3), rng.uniform(-0.25, 0.25)
    transform = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    transform = transform @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([width, height])
    lines = [(np.asarray(line, dtype=np.float64) - 0.5) @ transform.T for line in figure]
    points = np.concatenate(lines)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = brush / 2 + 1
    fit = min(1.0, (CANVAS - 2 * margin) / max((high - low).max(), 1e-9))  # a turned figure may not fit
    lines = [line * fit for line in lines]
    low, high = low * fit, high * fit
    offset = rng.uniform(margin - low, np.maximum(CANVAS - margin - high, margin - low))
    step = max(2.0, height / 40)
    placed = [wobble(densify(line + offset, step), rng, rng.uniform(0.0, 0.025) * height) for line in lines]
    return placed, brush


# ---------------------------------------------------------------------------------------------
# Figures in a unit box (x right, y down)
# ---------------------------------------------------------------------------------------------


def _pl(*points: tuple[float, float]) -> Polyline:
    return np.array(points, dtype=np.float64)


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int = 24) -> Polyline:
    """Points along an ellipse from angle `start` to `stop` (radians, clockwise on screen)."""
    t = np.linspace(start, stop, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _polygon(sides: int, turn: float = -math.pi / 2) -> Polyline:
    t = turn + np.linspace(0, 2 * math.pi, sides + 1)
    return np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)], axis=1)


def _star(points: int) -> Polyline:
    step = 2 * math.pi * (points // 2) / points
    t = -math.pi / 2 + step * np.arange(points + 1)
    return np.stack([0.5 + 0.5 * np.cos(t), 0.5 + 0.5 * np.sin(t)], axis=1)


TAU = 2 * math.pi

LETTERS: dict[str, Figure] = {
    "A": [_pl((0, 1), (0.5, 0), (1, 1)), _pl((0.22, 0.6), (0.78, 0.6))],
    "E": [_pl((1, 0), (0, 0), (0, 1), (1, 1)), _pl((0, 0.5), (0.75, 0.5))],
    "F": [_pl((1, 0), (0, 0), (0, 1)), _pl((0, 0.5), (0.75, 0.5))],
    "H": [_pl((0, 0), (0, 1)), _pl((1, 0), (1, 1)), _pl((0, 0.5), (1, 0.5))],
    "K": [_pl((0, 0), (0, 1)), _pl((1, 0), (0, 0.55)), _pl((0.3, 0.4), (1, 1))],
    "M": [_pl((0, 1), (0, 0), (0.5, 0.65), (1, 0), (1, 1))],
    "N": [_pl((0, 1), (0, 0), (1, 1), (1, 0))],
    "R": [
        _pl((0, 1), (0, 0), (0.65, 0)),
        _arc(0.65, 0.25, 0.3, 0.25, -math.pi / 2, math.pi / 2, 12),
        _pl((0.65, 0.5), (0, 0.5)),
        _pl((0.35, 0.5), (1, 1)),
    ],
    "T": [_pl((0, 0), (1, 0)), _pl((0.5, 0), (0.5, 1))],
    "V": [_pl((0, 0), (0.5, 1), (1, 0))],
    "W": [_pl((0, 0), (0.25, 1), (0.5, 0.35), (0.75, 1), (1, 0))],
    "X": [_pl((0, 0), (1, 1)), _pl((1, 0), (0, 1))],
    "k": [_pl((0.1, 0), (0.1, 1)), _pl((0.85, 0.35), (0.1, 0.75)), _pl((0.35, 0.62), (0.9, 1))],
    "m": [
        np.concatenate(
            [
                _pl((0, 1), (0, 0.35)),
                _arc(0.25, 0.45, 0.25, 0.2, math.pi, TAU, 10),
                _pl((0.5, 0.45), (0.5, 1)),
            ]
        ),
        np.concatenate([_arc(0.75, 0.45, 0.25, 0.2, math.pi, TAU, 10), _pl((1, 0.45), (1, 1))]),
    ],
    "n": [
        np.concatenate([_pl((0.1, 1), (0.1, 0.3)), _arc(0.5, 0.5, 0.4, 0.3, math.pi, TAU, 14), _pl((0.9, 1))])
    ],
    "r": [_pl((0.2, 1), (0.2, 0.3)), _arc(0.6, 0.6, 0.4, 0.3, math.pi, 1.6 * math.pi, 10)],
    "w": [_pl((0, 0.3), (0.22, 1), (0.5, 0.5), (0.78, 1), (1, 0.3))],
    "x": [_pl((0.1, 0.3), (0.9, 1)), _pl((0.9, 0.3), (0.1, 1))],
}

SYMBOLS: dict[str, Figure] = {
    "#": [
        _pl((0.35, 0), (0.25, 1)),
        _pl((0.75, 0), (0.65, 1)),
        _pl((0, 0.33), (1, 0.33)),
        _pl((0, 0.67), (1, 0.67)),
    ],
    "+": [_pl((0.5, 0), (0.5, 1)), _pl((0, 0.5), (1, 0.5))],
    "*": [_pl((0.5, 0), (0.5, 1)), _pl((0.07, 0.25), (0.93, 0.75)), _pl((0.93, 0.25), (0.07, 0.75))],
    "=": [_pl((0, 0.3), (1, 0.3)), _pl((0, 0.7), (1, 0.7))],
    "≠": [_pl((0, 0.35), (1, 0.35)), _pl((0, 0.65), (1, 0.65)), _pl((0.7, 0), (0.3, 1))],
    "<": [_pl((1, 0), (0, 0.5), (1, 1))],
    ">": [_pl((0, 0), (1, 0.5), (0, 1))],
    "^": [_pl((0, 1), (0.5, 0), (1, 1))],
    "~": [np.stack([np.linspace(0, 1, 30), 0.5 - 0.3 * np.sin(np.linspace(0, TAU, 30))], axis=1)],
    "%": [
        _arc(0.2, 0.2, 0.18, 0.18, 0, TAU, 16),
        _arc(0.8, 0.8, 0.18, 0.18, 0, TAU, 16),
        _pl((0.9, 0), (0.1, 1)),
    ],
    "&": [
        _pl(
            (1.0, 1.0),
            (0.25, 0.35),
            (0.2, 0.18),
            (0.35, 0.02),
            (0.55, 0.05),
            (0.6, 0.2),
            (0.5, 0.35),
            (0.2, 0.55),
            (0.05, 0.75),
            (0.15, 0.95),
            (0.45, 1.0),
            (0.7, 0.85),
            (0.9, 0.6),
        )
    ],
    "@": [
        np.concatenate(
            [
                _arc(0.55, 0.5, 0.2, 0.22, 0, TAU, 16),
                _pl((0.75, 0.75)),
                _arc(0.5, 0.5, 0.48, 0.48, 0.3, TAU, 30),
            ]
        )
    ],
    "?": [
        np.concatenate([_arc(0.5, 0.3, 0.4, 0.28, math.pi, 2.5 * math.pi, 16), _pl((0.5, 0.72))]),
        _pl((0.5, 0.95), (0.5, 0.97)),
    ],
    "→": [_pl((0, 0.5), (1, 0.5)), _pl((0.65, 0.15), (1, 0.5), (0.65, 0.85))],
    "↑": [_pl((0.5, 1), (0.5, 0)), _pl((0.15, 0.35), (0.5, 0), (0.85, 0.35))],
    "✓": [_pl((0, 0.55), (0.35, 1), (1, 0))],
    "✗": [_pl((0, 0), (1, 1)), _pl((0.9, 0.05), (0.1, 0.95))],
    "∞": [
        np.stack(
            [0.5 + 0.5 * np.cos(np.linspace(0, TAU, 40)), 0.5 + 0.3 * np.sin(2 * np.linspace(0, TAU, 40))],
            axis=1,
        )
    ],
    "÷": [_pl((0, 0.5), (1, 0.5)), _pl((0.5, 0.15), (0.5, 0.17)), _pl((0.5, 0.83), (0.5, 0.85))],
}


def _heart() -> Figure:
    t = np.linspace(0, TAU, 40)
    x, y = 16 * np.sin(t) ** 3, 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return [np.stack([(x + 17) / 34, (17 - y) / 30], axis=1)]


def _smiley(rng: Rng) -> Figure:
    mouth = rng.uniform(0.2, 0.35)
    return [
        _arc(0.5, 0.5, 0.5, 0.5, 0, TAU, 36),
        _pl((0.33, 0.35), (0.34, 0.37)),
        _pl((0.66, 0.35), (0.67, 0.37)),
        _arc(0.5, 0.55, mouth, 0.2, 0.15 * math.pi, 0.85 * math.pi, 12),
    ]


def _spiral(rng: Rng) -> Figure:
    turns = rng.uniform(2.0, 3.5)
    t = np.linspace(0, turns * TAU, int(40 * turns))
    r = 0.5 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1)]


def _sun(rng: Rng) -> Figure:
    rays = int(rng.integers(6, 11))
    figure = [_arc(0.5, 0.5, 0.22, 0.22, 0, TAU, 20)]
    for a in np.linspace(0, TAU, rays, endpoint=False):
        figure.append(
            _pl(
                (0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)),
                (0.5 + 0.5 * math.cos(a), 0.5 + 0.5 * math.sin(a)),
            )
        )
    return figure


def _lines(rng: Rng, across: bool) -> Figure:
    count = int(rng.integers(3, 7))
    where = np.linspace(0, 1, count)
    figure = [_pl((0, y), (1, y + rng.uniform(-0.1, 0.1))) for y in where]
    if across:
        figure += [_pl((x, 0), (x + rng.uniform(-0.1, 0.1), 1)) for x in where]
    return figure


SHAPES: dict[str, Callable[[Rng], Figure]] = {
    "triangle": lambda rng: [_polygon(3)],
    "square": lambda rng: [_pl((0, 0), (1, 0), (1, 1), (0, 1), (0, 0))],
    "diamond": lambda rng: [_pl((0.5, 0), (1, 0.5), (0.5, 1), (0, 0.5), (0.5, 0))],
    "star": lambda rng: [_star(5)],
    "star7": lambda rng: [_star(7)],
    "heart": lambda rng: _heart(),
    "smiley": _smiley,
    "house": lambda rng: [_pl((0, 0.4), (0.5, 0), (1, 0.4), (1, 1), (0, 1), (0, 0.4), (1, 0.4))],
    "spiral": _spiral,
    "sun": _sun,
    "wave": lambda rng: [
        np.stack(
            [np.linspace(0, 1, 60), 0.5 + 0.4 * np.sin(np.linspace(0, rng.uniform(2.5, 5) * TAU, 60))], axis=1
        )
    ],
    "hatching": lambda rng: _lines(rng, across=False),
    "grid": lambda rng: _lines(rng, across=True),
    "arrow": lambda rng: [_pl((0.1, 0.9), (0.9, 0.1)), _pl((0.45, 0.1), (0.9, 0.1), (0.9, 0.55))],
}


# ---------------------------------------------------------------------------------------------
# The families
# ---------------------------------------------------------------------------------------------


def scribble(rng: Rng) -> Drawing:
    style = rng.integers(4)
    if style == 0:  # zig-zag through random points
        figure = [rng.uniform(0, 1, size=(int(rng.integers(7, 20)), 2))]
    elif style == 1:  # a random walk with momentum: curls and loops
        heading = np.cumsum(rng.normal(0, rng.uniform(0.3, 0.9), size=int(rng.integers(40, 140))))
        walk = np.cumsum(np.stack([np.cos(heading), np.sin(heading)], axis=1), axis=0)
        figure = [(walk - walk.min(axis=0)) / max(np.ptp(walk, axis=0).max(), 1e-9)]
    elif style == 2:  # loops along a line, like a telephone cord
        t = np.linspace(0, rng.uniform(3, 8) * TAU, 200)
        r = rng.uniform(0.15, 0.4)
        figure = [np.stack([t / t[-1] * (1 - 2 * r) + r + r * np.cos(t), 0.5 + r * np.sin(t)], axis=1)]
    else:  # back-and-forth filling
        rows = int(rng.integers(4, 12))
        ys = np.linspace(0, 1, rows)
        xs = np.where(np.arange(rows) % 2 == 0, 0.0, 1.0) + rng.uniform(-0.15, 0.15, rows)
        figure = [np.stack([xs, ys], axis=1)]
    strokes, brush = place(figure, rng)
    return strokes, brush


def letter(rng: Rng) -> Drawing:
    strokes, brush = place(LETTERS[_pick(rng, LETTERS)], rng)
    return strokes, brush


def symbol(rng: Rng) -> Drawing:
    strokes, brush = place(SYMBOLS[_pick(rng, SYMBOLS)], rng)
    return strokes, brush


def shape(rng: Rng) -> Drawing:
    strokes, brush = place(SHAPES[_pick(rng, SHAPES)](rng), rng)
    return strokes, brush


def mark(rng: Rng) -> Drawing:
    """A dot, a few dots, a dash, or a small tick or cross: a mark, not a digit."""
    style = rng.integers(4)
    if style == 0:  # one dot: a click, or a tiny circle filled by the brush
        figure, heights = [_pl((0.5, 0.5), (0.52, 0.5))], (0.05, 0.2)
    elif style == 1:  # a few dots
        figure, heights = (
            [_pl(tuple(p), tuple(p + 0.01)) for p in rng.uniform(0, 1, (int(rng.integers(2, 6)), 2))],
            (0.2, 0.8),
        )
    elif style == 2:  # a dash, lying down
        figure, heights = [_pl((0, 0.5), (1, 0.5 + rng.uniform(-0.15, 0.15)))], (0.15, 0.6)
    else:  # a small tick or cross, as in a corner
        figure, heights = (SYMBOLS["✓"] if rng.random() < 0.6 else SYMBOLS["✗"]), (0.06, 0.3)
    strokes, brush = place(figure, rng, heights)
    if style < 2:  # a dot is as big as the brush that made it: the page's brushes are 6-40 px
        brush = rng.uniform(6.0, 40.0)
    return strokes, brush


def run_together(rng: Rng, digits: NDArray[np.uint8], supersample: int = SUPERSAMPLE) -> NDArray[np.uint8]:
    """Two or three MNIST digits written side by side so close that they touch or overlap."""
    count = 2 if rng.random() < 0.75 else 3
    chosen = digits[rng.choice(len(digits), count, replace=False)]
    skeletons = [redraw.skeleton_points(digit) for digit in chosen]
    height = rng.uniform(0.3, 0.8) * CANVAS
    brush = rng.uniform(0.08, 0.16) * height
    scale = (height - brush) / max(max(np.ptp(s[:, 0]) for s in skeletons), 1.0)
    widths = [max(np.ptp(s[:, 1]), 1.0) * scale for s in skeletons]
    # From a clear overlap to just touching: a brush width or less between the skeletons.
    gaps = rng.uniform(-0.35, 0.05, count - 1) * height + brush * rng.uniform(0.2, 1.0)
    total = sum(widths) + gaps.sum() + brush
    if total > CANVAS - 2:  # too wide for the canvas: shrink everything
        shrink = (CANVAS - 2) / total
        scale, brush, height = scale * shrink, brush * shrink, height * shrink
        widths, gaps, total = [w * shrink for w in widths], gaps * shrink, CANVAS - 2
    left = rng.uniform(1, CANVAS - 1 - total) + brush / 2
    top = rng.uniform(brush / 2 + 1, CANVAS - height + brush / 2 - 1)
    ink = np.zeros((CANVAS, CANVAS), dtype=np.uint8)
    for skeleton, width, gap in zip(skeletons, widths, [*gaps, 0.0], strict=True):
        centre = (top - brush / 2 + height / 2 + rng.uniform(-0.05, 0.05) * height, left + width / 2)
        stroke = redraw.Stroke(scale, brush, centre)
        ink = np.maximum(ink, redraw.trace(skeleton, stroke, supersample))
        left += width + gap
    return ink


def _pick(rng: Rng, table: Mapping[str, object]) -> str:
    return list(table)[int(rng.integers(len(table)))]


MAKERS: dict[str, Callable[[Rng], Drawing]] = {
    "scribble": scribble,
    "letter": letter,
    "symbol": symbol,
    "shape": shape,
    "mark": mark,
}


def nondigit(
    rng: Rng, kind: str, digits: NDArray[np.uint8] | None = None, supersample: int = SUPERSAMPLE
) -> NDArray[np.uint8]:
    """One drawing of the given family: (280, 280) ink 0-255, white on black."""
    if kind == "run_together":
        if digits is None:
            raise ValueError("run_together needs MNIST digits to write side by side")
        return run_together(rng, digits, supersample)
    return render(*MAKERS[kind](rng), supersample=supersample)
