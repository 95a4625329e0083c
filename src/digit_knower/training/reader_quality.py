"""The reader's quality, measured on the drawings people make, not only on MNIST.

Each set is built with a fixed seed from MNIST *test* digits (or drawn from scratch), so every
run measures the same pictures, and none of them was ever trained on:

- `mouse_style`: test digits redrawn with a mouse (`redraw.mouse_style`: 90-230 px high, brush
  radius 6-14 px), each painted white on black, black on white and black on transparent;
- `touching_edges`: test digits drawn big enough to touch an edge of the canvas, or a corner
  (each of the four edges and corners, both polarities), and the same digits centred;
- `nondigit_set`: drawings that are no digit (`nondigits`): scribbles, letters, symbols, shapes
  and marks;
- `several_digits_set`: two or three redrawn test digits side by side, a visible gap apart;
- `number_set`: numbers as people write them: two or three MNIST digits (the *validation* digits,
  `validation_digits`, for choosing; test digits for the record) a few pixels apart at MNIST
  scale, or touching and overlapping, enlarged onto the canvas;
- `pen_digit_set`: real people's pen-written digits (the validation rows of UCI's pen digits,
  `pen_paths.validation_rows`) drawn as canvas strokes, as curves or as polylines;
- `omniglot_set`: real people's mouse drawings of letters of other alphabets (Omniglot's
  validation drawings), none a digit.

`bench/reader_quality.py` prints every figure; training writes some of them on the model card,
on sets it keeps in the cache folder (`cached`); the tests hold the reader to them; retraining's
gate compares two models on `mouse_style`.
Needs scikit-image (the `train` extra), through `redraw`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from digit_knower.data.mnist import Mnist, Split
from digit_knower.data.omniglot import Drawings
from digit_knower.data.pendigits import PenDigits
from digit_knower.reader import picture, preprocess
from digit_knower.reader.picture import EmptyImageError
from digit_knower.reader.predictor import Prediction, Predictor
from digit_knower.reader.verdict import VERDICTS
from digit_knower.training import calibrate, data_mix
from digit_knower.training.config import TrainConfig
from digit_knower.training.drawings import cache as drawing_cache
from digit_knower.training.drawings import nondigits, omniglot_strokes, pen_paths, redraw

CANVAS: Final = redraw.CANVAS
# Pictures are painted and read this many at a time: a batch for the model, and bounded memory.
CHUNK: Final = 256
POSITIONS: Final = ("left", "right", "top", "bottom", "top-left", "top-right", "bottom-left", "bottom-right")
EDGE_POLARITIES: Final = ("white-on-black", "black-on-white")
# A visible gap between digits written side by side: this share of their height, or more.
SEVERAL_GAP_SHARE: Final = (0.25, 0.6)
# Numbers written naturally (`number_set`): the gaps between the digits' inked columns, in MNIST
# pixels (a digit is 20 high), negative where they overlap; 0 is touching boxes.
NUMBER_GAPS: Final = (3, 2, 1, 0, -1, -2, -3)
# A number's row of digits is enlarged onto the canvas by this factor, at most as wide as it fits.
NUMBER_SCALE: Final = (2.5, 4.0)
# The code that decides what a set holds (see `cached`): this module's too.
_SOURCES: Final = (redraw, nondigits, preprocess, picture, sys.modules[__name__])


@dataclass(frozen=True)
class DrawingSet:
    """Pictures to read, kept as ink (white on black) and painted only when read."""

    name: str
    inks: NDArray[np.uint8]  # (N, 280, 280)
    paints: tuple[str, ...]  # per picture: a key of redraw.POLARITIES
    labels: tuple[tuple[int, ...], ...]  # per picture: the digits it shows, left to right; () for none

    def __len__(self) -> int:
        return len(self.labels)

    def pictures(self) -> Iterator[list[NDArray[np.uint8]]]:
        for start in range(0, len(self), CHUNK):
            yield [
                redraw.POLARITIES[paint](ink)
                for ink, paint in zip(
                    self.inks[start : start + CHUNK], self.paints[start : start + CHUNK], strict=True
                )
            ]

    def subset(self, name: str, keep: Callable[[int], bool]) -> DrawingSet:
        chosen = [i for i in range(len(self)) if keep(i)]
        return DrawingSet(
            name,
            self.inks[chosen],
            tuple(self.paints[i] for i in chosen),
            tuple(self.labels[i] for i in chosen),
        )

    def arrays(self) -> dict[str, NDArray[Any]]:
        """The set as arrays, for `drawing_cache` (labels padded with -1)."""
        width = max(map(len, self.labels), default=0)
        return {
            "name": np.array(self.name),
            "inks": self.inks,
            "paints": np.array(self.paints),
            "labels": np.array(
                [[*label, *[-1] * (width - len(label))] for label in self.labels], np.int8
            ).reshape(len(self), width),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray[Any]]) -> DrawingSet:
        return cls(
            str(arrays["name"]),
            arrays["inks"],
            tuple(str(p) for p in arrays["paints"]),
            tuple(tuple(int(d) for d in row if d >= 0) for row in arrays["labels"]),
        )


def read(predictor: Predictor, drawings: DrawingSet) -> list[Prediction | None]:
    """Every picture of the set through the whole reader (preprocessing included), in order;
    None for a picture refused as blank (which counts as not read)."""
    out: list[Prediction | None] = []
    for chunk in drawings.pictures():
        try:
            out.extend(predictor.predict_batch(chunk))
        except EmptyImageError:  # one of them is refused: read them one by one
            out.extend(_read_or_none(predictor, picture) for picture in chunk)
    return out


def _read_or_none(predictor: Predictor, picture: NDArray[np.uint8]) -> Prediction | None:
    try:
        return predictor.predict(picture)
    except EmptyImageError:
        return None


def cached(cache_dir: Path, make: Callable[[Split, int], DrawingSet], test: Split, count: int) -> DrawingSet:
    """`make(test, count)`, one of the sets below, from the cache folder when it was made before:
    training and retraining read the model card's sets every run, and drawing them takes seconds."""
    file = drawing_cache.path(cache_dir, f"test-{make.__name__}", (test.images,), (count,), _SOURCES)
    if (kept := drawing_cache.load(file)) is not None:
        return DrawingSet.from_arrays(kept)
    drawings = make(test, count)
    drawing_cache.save(file, drawings.arrays(), compressed=True)
    return drawings


# ---------------------------------------------------------------------------------------------
# The sets
# ---------------------------------------------------------------------------------------------


def _sample(test: Split, count: int, rng: np.random.Generator) -> tuple[NDArray[np.uint8], NDArray[np.uint8]]:
    chosen = rng.choice(len(test.labels), count, replace=False)
    return test.images[chosen], test.labels[chosen]


def mouse_style(test: Split, per_polarity: int, seed: int = 2026) -> DrawingSet:
    """`per_polarity` test digits redrawn with a mouse for each of the three polarities: different
    digits and strokes for each, 3 x per_polarity drawings in all."""
    rng = np.random.default_rng(seed)
    polarities = tuple(redraw.POLARITIES)
    digits, labels = _sample(test, per_polarity * len(polarities), rng)
    return DrawingSet(
        "mouse-style",
        np.stack([redraw.mouse_style(digit, rng) for digit in digits]),
        tuple(p for p in polarities for _ in range(per_polarity)),
        tuple((int(label),) for label in labels),
    )


def touching_edges(test: Split, per_position: int, seed: int = 2027) -> tuple[DrawingSet, DrawingSet]:
    """(touching, centred): each digit drawn touching one edge or corner, and the same drawing centred.

    Every position and both polarities get `per_position` digits (drawn 60-95% of the canvas high).
    """
    rng = np.random.default_rng(seed)
    touching, centred, paints, labels = [], [], [], []
    for position in POSITIONS:
        for polarity in EDGE_POLARITIES:
            digits, digit_labels = _sample(test, per_position, rng)
            for digit, label in zip(digits, digit_labels, strict=True):
                points = redraw.skeleton_points(digit)
                stroke = redraw.random_stroke(rng, points, (0.6, 0.95), None)
                touching.append(redraw.trace(points, _moved_to(position, points, stroke)))
                centred.append(redraw.trace(points, _moved_to("centre", points, stroke)))
                paints.append(polarity)
                labels.append((int(label),))
    return (
        DrawingSet("touching an edge", np.stack(touching), tuple(paints), tuple(labels)),
        DrawingSet("centred", np.stack(centred), tuple(paints), tuple(labels)),
    )


def _moved_to(position: str, points: NDArray[np.float64], stroke: redraw.Stroke) -> redraw.Stroke:
    """The stroke moved so that the drawn digit's box touches the named edge(s), or is centred."""
    half = (np.maximum(np.ptp(points, axis=0), 1.0) * stroke.scale + stroke.brush) / 2
    row, col = CANVAS / 2, CANVAS / 2
    if "top" in position:
        row = half[0]
    if "bottom" in position:
        row = CANVAS - half[0]
    if "left" in position:
        col = half[1]
    if "right" in position:
        col = CANVAS - half[1]
    return redraw.Stroke(stroke.scale, stroke.brush, (float(row), float(col)))


# The families of drawings that are no digit at all. Digits run together are digits: the reader
# cuts them apart or calls them unsure, and `number_set` measures that.
NO_DIGIT_KINDS: Final = tuple(kind for kind in nondigits.KINDS if kind != "run_together")


def nondigit_set(test: Split, count: int, seed: int = 2028) -> DrawingSet:
    """`count` drawings that are no digit, the families (`NO_DIGIT_KINDS`) taking turns. Each is
    big enough to be seen: a mark too small to read would be refused as blank."""
    rng = np.random.default_rng(seed)
    inks = []
    for i in range(count):
        while not _visible(
            ink := nondigits.nondigit(rng, NO_DIGIT_KINDS[i % len(NO_DIGIT_KINDS)], test.images)
        ):
            pass
        inks.append(ink)
    paints = tuple(str(p) for p in rng.choice(list(redraw.POLARITIES), count))
    return DrawingSet("not digits", np.stack(inks), paints, tuple(() for _ in range(count)))


def _visible(ink: NDArray[np.uint8]) -> bool:
    try:
        preprocess.preprocess(ink)
    except EmptyImageError:
        return False
    return True


def nondigit_families(drawings: DrawingSet) -> list[str]:
    """The family of each picture of a `nondigit_set` (they take turns)."""
    return [NO_DIGIT_KINDS[i % len(NO_DIGIT_KINDS)] for i in range(len(drawings))]


def several_digits_set(test: Split, count: int, seed: int = 2029) -> DrawingSet:
    """`count` pictures of two or three redrawn test digits side by side, a visible gap apart."""
    rng = np.random.default_rng(seed)
    inks, labels = [], []
    for _ in range(count):
        digits, digit_labels = _sample(test, 2 if rng.random() < 0.6 else 3, rng)
        inks.append(side_by_side(digits, rng))
        labels.append(tuple(int(d) for d in digit_labels))
    paints = tuple(str(p) for p in rng.choice(list(redraw.POLARITIES), count))
    return DrawingSet("several digits", np.stack(inks), paints, tuple(labels))


def side_by_side(digits: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    """MNIST digits redrawn in a row at one height, a visible gap between each: (280, 280) ink."""
    skeletons = [redraw.skeleton_points(digit) for digit in digits]
    height = rng.uniform(0.3, 0.7) * CANVAS
    brush = rng.uniform(0.08, 0.14) * height
    scale = (height - brush) / max(max(np.ptp(s[:, 0]) for s in skeletons), 1.0)
    widths = [max(np.ptp(s[:, 1]), 1.0) * scale + brush for s in skeletons]
    gaps = rng.uniform(*SEVERAL_GAP_SHARE, len(digits) - 1) * height
    total = sum(widths) + gaps.sum()
    if total > CANVAS - 4:  # too wide: the whole row shrinks to fit
        shrink = (CANVAS - 4) / total
        scale, brush, height = scale * shrink, brush * shrink, height * shrink
        widths, gaps, total = [w * shrink for w in widths], gaps * shrink, CANVAS - 4
    left = rng.uniform(2, CANVAS - 2 - total)
    middle = rng.uniform(height / 2 + 2, CANVAS - height / 2 - 2)
    ink = np.zeros((CANVAS, CANVAS), np.uint8)
    for skeleton, width, gap in zip(skeletons, widths, [*gaps, 0.0], strict=True):
        centre = (middle + rng.uniform(-0.05, 0.05) * height, left + width / 2)
        ink = np.maximum(ink, redraw.trace(skeleton, redraw.Stroke(scale, brush, centre)))
        left += width + gap
    return ink


def validation_digits(mnist: Mnist, cfg: TrainConfig | None = None) -> Split:
    """The MNIST training digits that training holds out for validation (`data_mix.split_indices`
    with the default recipe): the digits to choose the reader's settings on, never the test set."""
    _, val = data_mix.split_indices(len(mnist.train.labels), cfg or TrainConfig())
    index = val.numpy()
    return Split(mnist.train.images[index], mnist.train.labels[index])


def number_set(digits: Split, gap_px: int, count: int = 500, seed: int = 2032) -> DrawingSet:
    """`count` numbers of two or three of these MNIST digits in a row, `gap_px` MNIST pixels apart.

    Each digit keeps its own 28 rows (MNIST centred them all alike) and is cut to its inked columns;
    the next one starts `gap_px` columns after it ends: negative `gap_px` overlaps them (where
    both have ink, the brighter wins). The row is enlarged NUMBER_SCALE times onto the canvas at a
    random place, in a random polarity: what a number written with a few pixels between the
    digits, or with the digits run together, looks like to the reader.
    """
    rng = np.random.default_rng(seed + 100 * gap_px)
    inks, labels = [], []
    for _ in range(count):
        chosen = rng.choice(len(digits.labels), 2 if rng.random() < 0.6 else 3, replace=False)
        row = _row_of_digits(digits.images[chosen], gap_px, rng)
        inks.append(_on_canvas(row, rng))
        labels.append(tuple(int(d) for d in digits.labels[chosen]))
    paints = tuple(str(p) for p in rng.choice(list(redraw.POLARITIES), count))
    name = f"numbers {gap_px} px apart" if gap_px > 0 else f"numbers overlapping {-gap_px} px"
    return DrawingSet(name if gap_px else "numbers touching", np.stack(inks), paints, tuple(labels))


def _row_of_digits(digits: NDArray[np.uint8], gap_px: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """MNIST digits side by side, `gap_px` columns between their inks, each up to a pixel up or down."""
    columns = [np.flatnonzero(preprocess.strong(digit).any(axis=0)) for digit in digits]
    widths = [int(c[-1] - c[0] + 1) for c in columns]
    row = np.zeros((28 + 2, sum(widths) + gap_px * (len(digits) - 1) + 2 * max(0, -gap_px)), np.uint8)
    left = max(0, -gap_px)
    for digit, cols, width in zip(digits, columns, widths, strict=True):
        top = 1 + int(rng.integers(-1, 2))
        part = digit[:, cols[0] : cols[0] + width]
        row[top : top + 28, left : left + width] = np.maximum(row[top : top + 28, left : left + width], part)
        left += width + gap_px
    return row


def _on_canvas(row: NDArray[np.uint8], rng: np.random.Generator) -> NDArray[np.uint8]:
    height, width = row.shape
    scale = min(rng.uniform(*NUMBER_SCALE), (CANVAS - 8) / width, (CANVAS - 8) / height)
    size = (round(width * scale), round(height * scale))
    big = np.asarray(Image.fromarray(row).resize(size, Image.Resampling.BILINEAR))
    canvas = np.zeros((CANVAS, CANVAS), np.uint8)
    top = int(rng.integers(0, CANVAS - size[1] + 1))
    left = int(rng.integers(0, CANVAS - size[0] + 1))
    canvas[top : top + size[1], left : left + size[0]] = big
    return canvas


def pen_digit_set(
    pen: PenDigits, *, curve: bool = True, writers_aspect: bool = False, seed: int = 2030
) -> DrawingSet:
    """The validation rows of the pen digits (`pen_paths.validation_rows`), each drawn once on the
    canvas at a random size, position, brush and polarity.

    curve: a smooth curve through each path's 8 points; False, the polyline between them. The same
    seed gives every row the same size, position, brush and polarity either way: the sets differ
    only in the stroke. writers_aspect: each path drawn as wide as `pen_paths.arc_length_aspect`
    estimates the writer drew it; otherwise as stored, where every digit is as wide as it is high.
    """
    rng = np.random.default_rng(seed)
    rows = pen_paths.validation_rows(len(pen.labels))
    inks, paints = [], []
    for row in rows:
        path = pen.paths[row]
        aspect = pen_paths.arc_length_aspect(path) if writers_aspect else None
        inks.append(pen_paths.draw(path, rng, curve=curve, aspect=aspect))
        paints.append(pen_paths.random_polarity(rng))
    stroke = "curves" if curve else "polylines"
    name = f"pen digits, {stroke}, writer's aspect" if writers_aspect else f"pen digits, {stroke}"
    return DrawingSet(name, np.stack(inks), tuple(paints), tuple((int(pen.labels[row]),) for row in rows))


def omniglot_set(drawings: Drawings, count: int = 1000, seed: int = 2031) -> DrawingSet:
    """The first `count` of the given Omniglot drawings (the validation split holds 1,000), each
    drawn on the canvas at a random size, position, brush and polarity: none is a digit."""
    rng = np.random.default_rng(seed)
    count = min(count, len(drawings))
    inks, paints = [], []
    for i in range(count):
        inks.append(omniglot_strokes.draw(drawings.polylines(i), rng))
        paints.append(pen_paths.random_polarity(rng))
    return DrawingSet("Omniglot", np.stack(inks), tuple(paints), tuple(() for _ in range(count)))


# ---------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------


Read = Sequence[Prediction | None]


def accuracy(predictions: Read, labels: Sequence[tuple[int, ...]]) -> float:
    """The share whose best guess (`digit`, whatever the verdict) is the one digit shown."""
    return float(
        np.mean([p is not None and p.digit == label[0] for p, label in zip(predictions, labels, strict=True)])
    )


def share(predictions: Read, verdicts: Sequence[str]) -> float:
    """The share of predictions whose verdict is one of `verdicts` ("blank" for a refused picture)."""
    return float(np.mean([(p.verdict if p is not None else "blank") in verdicts for p in predictions]))


def all_digits_right(predictions: Read, labels: Sequence[tuple[int, ...]]) -> float:
    """The share read as several digits with every digit right, in order."""
    return float(
        np.mean(
            [
                p is not None and p.verdict == "several_digits" and p.digits == label
                for p, label in zip(predictions, labels, strict=True)
            ]
        )
    )


def read_right(predictions: Read, labels: Sequence[tuple[int, ...]]) -> float:
    """The share read as one digit with confidence (verdict "digit") and right: what a user sees as
    read right."""
    return float(
        np.mean(
            [
                p is not None and p.verdict == "digit" and p.digit == label[0]
                for p, label in zip(predictions, labels, strict=True)
            ]
        )
    )


def verdict_shares(predictions: Read) -> dict[str, float]:
    """The share of each verdict, and of pictures refused as blank ("blank")."""
    return {verdict: share(predictions, (verdict,)) for verdict in (*VERDICTS, "blank")}


def by_digit(labels: Sequence[tuple[int, ...]]) -> dict[int, list[int]]:
    """The positions of the pictures of each digit (one-digit labels), digit by digit."""
    positions: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        positions.setdefault(label[0], []).append(i)
    return dict(sorted(positions.items()))


def mnist_figures(predictor: Predictor, test: Split) -> dict[str, float]:
    """MNIST test through predict_batch: accuracy, the share not read as "digit", and the ECE."""
    predictions = []
    for start in range(0, len(test.labels), CHUNK * 4):
        predictions.extend(predictor.predict_batch(list(test.images[start : start + CHUNK * 4])))
    right = np.array([p.digit == label for p, label in zip(predictions, test.labels, strict=True)])
    return {
        "accuracy": float(right.mean()),
        "not_verdict_digit": int(sum(p.verdict != "digit" for p in predictions)),
        "ece": calibrate.ece(np.array([p.confidence for p in predictions]), right),
    }
