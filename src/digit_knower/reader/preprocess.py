"""Any picture of one handwritten digit -> the 28x28 picture MNIST would have made of it.

A person's drawing looks nothing like an MNIST digit: a 280x280 canvas, a thin or a fat
stroke, off-centre, dark on light or on a transparent background. The model only ever saw
MNIST, so every picture is brought into MNIST's form first, the way MNIST itself was made:

1. composite any alpha channel onto paper (transparent means background), and shrink a
   large picture to about 100 pixels across (`digit_knower.reader.picture`);
2. find paper and ink, whatever the polarity, and make white ink on black at full contrast,
   dropping the paper's own grain (photo and JPEG noise);
3. crop to the ink, ignoring faint noise and stray specks;
4. bring the stroke into MNIST's range of thickness (a 2 px pen and a 40 px brush both read);
5. fit the longest side into 20x20, keeping the aspect ratio, with area resampling;
6. pad to 28x28 and shift by whole pixels so the centre of mass lies at the centre.

The mean/std normalisation is inside the network, so the result is plain uint8 pixels. A raw
MNIST digit comes out bit-for-bit unchanged for 88% of the test set and within one grey
level for 98.4%; the rest lose a stray speck that MNIST kept, or have a stroke thinner or
fatter than almost all of MNIST's, which is brought into the usual range.

Only numpy and Pillow: serving never imports torch or OpenCV. After the first shrink every
step works on at most about 100x100 pixels; on a 280x280 canvas the whole takes about 0.4 ms
here (bench/predict_latency.py).
"""

from __future__ import annotations

import functools
import math
from typing import Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digit_knower.reader.picture import EmptyImageError, grey_on_paper, to_pil

__all__ = ["MODEL_SIZE", "digit_input", "ink_of", "preprocess", "stroke_width", "strong"]

MODEL_SIZE: Final = 28
BOX_SIZE: Final = 20
# MNIST placed the centre of mass at pixel (14, 14) (row, column): 98% of its test digits
# have theirs within half a pixel of it, so they need no shift at all.
CENTRE: Final = 14.0


# Ink that differs from the paper by fewer grey levels than this is not ink: a blank page,
# a photo of one, or JPEG noise.
MIN_CONTRAST: Final = 32
# Ink within this many times the paper's grain (see _paper_level) of the paper's grey is
# the paper's own texture.
GRAIN_MARGIN: Final = 2.0
# The paper's level is the peak of the grey histogram smoothed over this many levels each side.
PAPER_SMOOTHING: Final = 3
# After stretching the ink to full contrast, anything fainter than this share of it is
# paper texture or compression noise, not stroke: it does not count when cropping.
NOISE_FLOOR: Final = 0.1
# A separate blob holding less than this share of the ink is a stray speck, not part of
# the digit, and is cropped away.
SPECK_SHARE: Final = 0.05
# Ink no longer than this (in pixels, or as a share of the picture's longest side) is a
# speck: the picture counts as blank.
MIN_INK_PIXELS: Final = 4
MIN_INK_SHARE: Final = 0.05

# Stroke width in 28x28 pixels, as `stroke_width` measures it on the MNIST training set:
# median 2.5; 0.1th, 1st, 99th and 99.9th percentiles 1.2, 1.4, 4.7 and 6.1. Only strokes
# outside the band are thickened or thinned, so MNIST-like input passes through untouched.
STROKE_TARGET: Final = 2.5
STROKE_BAND: Final = (1.1, 5.0)
# The stroke is reshaped at this working size (longest side), fine enough for half-pixel
# steps at 28x28 and small enough to be cheap.
STROKE_WORK_SIZE: Final = 80
INK_MASK_LEVEL: Final = 0.5


# ---------------------------------------------------------------------------------------
# Paper and ink
# ---------------------------------------------------------------------------------------


def _ink(grey: Image.Image) -> NDArray[np.uint8]:
    """White ink on black at full contrast, from any polarity, with the paper's grain removed."""
    pixels = np.asarray(grey)
    paper, grain = _paper_level(pixels)
    darkest, lightest = int(pixels.min()), int(pixels.max())
    dark_contrast, light_contrast = paper - darkest, lightest - paper
    contrast = max(dark_contrast, light_contrast)
    if contrast < MIN_CONTRAST:
        raise _blank_error()
    light_ink = light_contrast > dark_contrast
    return _ink_levels(paper, contrast, light_ink, GRAIN_MARGIN * grain)[pixels]


@functools.lru_cache(maxsize=1024)
def _ink_levels(paper: int, contrast: int, light_ink: bool, grain: float) -> NDArray[np.uint8]:
    """The lookup table grey -> ink. Cached: most pictures share paper and contrast."""
    levels = np.arange(256, dtype=np.float32)
    ink = np.clip((levels - paper if light_ink else paper - levels) / contrast, 0.0, 1.0)
    # Paper that is not one flat colour (a photo, a scan, JPEG noise) varies by `grain`
    # levels: no fainter ink can be told from it. Flat paper (a canvas, MNIST) keeps all.
    ink[np.abs(levels - paper) <= grain] = 0.0
    table = np.rint(ink * 255).astype(np.uint8)
    table.flags.writeable = False  # shared by every caller through the cache
    return table


def _blank_error() -> EmptyImageError:
    return EmptyImageError(
        "The picture is blank: all one colour, with no stroke (beyond perhaps a stray speck) "
        "that stands out from the background. Draw a digit in a colour that contrasts with it."
    )


def _paper_level(pixels: NDArray[np.uint8]) -> tuple[int, float]:
    """The paper's grey and its grain, from the picture's dominant level.

    The paper is the most common grey (after smoothing the histogram over a few levels, so the
    mottled paper of a photo or a JPEG still has one peak): a digit covers far less than half of
    its picture, however big it is drawn, and wherever it touches the edges. The grain is how far
    nine in ten of the pixels near that peak (within MIN_CONTRAST levels) stray from it: the
    strokes lie farther away, all but their faint anti-aliased rim, too thin to move the figure.
    """
    counts = np.bincount(pixels.ravel(), minlength=256)
    smoothed = np.convolve(counts, np.ones(2 * PAPER_SMOOTHING + 1), mode="same")
    peak = int(smoothed.argmax())
    # The exact level within the peak (a canvas's paper is one level, which the smoothing blurs).
    start = max(peak - PAPER_SMOOTHING, 0)
    paper = start + int(counts[start : peak + PAPER_SMOOTHING + 1].argmax())
    low, high = max(paper - MIN_CONTRAST, 0), min(paper + MIN_CONTRAST, 255)
    near = counts[low : high + 1]
    strays = np.abs(np.arange(low, high + 1) - paper)
    # The share of the near pixels within each distance, distance by distance.
    order = np.argsort(strays, kind="stable")
    within = np.cumsum(near[order]) / near.sum()
    return paper, float(strays[order][np.searchsorted(within, 0.9)])


# ---------------------------------------------------------------------------------------
# Cropping
# ---------------------------------------------------------------------------------------


def _ink_box(ink: NDArray[np.uint8]) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of the digit, leaving out faint noise and stray specks.

    The digit is found on the ink above the noise floor; the box then grows by a pixel to
    take back the faint anti-aliased rim of the strokes (MNIST digits have one).
    """
    inked = strong(ink)
    if not inked.any():  # what stood out was the paper's own grain
        raise _blank_error()
    rows, cols = _speckless_spans(inked)
    top, bottom = max(rows.start - 1, 0), min(rows.stop + 1, ink.shape[0])
    left, right = max(cols.start - 1, 0), min(cols.stop + 1, ink.shape[1])
    window = ink[top:bottom, left:right]
    inked_rows = np.flatnonzero(window.any(axis=1))
    inked_cols = np.flatnonzero(window.any(axis=0))
    return (
        left + int(inked_cols[0]),
        top + int(inked_rows[0]),
        left + int(inked_cols[-1]) + 1,
        top + int(inked_rows[-1]) + 1,
    )


def _speckless_spans(inked: NDArray[np.bool_]) -> tuple[slice, slice]:
    """Rows and columns holding the digit, leaving out specks separated from it.

    A speck is a run of inked rows (or columns) cut off from the rest by blank ones and
    holding only a sliver of the ink. Alternating rows and columns catches a speck that
    is level with the digit one way but apart from it the other (rows, columns, then rows
    again: dropping the speck's columns may free rows that only the speck held).
    """
    rows = _main_span(inked.sum(axis=1), slice(0, inked.shape[0]))
    cols = _main_span(inked[rows, :].sum(axis=0), slice(0, inked.shape[1]))
    rows = _main_span(inked[:, cols].sum(axis=1), rows)
    return rows, cols


def _main_span(profile: NDArray[np.int64], within: slice) -> slice:
    """The span from the first to the last run of the profile holding a fair share of it."""
    inked = profile[within] > 0
    where = np.flatnonzero(inked)
    if where[-1] - where[0] + 1 == where.size:  # one unbroken run: nothing to leave out
        return slice(within.start + int(where[0]), within.start + int(where[-1]) + 1)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], inked, [False])).astype(np.int8)))
    starts, stops = edges[0::2], edges[1::2]
    masses = np.add.reduceat(profile[within], starts) if starts.size else np.zeros(0)
    kept = np.flatnonzero(masses >= SPECK_SHARE * masses.sum())
    return slice(within.start + int(starts[kept[0]]), within.start + int(stops[kept[-1]]))


# ---------------------------------------------------------------------------------------
# Stroke
# ---------------------------------------------------------------------------------------


def stroke_width(ink: NDArray[np.floating]) -> float:
    """Mean stroke width in pixels: ink area over half the outline's length.

    Grey levels count as partial ink, so a line thinner than a pixel reads as such. The
    outline is counted as pixel-edge crossings; pi/4 corrects for their overcounting
    of slanted edges (averaged over all directions).
    """
    mask = ink >= INK_MASK_LEVEL
    if not mask.any():
        mask = ink > 0
    padded = np.pad(mask, 1)
    crossings = np.count_nonzero(padded[1:, :] != padded[:-1, :]) + np.count_nonzero(
        padded[:, 1:] != padded[:, :-1]
    )
    outline = crossings * math.pi / 4
    return float(2 * ink.sum() / outline)


def _normalise_stroke(ink: NDArray[np.float32], width: float) -> NDArray[np.float32]:
    """Thicken a hairline or thin a fat stroke towards MNIST's width; leave the rest alone."""
    long_side = max(ink.shape)
    width_28 = width * BOX_SIZE / long_side
    if STROKE_BAND[0] <= width_28 <= STROKE_BAND[1]:
        return ink
    if long_side != STROKE_WORK_SIZE:
        ink = _resize(ink, STROKE_WORK_SIZE / long_side)
        width *= STROKE_WORK_SIZE / long_side
        long_side = max(ink.shape)
    # Growing the stroke by d also grows the box by d, which shrinks it again at 20x20:
    # solve (width + d) / (long_side + d) = target / 20 for d.
    ratio = STROKE_TARGET / BOX_SIZE
    change = (ratio * long_side - width) / (1 - ratio)
    steps = round(abs(change) / 2)
    if change > 0:
        return _morph(np.pad(ink, steps), steps, np.maximum)
    steps = min(steps, max(0, math.floor((width - 2) / 2)))
    return _morph(ink, steps, np.minimum)


def _morph(ink: NDArray[np.float32], steps: int, pick: np.ufunc) -> NDArray[np.float32]:
    """Dilate (np.maximum) or erode (np.minimum) by one pixel per step and side.

    Steps alternate a 3x3 square and a plus-shaped cross, so the pen grows as an octagon,
    close to round, rather than as a square that would fatten diagonals.
    """
    outside = 0.0 if pick is np.maximum else 1.0  # never lets the border eat the stroke
    h, w = ink.shape
    for step in range(steps):
        padded = np.pad(ink, 1, constant_values=outside)
        shifted = [padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in _NEIGHBOURS[step % 2]]
        ink = pick.reduce(shifted)
    return ink


_CROSS: Final = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))
_NEIGHBOURS: Final = ((*_CROSS, (-1, -1), (-1, 1), (1, -1), (1, 1)), _CROSS)


# ---------------------------------------------------------------------------------------
# Fit and centre
# ---------------------------------------------------------------------------------------


def _resize(ink: NDArray[np.float32], scale: float) -> NDArray[np.float32]:
    """Area-average when shrinking (anti-aliased, as MNIST was made); bilinear when growing."""
    h, w = ink.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if size == (w, h):
        return ink
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BILINEAR
    return np.asarray(Image.fromarray(ink).resize(size, method), dtype=np.float32)


def _trim(ink: NDArray[np.float32]) -> NDArray[np.float32]:
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _centre_by_mass(patch: NDArray[np.float32]) -> NDArray[np.uint8]:
    """Place the patch in 28x28 so its centre of mass lands on MNIST's, by whole pixels."""
    h, w = patch.shape
    total = patch.sum()
    com_row = float(patch.sum(axis=1) @ np.arange(h)) / total
    com_col = float(patch.sum(axis=0) @ np.arange(w)) / total
    top = min(max(round(CENTRE - com_row), 0), MODEL_SIZE - h)
    left = min(max(round(CENTRE - com_col), 0), MODEL_SIZE - w)
    out = np.zeros((MODEL_SIZE, MODEL_SIZE), dtype=np.uint8)
    out[top : top + h, left : left + w] = np.rint(patch * (255 / patch.max()))
    return out


# ---------------------------------------------------------------------------------------
# The whole way
# ---------------------------------------------------------------------------------------


def preprocess(image: object) -> NDArray[np.uint8]:
    """Any picture of one digit -> (28, 28) uint8, white ink on black, as MNIST.

    Accepts a PIL image (any mode), a uint8 numpy array (H,W), (H,W,3) or (H,W,4), or the
    bytes of an image file. Raises InvalidImageError for input that is not a picture and
    EmptyImageError for a picture with no digit on it.
    """
    return digit_input(ink_of(image))


def ink_of(image: object) -> NDArray[np.uint8]:
    """Steps 1-2: any picture -> its ink, white on black at full contrast, about 100 pixels across.

    EmptyImageError when nothing stands out from the paper.
    """
    return _ink(grey_on_paper(to_pil(image)))


def strong(ink: NDArray[np.uint8]) -> NDArray[np.bool_]:
    """Where the ink is clearly ink, above the noise floor: what cropping and `segment` look at."""
    return ink >= round(NOISE_FLOOR * 255)


def digit_input(ink: NDArray[np.uint8], picture_extent: int | None = None) -> NDArray[np.uint8]:
    """Steps 3-6: the ink of one digit -> the (28, 28) model input.

    `picture_extent`: the longest side of the whole picture, when `ink` is a part of it (one
    of several digits); specks are judged against the whole picture. EmptyImageError when the
    ink is only a speck.
    """
    left, top, right, bottom = _ink_box(ink)
    crop = ink[top:bottom, left:right]
    digit = _at_most(crop, STROKE_WORK_SIZE)
    width = stroke_width(digit)
    _reject_specks(max(crop.shape), picture_extent or max(ink.shape))
    digit = _trim(_normalise_stroke(digit, width))
    patch = _resize(digit, BOX_SIZE / max(digit.shape))
    return _centre_by_mass(patch)


def _at_most(crop: NDArray[np.uint8], side: int) -> NDArray[np.float32]:
    """The cropped digit as ink 0..1, area-averaged down if its longest side exceeds `side`."""
    height, width = crop.shape
    scale = side / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        crop = np.asarray(Image.fromarray(crop).resize(size, Image.Resampling.BOX))
    return crop.astype(np.float32) / np.float32(255)  # numpy's stubs widen `float32 / 255` to float64


def _reject_specks(ink_extent: int, picture_extent: int) -> None:
    # Only what is too small to be anything. A dot or a dash big enough to be seen is a drawing,
    # and the model says whether it is a digit (it was trained on such marks as non-digits).
    if ink_extent < MIN_INK_PIXELS or ink_extent < MIN_INK_SHARE * picture_extent:
        raise EmptyImageError(
            "The picture holds only a speck of ink, not a digit. Draw the digit larger, "
            "filling most of the canvas."
        )
