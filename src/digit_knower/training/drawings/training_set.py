"""The drawings training reads beside MNIST's own digits, made once on every core and cached: the
digits redrawn as people draw them, and drawings that are no digit at all.

MNIST alone teaches the network MNIST's pen. People draw on the page with a mouse, a finger or a
fat brush, and scribble, write letters and draw several digits at once. So training reads:

- every MNIST training digit as the reader serves it: through the preprocessing, which leaves 88%
  of them untouched and takes stray specks off, or brings an extreme stroke into range, in the rest;
- every MNIST training digit redrawn `redraws` times along its skeleton (`redraw`), most with a
  mouse-sized brush, some with a thin pen or a fat marker, anywhere on the 280x280 canvas;
- `count` drawings that are no digit (`nondigits`): the eleventh class.

Each drawing goes through the product's own preprocessing, so training sees exactly what serving
sees, and is kept as a 28x28 input. Making them takes minutes, so they are made once, on every
core, and kept in the cache folder (`drawing_cache`: the file's name holds a digest of the digits,
the counts, the seed and the source of the drawing and preprocessing code). `data_mix` holds them
in memory and mixes them into batches.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from digit_knower.reader import picture, preprocess
from digit_knower.reader.picture import EmptyImageError
from digit_knower.training.drawings import cache as drawing_cache
from digit_knower.training.drawings import nondigits, redraw

# Work is handed to the processes in chunks this big, each with its own seed: the result is the
# same whatever the number of processes.
CHUNK: Final = 400
# The source files whose code decides what the cache holds.
_SOURCES: Final = (redraw, nondigits, preprocess, picture)
# A share of the redrawings use a brush of any size the page offers (its slider: 6-40 px) or a
# thin pen, on a digit 25-95% of the canvas high; the rest use a mouse-sized one (`redraw.mouse_style`).
FREE_STYLE_SHARE: Final = 0.4
FREE_HEIGHTS: Final = (0.25, 0.95)
FREE_BRUSH_PX: Final = (2.0, 40.0)


@dataclass(frozen=True)
class Drawings:
    """28x28 model inputs, made and cached by `load_or_make`."""

    preprocessed: NDArray[np.uint8]  # (N, 28, 28): digit i of the given images, preprocessed
    redrawn: NDArray[np.uint8]  # (N, redraws, 28, 28): digit i of the given images, redrawn
    nondigits: NDArray[np.uint8]  # (count, 28, 28)
    nondigit_kinds: NDArray[np.int8]  # (count,) index into nondigits.KINDS


def load_or_make(
    digits: NDArray[np.uint8],
    donors: NDArray[np.uint8],
    cache_dir: Path,
    *,
    redraws: int,
    count: int,
    seed: int,
    workers: int,
) -> Drawings:
    """The redrawings of `digits` and `count` non-digits (run-together digits taken from `donors`),
    from the cache when they were made before, else made now on `workers` processes and cached."""
    path = drawing_cache.path(cache_dir, "drawings", (digits, donors), (redraws, count, seed), _SOURCES)
    if (kept := drawing_cache.load(path)) is not None:
        return Drawings(**kept)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        both = _redraw_all(pool, digits, redraws, seed)
        made, kinds = _draw_nondigits(pool, donors, count, seed + 1)
    drawings = Drawings(preprocessed=both[:, 0], redrawn=both[:, 1:], nondigits=made, nondigit_kinds=kinds)
    drawing_cache.save(path, drawings.__dict__)
    return drawings


def _redraw_all(
    pool: ProcessPoolExecutor, digits: NDArray[np.uint8], redraws: int, seed: int
) -> NDArray[np.uint8]:
    starts = range(0, len(digits), CHUNK)
    futures = [pool.submit(_redraw_chunk, digits[s : s + CHUNK], redraws, (seed, s)) for s in starts]
    return gather(futures, len(digits) * (1 + redraws), "preprocessing and redrawing MNIST digits")


def _draw_nondigits(
    pool: ProcessPoolExecutor, donors: NDArray[np.uint8], count: int, seed: int
) -> tuple[NDArray[np.uint8], NDArray[np.int8]]:
    rng = np.random.default_rng(seed)
    futures = []
    for start in range(0, count, CHUNK):
        size = min(CHUNK, count - start)
        # Each chunk gets its own few donors: the whole set would be copied to a process per chunk.
        chunk_donors = donors[rng.choice(len(donors), min(len(donors), 3 * size), replace=False)]
        futures.append(pool.submit(_nondigit_chunk, chunk_donors, start, size, (seed, start)))
    made = gather(futures, count, "drawing non-digits")
    kinds = (np.arange(count) % len(nondigits.KINDS)).astype(np.int8)
    return made, kinds


def gather(futures: list[Future[NDArray[np.uint8]]], total: int, what: str) -> NDArray[np.uint8]:
    """The chunks' results in order, with a progress bar."""
    results = []
    with tqdm(total=total, desc=what, unit="drawing", dynamic_ncols=True) as bar:
        for future in futures:
            results.append(future.result())
            bar.update(len(results[-1]) * (results[-1].shape[1] if results[-1].ndim == 4 else 1))
    return np.concatenate(results)


def _redraw_chunk(digits: NDArray[np.uint8], redraws: int, seed: tuple[int, int]) -> NDArray[np.uint8]:
    """(n, 1 + redraws, 28, 28): each digit preprocessed, then redrawn `redraws` times and preprocessed."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(digits), 1 + redraws, preprocess.MODEL_SIZE, preprocess.MODEL_SIZE), np.uint8)
    for i, digit in enumerate(digits):
        out[i, 0] = _preprocessed(digit, fallback=digit)
        points = redraw.skeleton_points(digit)
        for j in range(redraws):
            ink = redraw.trace(points, _stroke(rng, points), supersample=1)
            out[i, 1 + j] = _preprocessed(ink, fallback=out[i, 0])  # spoilt beyond reading: the digit
    return out


def _preprocessed(picture: NDArray[np.uint8], fallback: NDArray[np.uint8]) -> NDArray[np.uint8]:
    try:
        return preprocess.preprocess(picture)
    except EmptyImageError:
        return fallback


def _stroke(rng: np.random.Generator, points: NDArray[np.float64]) -> redraw.Stroke:
    if rng.random() < FREE_STYLE_SHARE:
        brush = rng.uniform(*FREE_BRUSH_PX) if rng.random() < 0.5 else None  # None: in proportion
        return redraw.random_stroke(rng, points, FREE_HEIGHTS, brush)
    return redraw.random_stroke(
        rng, points, redraw.MOUSE_HEIGHTS, 2 * rng.uniform(*redraw.MOUSE_BRUSH_RADIUS)
    )


def _nondigit_chunk(
    donors: NDArray[np.uint8], start: int, size: int, seed: tuple[int, int]
) -> NDArray[np.uint8]:
    """(size, 28, 28): non-digits start .. start+size, the families taking turns."""
    rng = np.random.default_rng(seed)
    out = np.empty((size, preprocess.MODEL_SIZE, preprocess.MODEL_SIZE), np.uint8)
    for i in range(size):
        out[i] = _nondigit_input(rng, nondigits.KINDS[(start + i) % len(nondigits.KINDS)], donors)
    return out


def _nondigit_input(rng: np.random.Generator, kind: str, donors: NDArray[np.uint8]) -> NDArray[np.uint8]:
    while True:  # a mark can be too small to read at all: draw another
        try:
            return preprocess.preprocess(nondigits.nondigit(rng, kind, donors, supersample=1))
        except EmptyImageError:
            continue
