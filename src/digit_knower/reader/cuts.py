"""Cutting apart digits written close together or run together: the ways a wide drawing may divide.

`segment` parts digits at blank columns a visible gap wide. People write numbers tighter than
that: a pixel or two apart at MNIST's scale, or touching, or overlapping. No wide blank gap parts
those; the place to cut is where little ink lies. Over-segment, then let the recogniser choose:

1. only ink at least as wide as it is high may be several digits (`could_be_several`);
2. the candidate cuts are the columns where the ink's column profile has a local minimum, the
   lowest first, each at least MIN_PART_WIDTH of the ink's height from the ink's ends and from
   each other (at most MAX_CUTS), each also tried SHIFTS columns to either side;
3. every way to cut the ink into two or three parts at those columns (`Cuts.ways`).

Which way is right, if any, the recogniser says: the Predictor reads every candidate part as one
more batch and keeps the way whose parts all read as confident digits, with the highest joint
probability (see `predictor`). The cut search never decides alone. It looks into a whole drawing
read as no sure digit, and into each part of several digits parted at gaps that is read as no sure
digit ("4 27": two digits closer than a gap beside one a gap away). On numbers 3 px apart, where
`segment` finds some of the gaps and not others, that took all digits right from 84.3% to 89.0%
(validation digits, 300; 2 px: 87.7% -> 88.3%; no single-digit set changed).

Chosen by measurement on numbers built from MNIST *validation* digits (`reader_quality.number_set`,
300 per gap, the shipped model): straight cuts read best. Seams that bend through the least ink
(a top-to-bottom path, a cost per slanted step) did worse the more they could bend: overlapping
by 3 px, 60% found and 42% all right at a slant cost of 0.1 ink pixels, 79% / 61% at 1.5, and
84% / 65% straight. Trying each cut a column to either side too took that to 88% / 68%
(1-3 px gaps unchanged, 95-97% found). Letting a part end past where the next begins did not help.

Only numpy, on the ink at the working size (about 100 px across): microseconds; the cost is in
reading the parts: at most 6 x MAX_CUTS + 9 x C(MAX_CUTS, 2) = 120 of them, on hostile scribbles
about 40 ms here; a number of two or three digits, about 5 ms. Single digits read confidently
(almost all) never get here, so `predict`'s median is unchanged.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

# Ink at least this much wider than high may be several digits; a single digit rarely is.
WIDE_FROM: Final = 1.0
# Candidate cuts at most.
MAX_CUTS: Final = 5
MAX_PARTS: Final = 3
# A part is at least this share of the ink's height wide (a "1" written upright is narrow).
MIN_PART_WIDTH: Final = 0.15
# ... and its ink at least this share of the whole's height high: digits in a row stand alike.
MIN_PART_HEIGHT: Final = 0.6
# Each candidate cut is also tried this many columns to either side: where digits overlap, the
# profile's minimum is rarely the best column for both.
SHIFTS: Final = (-1, 0, 1)


@dataclass(frozen=True)
class Cuts:
    """Where a wide drawing might be cut: its candidate parts, and the ways they make up the whole."""

    parts: list[NDArray[np.uint8]]  # the ink of each part: its columns of the picture
    ways: list[tuple[int, ...]]  # each way to cut: the indices of its parts, left to right


NO_CUTS: Final = Cuts([], [])


def could_be_several(strong: NDArray[np.bool_]) -> bool:
    """Whether the clear ink is wide enough to be two digits or more."""
    rows, cols = np.flatnonzero(strong.any(axis=1)), np.flatnonzero(strong.any(axis=0))
    if rows.size == 0:
        return False
    return bool(cols[-1] - cols[0] + 1 >= WIDE_FROM * (rows[-1] - rows[0] + 1))


def has_blank_columns(strong: NDArray[np.bool_]) -> bool:
    """Whether blank columns part the clear ink anywhere between its first and last column."""
    inked = np.flatnonzero(strong.any(axis=0))
    return bool(inked.size > 0 and inked.size < inked[-1] - inked[0] + 1)


def cuts(ink: NDArray[np.uint8], strong: NDArray[np.bool_]) -> Cuts:
    """The candidate parts of `ink` (white on black) and the ways to cut it into 2..MAX_PARTS of them.

    `strong`: where the ink is clearly ink (`preprocess.strong`); the cuts are searched in its box.
    """
    rows, cols = np.flatnonzero(strong.any(axis=1)), np.flatnonzero(strong.any(axis=0))
    if rows.size == 0:
        return NO_CUTS
    left, right = int(cols[0]), int(cols[-1]) + 1
    min_width = max(2, round(MIN_PART_WIDTH * (rows[-1] - rows[0] + 1)))
    valleys = _valleys(ink[:, left:right].sum(axis=0, dtype=np.int64), min_width)
    # The bounds of the parts, as columns of `ink`: its box's edges and the cuts; each valley a
    # group of cuts SHIFTS apart, of which a way takes one.
    bounds = [left]
    groups = []
    for valley in valleys:
        groups.append(range(len(bounds), len(bounds) + len(SHIFTS)))
        bounds.extend(left + valley + shift for shift in SHIFTS)
    bounds.append(right)
    spans: dict[tuple[int, int], int] = {}
    ways = []
    for count in range(1, MAX_PARTS):
        for chosen in itertools.combinations(groups, count):
            for inner in itertools.product(*chosen):
                edges = (0, *inner, len(bounds) - 1)
                ways.append(tuple(spans.setdefault(pair, len(spans)) for pair in itertools.pairwise(edges)))
    parts = [_between(ink, bounds[a], bounds[b]) for a, b in spans]
    tall = [_tall(strong, slice(bounds[a], bounds[b]), int(rows[-1] - rows[0] + 1)) for a, b in spans]
    kept = [way for way in ways if all(tall[k] for k in way)]
    return Cuts(parts, kept)


def _tall(strong: NDArray[np.bool_], columns: slice, height: int) -> bool:
    """Whether the part's clear ink spans at least MIN_PART_HEIGHT of the whole ink's height."""
    rows = np.flatnonzero(strong[:, columns].any(axis=1))
    return rows.size > 0 and rows[-1] - rows[0] + 1 >= MIN_PART_HEIGHT * height


def _valleys(profile: NDArray[np.int64], min_width: int) -> list[int]:
    """The columns of the profile's lowest local minima, left to right, min_width from the ends
    and from each other; a blank gap's first column stands for the whole gap."""
    inner = np.arange(min_width, profile.size - min_width)
    if inner.size == 0:
        return []
    low = inner[(profile[inner] <= profile[inner - 1]) & (profile[inner] <= profile[inner + 1])]
    chosen: list[int] = []
    for column in low[np.argsort(profile[low], kind="stable")]:
        if all(abs(int(column) - c) >= min_width for c in chosen):
            chosen.append(int(column))
            if len(chosen) == MAX_CUTS:
                break
    return sorted(chosen)


def _between(ink: NDArray[np.uint8], start: int, stop: int) -> NDArray[np.uint8]:
    """The ink in columns [start, stop) (a view: the Predictor judges specks against the whole)."""
    return ink[:, start:stop]
