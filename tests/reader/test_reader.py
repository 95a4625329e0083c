"""The reader as people meet it: one digit, unsure, not a digit, or several digits side by side.

The drawings are built here, by hand (strokes on a 280x280 canvas) or from MNIST *test* digits
redrawn, and read by the shipped model through the whole reader. The slow tests hold the reader
to the figures of its issue on fixed sets (see digit_knower.training.reader_quality and
bench/reader_quality.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digit_knower import Predictor
from digit_knower.data.mnist import Split, load_test
from digit_knower.settings import SHIPPED_MODEL_DIR
from digit_knower.training import reader_quality as quality
from digit_knower.training.drawings import redraw


@pytest.fixture(scope="module")
def predictor() -> Predictor:
    return Predictor.load(SHIPPED_MODEL_DIR)


@pytest.fixture(scope="module")
def test_digits(mnist_dir: Path) -> Split:
    return load_test(mnist_dir, download=False)


def strokes(
    *lines: list[tuple[float, float]], width: int = 16, dot: tuple[float, float, float] | None = None
):
    """Black strokes on white paper, as drawn with a round brush."""
    image = Image.new("L", (280, 280), 255)
    draw = ImageDraw.Draw(image)
    for line in lines:
        draw.line(line, fill=0, width=width, joint="curve")
        for x, y in (line[0], line[-1]):
            draw.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    if dot:
        x, y, r = dot
        draw.ellipse((x - r, y - r, x + r, y + r), fill=0)
    return image


SCRIBBLE = [
    (40, 60),
    (230, 90),
    (50, 130),
    (240, 150),
    (30, 190),
    (220, 230),
    (60, 250),
    (200, 40),
    (120, 260),
]
NOT_DIGITS = {
    "a scribble": strokes(SCRIBBLE),
    "a letter A": strokes([(60, 250), (140, 30), (220, 250)], [(95, 165), (185, 165)]),
    "a hash sign #": strokes(
        [(110, 30), (90, 250)], [(190, 30), (170, 250)], [(40, 100), (240, 100)], [(40, 180), (240, 180)]
    ),
    "a star": strokes([(140, 20), (210, 250), (25, 105), (255, 105), (70, 250), (140, 20)]),
    "a dot": strokes(dot=(140, 140, 18)),
}


@pytest.mark.parametrize("name", NOT_DIGITS)
def test_drawings_that_are_no_digit_are_said_to_be_none(predictor: Predictor, name: str) -> None:
    prediction = predictor.predict(NOT_DIGITS[name])
    assert prediction.verdict == "not_a_digit", f"{name}: {prediction.verdict} {prediction.digit}"
    assert prediction.digits == ()
    assert prediction.not_a_digit_probability >= predictor.thresholds.not_a_digit_from


def first_of(test_digits: Split, label: int) -> np.ndarray:
    return test_digits.images[int(np.flatnonzero(test_digits.labels == label)[0])]


@pytest.mark.parametrize("number", [(4, 2), (1, 0, 7), (9, 6)])
def test_digits_written_side_by_side_are_each_read_left_to_right(
    predictor: Predictor, test_digits: Split, number: tuple[int, ...]
) -> None:
    ink = quality.side_by_side(np.stack([first_of(test_digits, d) for d in number]), np.random.default_rng(5))
    prediction = predictor.predict(redraw.black_on_white(ink))
    assert prediction.verdict == "several_digits"
    assert prediction.digits == number
    assert prediction.digit == number[0]
    assert [p.digit for p in prediction.parts] == list(number)
    assert all(p.model_input.shape == (28, 28) for p in prediction.parts)
    assert np.array_equal(prediction.model_input, prediction.parts[0].model_input)


@pytest.fixture(scope="module")
def a_clean_eight(test_digits: Split) -> tuple[np.ndarray, redraw.Stroke]:
    points = redraw.skeleton_points(first_of(test_digits, 8))
    return points, redraw.Stroke(scale=9.0, brush=20.0, centre=(140.0, 140.0))


# A 1 drawn as people most often draw it on a canvas: one upright stroke, of any common brush and height.
UPRIGHT_ONES = [(width, height) for width in (6, 10, 14, 20, 28) for height in (100, 140, 200)]


@pytest.fixture(scope="module")
def upright_ones_read(predictor: Predictor) -> list[bool]:
    """Whether each upright stroke of UPRIGHT_ONES is read as a confident 1."""
    read = [
        predictor.predict(strokes([(140, 140 - h / 2), (140, 140 + h / 2)], width=w)) for w, h in UPRIGHT_ONES
    ]
    return [p.verdict == "digit" and p.digit == 1 for p in read]


def test_a_one_drawn_as_one_upright_stroke_is_read_as_a_one_at_most_brushes(upright_ones_read) -> None:
    # A model that learns Omniglot's upright bars as "not a digit" too well turns these away: the
    # same recipe trained 24 epochs read 2 of the 15 as a 1, and was not shipped (docs/figures.md).
    assert sum(upright_ones_read) >= 13, upright_ones_read


@pytest.mark.xfail(
    strict=True,
    reason="not every upright stroke is read as a 1: 14 of 15 are (a 200 px one of a 10 px brush is "
    "'not a digit'). Strict: once all are, this mark must go.",
)
def test_a_one_drawn_as_one_upright_stroke_is_always_read_as_a_one(upright_ones_read) -> None:
    assert all(upright_ones_read), [
        size for size, one in zip(UPRIGHT_ONES, upright_ones_read, strict=True) if not one
    ]


def test_a_clean_digit_is_a_digit(predictor: Predictor, a_clean_eight) -> None:
    points, stroke = a_clean_eight
    prediction = predictor.predict(redraw.white_on_black(redraw.trace(points, stroke)))
    assert (prediction.verdict, prediction.digit, prediction.digits) == ("digit", 8, (8,))
    assert prediction.confidence > 0.9


@pytest.mark.parametrize("position", quality.POSITIONS)
@pytest.mark.parametrize("paint", quality.EDGE_POLARITIES)
def test_a_digit_touching_an_edge_or_a_corner_is_read_like_any_other(
    predictor: Predictor, a_clean_eight, position: str, paint: str
) -> None:
    points, stroke = a_clean_eight
    big = redraw.Stroke(scale=11.5, brush=24.0, centre=stroke.centre)
    ink = redraw.trace(points, quality._moved_to(position, points, big))
    assert ink[:, 0].any() or ink[:, -1].any() or ink[0].any() or ink[-1].any()  # it does touch
    prediction = predictor.predict(redraw.POLARITIES[paint](ink))
    assert (prediction.verdict, prediction.digit) == ("digit", 8)


def test_a_tall_digit_of_straight_strokes_along_the_left_edge_is_not_blank(predictor: Predictor) -> None:
    """The drawing that once got "The picture is blank": its left side runs along the edge. (Read as
    what it is, a seven-segment "8", it is not: that style is one the learning loop teaches.)"""
    eight = strokes([(4, 6), (120, 6), (120, 274), (4, 274), (4, 6)], [(4, 140), (120, 140)], width=14)
    seen = predictor.predict(eight).model_input  # no EmptyImageError
    rows, columns = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    assert rows[-1] - rows[0] + 1 >= 19  # the whole tall drawing, fitted into 20x20
    assert (seen[rows[0] : rows[-1] + 1, columns[0]] > 0).mean() > 0.8  # its left side, kept whole


# --- The figures, on fixed sets ----------------------------------------------------------------


@pytest.fixture(scope="module")
def mouse_style_read(predictor: Predictor, test_digits: Split):
    drawings = quality.mouse_style(test_digits, per_polarity=600)
    return drawings, quality.read(predictor, drawings)


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the reader's pooled goal (99.0%) is not reached yet: 98.94% of this set, 98.67% of "
    "`python -m bench.reader_quality`'s 3,000 (docs/figures.md, 'The reader'). Strict: once it "
    "passes, this mark must go.",
)
def test_mouse_style_drawings_are_read_as_well_as_the_issue_asks_in_all_three_polarities_together(
    mouse_style_read,
) -> None:
    drawings, read = mouse_style_read
    pooled = quality.accuracy(read, drawings.labels)
    assert pooled >= 0.99, f"mouse-style, three polarities: {pooled:.2%}"


def polarity_accuracies(drawings: quality.DrawingSet, read: list) -> dict[str, float]:
    accuracies = {}
    for paint in redraw.POLARITIES:
        chosen = [i for i, p in enumerate(drawings.paints) if p == paint]
        accuracies[paint] = quality.accuracy([read[i] for i in chosen], [drawings.labels[i] for i in chosen])
    return accuracies


@pytest.mark.slow
def test_mouse_style_drawings_are_read_well_in_each_polarity(mouse_style_read) -> None:
    for paint, accuracy in polarity_accuracies(*mouse_style_read).items():
        assert accuracy >= 0.975, f"{paint}: {accuracy:.2%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the reader's goal of 98.5% in each polarity is not reached in every one: black on white "
    "98.00% of this set (docs/figures.md). Strict: once it passes, this mark must go.",
)
def test_mouse_style_drawings_are_read_as_well_as_the_issue_asks_in_each_polarity(mouse_style_read) -> None:
    for paint, accuracy in polarity_accuracies(*mouse_style_read).items():
        assert accuracy >= 0.985, f"{paint}: {accuracy:.2%}"


@pytest.mark.slow
def test_at_most_one_mouse_style_digit_in_a_hundred_is_not_called_a_digit(mouse_style_read) -> None:
    _, read = mouse_style_read
    turned_away = 1 - quality.share(read, ("digit",))
    assert turned_away <= 0.01, f"{turned_away:.2%} of mouse-style digits not called a digit"


@pytest.mark.slow
def test_drawings_that_are_no_digit_are_turned_away(predictor: Predictor, test_digits: Split) -> None:
    drawings = quality.nondigit_set(test_digits, 1200)
    read = quality.read(predictor, drawings)
    caught = quality.share(read, ("not_a_digit", "unsure"))
    assert caught >= 0.95, f"only {caught:.2%} of non-digits turned away"


@pytest.mark.slow
def test_several_digits_side_by_side_are_found_and_read(predictor: Predictor, test_digits: Split) -> None:
    drawings = quality.several_digits_set(test_digits, 400)
    read = quality.read(predictor, drawings)
    found = quality.share(read, ("several_digits",))
    right = quality.all_digits_right(read, drawings.labels)
    assert found >= 0.95, f"several digits found in {found:.2%}"
    assert right >= 0.90, f"every digit right, in order, in {right:.2%}"


@pytest.mark.slow
def test_digits_touching_an_edge_are_never_refused_and_read_as_well_as_centred(
    predictor: Predictor, test_digits: Split
) -> None:
    touching, centred = quality.touching_edges(test_digits, per_position=40)
    touching_read, centred_read = quality.read(predictor, touching), quality.read(predictor, centred)
    assert None not in touching_read, "a digit touching an edge was refused as blank"
    gap = quality.accuracy(centred_read, centred.labels) - quality.accuracy(touching_read, touching.labels)
    assert gap <= 0.005, f"touching an edge costs {gap:.2%}"


@pytest.fixture(scope="module")
def mnist_figures(predictor: Predictor, test_digits: Split) -> dict[str, float]:
    return quality.mnist_figures(predictor, test_digits)


@pytest.mark.slow
def test_mnist_test_digits_through_the_reader_and_the_calibration(mnist_figures: dict[str, float]) -> None:
    # The floor the shipped model holds (99.45%) while it learns real people's hands: MNIST's own
    # digits cost 0.2 points when a batch is 36% MNIST rather than 65% (docs/figures.md).
    assert mnist_figures["accuracy"] >= 0.994, (
        f"MNIST test through predict_batch: {mnist_figures['accuracy']:.2%}"
    )
    assert mnist_figures["ece"] <= 0.01, f"ECE {mnist_figures['ece']:.2%}"


@pytest.mark.slow
@pytest.mark.xfail(
    strict=True,
    reason="the reader's MNIST goal (99.6% through predict_batch) is not reached since training "
    "reads real hands: 99.45% (docs/figures.md, 'Real people's handwriting'). Strict: once it "
    "passes, this mark must go.",
)
def test_mnist_test_digits_through_the_reader_reach_the_goal(mnist_figures: dict[str, float]) -> None:
    assert mnist_figures["accuracy"] >= 0.996, (
        f"MNIST test through predict_batch: {mnist_figures['accuracy']:.2%}"
    )
