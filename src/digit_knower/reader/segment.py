"""Finding the digits in a drawing: several digits written side by side, each with a gap.

People write "42" as two digits with a visible space between them, and the reader should say
"4, 2" rather than force one digit out of it. Here the ink (white on black, as `preprocess.ink`
makes it) is cut at the blank columns between the pieces of the drawing:

1. runs of inked columns are the candidate pieces; a run holding a sliver of the ink is a
   stray speck and is left out (as `preprocess` leaves it out of a single digit);
2. pieces closer than a small share of their height belong together: the parts of a broken
   stroke, the two strokes of a "4" or a "5" lie within a digit's own width;
3. a piece much shorter than the tallest (a dot, a dash, a comma) is no digit of its own, and
   joins its nearest neighbour.

Two or more pieces left are the candidate digits, left to right. Whether each really is a
digit is the model's call (see `verdict`): the reader reads every piece as one digit, and only
then says "several digits". Digits closer than a gap, touching or overlapping, are no business
of this module: `cuts` proposes where to cut them, and the model chooses.

Only numpy, on the small ink picture (about 100x100): a few tens of microseconds.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

# A blank gap at least this share of the taller neighbour's height, and this many pixels,
# parts two digits. Within a digit, pieces overlap or nearly touch (MNIST's broken strokes
# leave gaps of one or two pixels at 20 pixels high).
MIN_GAP_SHARE: Final = 0.12
MIN_GAP_PIXELS: Final = 2
# From this share on, the gap is plain to see: no digit is broken that wide (see `verdict`).
CLEAR_GAP_SHARE: Final = 0.25
# A piece less tall than this share of the tallest is a mark beside a digit, not a digit.
MIN_PIECE_HEIGHT: Final = 0.4
# A run of columns holding less than this share of the ink is a stray speck.
SPECK_SHARE: Final = 0.02
# More pieces than this are hatching or a scribble, not a number someone wrote.
MAX_DIGITS: Final = 8


@dataclass(frozen=True)
class DigitSpans:
    """Where a drawing divides into separate digits."""

    spans: list[slice]  # the columns of each candidate digit, left to right; [] for one digit
    clearly_apart: bool = False  # every gap is wide (CLEAR_GAP_SHARE): no digit breaks that wide


ONE_DIGIT: Final = DigitSpans([])


def digit_spans(strong: NDArray[np.bool_]) -> DigitSpans:
    """The column spans of the separate digits, left to right; no spans unless two or more.

    `strong`: where the ink is clearly ink (above the noise floor), at the working size.
    """
    pieces = _column_runs(strong)
    if len(pieces) < 2:
        return ONE_DIGIT
    pieces = _without_specks(pieces)
    pieces = _joined_when_close(pieces)
    pieces = _marks_joined_to_neighbours(pieces)
    if not 2 <= len(pieces) <= MAX_DIGITS:
        return ONE_DIGIT
    gaps = [(b.left - a.right) / max(a.height, b.height) for a, b in itertools.pairwise(pieces)]
    return DigitSpans([slice(p.left, p.right) for p in pieces], clearly_apart=min(gaps) >= CLEAR_GAP_SHARE)


class _Piece:
    """A run of inked columns: where it lies, how tall its ink is, and how much ink it holds."""

    __slots__ = ("bottom", "left", "mass", "right", "top")

    def __init__(self, left: int, right: int, top: int, bottom: int, mass: int) -> None:
        self.left, self.right, self.top, self.bottom, self.mass = left, right, top, bottom, mass

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def joined(self, other: _Piece) -> _Piece:
        return _Piece(
            min(self.left, other.left),
            max(self.right, other.right),
            min(self.top, other.top),
            max(self.bottom, other.bottom),
            self.mass + other.mass,
        )


def _column_runs(strong: NDArray[np.bool_]) -> list[_Piece]:
    inked = strong.any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], inked, [False])).astype(np.int8)))
    pieces = []
    for left, right in zip(edges[0::2], edges[1::2], strict=True):
        rows = np.flatnonzero(strong[:, left:right].any(axis=1))
        mass = int(np.count_nonzero(strong[:, left:right]))
        pieces.append(_Piece(int(left), int(right), int(rows[0]), int(rows[-1]) + 1, mass))
    return pieces


def _without_specks(pieces: list[_Piece]) -> list[_Piece]:
    total = sum(piece.mass for piece in pieces)
    return [piece for piece in pieces if piece.mass >= SPECK_SHARE * total]


def _joined_when_close(pieces: list[_Piece]) -> list[_Piece]:
    joined = pieces[:1]
    for piece in pieces[1:]:
        gap = piece.left - joined[-1].right
        if gap < max(MIN_GAP_PIXELS, MIN_GAP_SHARE * max(piece.height, joined[-1].height)):
            joined[-1] = joined[-1].joined(piece)
        else:
            joined.append(piece)
    return joined


def _marks_joined_to_neighbours(pieces: list[_Piece]) -> list[_Piece]:
    """Each piece much shorter than the tallest joins its nearest neighbour, shortest first."""
    pieces = list(pieces)
    while len(pieces) > 1:
        tallest = max(piece.height for piece in pieces)
        shortest = min(range(len(pieces)), key=lambda i: pieces[i].height)
        if pieces[shortest].height >= MIN_PIECE_HEIGHT * tallest:
            break
        neighbour = _nearest_neighbour(pieces, shortest)
        low, high = sorted((shortest, neighbour))
        pieces[low : high + 1] = [pieces[low].joined(pieces[high])]
    return pieces


def _nearest_neighbour(pieces: list[_Piece], index: int) -> int:
    candidates = [i for i in (index - 1, index + 1) if 0 <= i < len(pieces)]
    piece = pieces[index]
    return min(candidates, key=lambda i: max(pieces[i].left - piece.right, piece.left - pieces[i].right))
