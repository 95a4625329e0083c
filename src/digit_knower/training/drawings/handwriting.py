"""Real people's handwriting as training inputs: pen-written digits, and letters drawn with a mouse.

MNIST is 250 American writers scanned in one style, and the redrawn digits (`redraw`) follow
MNIST's skeletons, so both teach the reader one hand. Two sets of real hands widen it:

- **pen digits** (UCI, 30 writers; `pen_paths`): the training rows only (`pen_paths.training_rows`;
  the validation rows are read by `reader_quality`), each drawn `per_row` times on the canvas. Each
  drawing takes, at random: a smooth curve through the 8 points (PEN_CURVE_SHARE) or the angular
  polyline a quick hand makes; the file's stretched coordinates (every digit as wide as high, as
  the validation set draws them) or about the width the writer drew (`pen_paths.arc_length_aspect`,
  jittered by ASPECT_JITTER); and a random size, position and brush (6-40 px, as the page's slider);
- **Omniglot** (50 alphabets, mouse-drawn): every training drawing once, as "not a digit". They
  are the real-hand counterpart of the synthetic non-digits (`nondigits`). A few look like a
  digit (a circle, a bar): training's label smoothing and the reader's "unsure" take the rest.

Like `training_set`, each drawing goes through the product's own preprocessing, so training sees
what serving sees; they are made once on every core and cached (the file's name holds a digest of
the source data, the numbers and the drawing code). Measured on the 2-core machine: about
4 minutes for 24,000 pen drawings and 30,000 Omniglot drawings, then a second to load.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from digit_knower.data.omniglot import Drawings as OmniglotDrawings
from digit_knower.data.pendigits import PenDigits
from digit_knower.reader import picture, preprocess
from digit_knower.reader.picture import EmptyImageError
from digit_knower.training.drawings import cache as drawing_cache
from digit_knower.training.drawings import nondigits, omniglot_strokes, pen_paths
from digit_knower.training.drawings.training_set import CHUNK, gather

# A quarter of the pen drawings are the plain polyline through the 8 points: the angular digits a
# quick hand draws (a 0 as a heptagon), which the shipped model refused 13% of (against 2% of curves).
PEN_CURVE_SHARE: Final = 0.75
# Half keep the file's coordinates, stretched to a square (as the validation set is drawn); half get
# about the writer's own width (1s went from 22% to 59% read right drawn that way, untrained).
STRETCHED_SHARE: Final = 0.5
# The writer's width is an estimate: each drawing takes it times exp(N(0, ASPECT_JITTER)).
ASPECT_JITTER: Final = 0.2
# The code that decides what the cache holds.
_SOURCES: Final = (pen_paths, omniglot_strokes, nondigits, preprocess, picture)


@dataclass(frozen=True)
class Handwriting:
    """28x28 model inputs from real hands, made and cached by `load_or_make`."""

    pen_digits: NDArray[np.uint8]  # (rows * per_row, 28, 28), row by row
    pen_labels: NDArray[np.int64]  # (rows * per_row,): the digit each shows
    omniglot: NDArray[np.uint8]  # (drawings, 28, 28): none is a digit


def load_or_make(
    pen: PenDigits,
    rows: NDArray[np.int64],
    omniglot: OmniglotDrawings,
    cache_dir: Path,
    *,
    per_row: int,
    seed: int,
    workers: int,
) -> Handwriting:
    """The pen digits of `rows`, each drawn `per_row` times, and every one of the `omniglot`
    drawings, as model inputs: from the cache when made before, else made now on `workers` processes."""
    numbers = (per_row, seed, PEN_CURVE_SHARE, STRETCHED_SHARE, ASPECT_JITTER)
    arrays = (pen.paths[rows], pen.labels[rows], omniglot.strokes, omniglot.offsets)
    path = drawing_cache.path(cache_dir, "handwriting", arrays, numbers, _SOURCES)
    if (kept := drawing_cache.load(path)) is not None:
        return Handwriting(**kept)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        paths = np.repeat(pen.paths[rows], per_row, axis=0)
        pen_futures = [
            pool.submit(_pen_chunk, paths[s : s + CHUNK], (seed, s)) for s in range(0, len(paths), CHUNK)
        ]
        omniglot_futures = [
            pool.submit(_omniglot_chunk, _strokes_of(omniglot, s, s + CHUNK), (seed + 1, s))
            for s in range(0, len(omniglot), CHUNK)
        ]
        made = Handwriting(
            pen_digits=gather(pen_futures, len(paths), "drawing pen digits"),
            pen_labels=np.repeat(pen.labels[rows].astype(np.int64), per_row),
            omniglot=gather(omniglot_futures, len(omniglot), "drawing Omniglot characters"),
        )
    drawing_cache.save(path, made.__dict__)
    return made


def pen_input(path: NDArray[np.floating], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One pen path drawn on the canvas in a random style (see the module's note), preprocessed."""
    aspect = None
    if rng.random() >= STRETCHED_SHARE:
        aspect = pen_paths.arc_length_aspect(path) * float(np.exp(rng.normal(0.0, ASPECT_JITTER)))
    ink = pen_paths.draw(path, rng, curve=rng.random() < PEN_CURVE_SHARE, aspect=aspect, supersample=1)
    return preprocess.preprocess(ink)


def omniglot_input(strokes: list[NDArray[np.float32]], rng: np.random.Generator) -> NDArray[np.uint8]:
    """One Omniglot drawing on the canvas at a random size, position and brush, preprocessed."""
    while True:
        try:
            return preprocess.preprocess(omniglot_strokes.draw(strokes, rng, supersample=1))
        except EmptyImageError:  # drawn too small to read: another size
            continue


def _strokes_of(drawings: OmniglotDrawings, start: int, stop: int) -> list[list[NDArray[np.float32]]]:
    return [drawings.polylines(i) for i in range(start, min(stop, len(drawings)))]


def _pen_chunk(paths: NDArray[np.floating], seed: tuple[int, int]) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return np.stack([pen_input(path, rng) for path in paths])


def _omniglot_chunk(drawings: list[list[NDArray[np.float32]]], seed: tuple[int, int]) -> NDArray[np.uint8]:
    rng = np.random.default_rng(seed)
    return np.stack([omniglot_input(strokes, rng) for strokes in drawings])
