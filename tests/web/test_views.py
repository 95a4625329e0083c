"""The page's views: the per-digit accuracy chart (counts on every bar, 0% as a visible bar, and
'no labels' apart from 0%), the History's words and pictures, and the charts' colours."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from digit_knower.store.records import DigitStats
from digit_knower.web import views
from tests.support.store import make_record, make_several


def per_digit(**labelled_right: tuple[int, int]) -> list[DigitStats]:
    """Ten digits; `d3=(3, 0)` gives digit 3 three labelled drawings, none read right."""
    rows = []
    for digit in range(10):
        n, k = labelled_right.get(f"d{digit}", (0, 0))
        rows.append(DigitStats(digit=digit, labelled=n, correct=k, accuracy=k / n if n else None))
    return rows


def chart_rows(chart: Any) -> list[dict[str, Any]]:
    spec = chart.to_dict()
    (rows,) = spec["datasets"].values()
    return rows


def test_a_digit_labelled_three_times_all_wrong_gets_a_visible_bar_at_zero_percent() -> None:
    frame = views.per_digit_frame(per_digit(d3=(3, 0)))
    three = frame.set_index("digit").loc[3]
    assert three["accuracy"] == 0.0
    assert three["bar"] > 0  # a stub, so 0% is seen
    assert three["bar"] <= views.ZERO_STUB
    assert three["label"] == "0/3"


def test_every_labelled_digit_shows_right_and_labelled_counts() -> None:
    frame = views.per_digit_frame(per_digit(d1=(4, 3), d7=(10, 10))).set_index("digit")
    assert (frame.loc[1, "labelled"], frame.loc[1, "right"], frame.loc[1, "label"]) == (4, 3, "3/4")
    assert frame.loc[1, "bar"] == 0.75
    assert frame.loc[7, "label"] == "10/10" and frame.loc[7, "bar"] == 1.0


def test_a_digit_nobody_labelled_says_no_labels_and_has_no_bar_unlike_zero_percent() -> None:
    frame = views.per_digit_frame(per_digit(d3=(3, 0))).set_index("digit")
    assert frame.loc[5, "label"] == views.NO_LABELS
    assert frame.loc[[5], ["bar", "accuracy"]].isna().all(axis=None)
    assert str(frame.loc[5, "label"]) != str(frame.loc[3, "label"])


def test_the_chart_draws_bars_from_zero_with_the_counts_and_the_no_labels_mark() -> None:
    chart = views.per_digit_chart(per_digit(d3=(3, 0), d1=(4, 3)))
    spec = chart.to_dict()
    bars, counts, empty = spec["layer"]
    assert bars["mark"]["type"] == "bar"
    assert bars["encoding"]["y"]["field"] == "bar"
    assert bars["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert counts["mark"]["type"] == "text" and counts["encoding"]["text"]["field"] == "label"
    assert empty["mark"]["type"] == "text" and "labelled === 0" in empty["transform"][0]["filter"]
    labels = {row["digit"]: row["label"] for row in chart_rows(chart)}
    assert labels[3] == "0/3" and labels[1] == "3/4" and labels[0] == views.NO_LABELS


def test_tooltips_give_the_counts_and_the_true_accuracy_not_the_stub() -> None:
    spec = views.per_digit_chart(per_digit(d3=(3, 0))).to_dict()
    fields = {tip["field"]: tip for tip in spec["layer"][0]["encoding"]["tooltip"]}
    assert {"labelled", "right", "accuracy"} <= fields.keys()
    assert "bar" not in fields


def test_history_says_the_verdict_in_words_and_shows_no_digit_for_a_drawing_turned_away() -> None:
    probabilities = [0.0] * 10
    probabilities[4], probabilities[9] = 0.6, 0.4
    assert views.answer_words("not_a_digit", [], 4, probabilities) == "That doesn't look like a digit."
    assert views.answer_words("several_digits", [4, 2], 4, probabilities) == "I see several digits: 4 2."
    assert views.answer_words("digit", [4], 4, probabilities) == "Probably a 4; it could be a 9."
    assert views.answer_words(None, None, 8, probabilities) == "Read as an 8."  # logged before verdicts


def test_what_the_model_saw_has_words_for_one_picture_and_for_several() -> None:
    assert views.saw_alt(1) == "What the model saw: a 28 by 28 picture of the digit"
    assert views.saw_alt(3) == "What the model saw: 3 pictures of 28 by 28, one per digit, left to right"


def thumbnail(url: str) -> Image.Image:
    assert url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))


def test_the_history_shows_every_digit_of_several_side_by_side_and_one_digit_at_28_by_28() -> None:
    one, two, three = make_record(7), make_several(4, 2), make_several(1, 0, 3)
    frame = views.history_frame([one, two, three])
    sizes = [thumbnail(url).size for url in frame["saw"]]
    gap = views.THUMBNAIL_GAP
    assert sizes == [(28, 28), (2 * 28 + gap, 28), (3 * 28 + 2 * gap, 28)]
    assert list(frame["answer"]) == [
        "Probably a 7.",
        "I see several digits: 4 2.",
        "I see several digits: 1 0 3.",
    ]


def test_each_digits_picture_is_shown_as_the_model_saw_it_left_to_right() -> None:
    several = make_several(4, 2)
    (url,) = views.history_frame([several])["saw"]
    pixels = np.asarray(thumbnail(url))
    first, second = several.part_input_arrays()
    assert np.array_equal(pixels[:, :28], first)
    assert np.array_equal(pixels[:, 28 + views.THUMBNAIL_GAP :], second)


def test_a_row_from_before_every_digit_was_kept_shows_its_first_and_a_pruned_row_shows_none() -> None:
    several = make_several(4, 2)
    before = several.model_copy(update={"part_inputs": None})  # logged before migration 0006
    pruned = several.model_copy(update={"part_inputs": None, "model_input": None})
    old_url, pruned_url = views.history_frame([before, pruned])["saw"]
    assert np.array_equal(np.asarray(thumbnail(old_url)), before.model_input_array())
    assert pd.isna(pruned_url)  # an empty cell


def test_the_picture_column_widens_for_the_widest_row_of_digits_so_it_shows_whole() -> None:
    one_digit = views.saw_column_width([make_record(7)])
    assert one_digit == 75  # Streamlit's "small" column
    three = views.saw_column_width([make_record(7), make_several(1, 0, 3), make_several(4, 2)])
    drawn = (3 * 28 + 2 * views.THUMBNAIL_GAP) * 29 / 28  # drawn 29 px tall, 8 px in from each side
    assert drawn + 2 * 8 <= three < drawn + 2 * 8 + 2
    assert views.saw_column_width([]) == one_digit


def test_the_charts_text_follows_the_light_and_the_dark_theme() -> None:
    assert views.palette("light") is views.LIGHT and views.palette("dark") is views.DARK
    assert views.palette(None) is views.DARK  # before the browser has said which
    for colours in (views.LIGHT, views.DARK):
        _, counts, _ = views.per_digit_chart(per_digit(d1=(4, 3)), colours).to_dict()["layer"]
        assert counts["mark"]["color"] == colours.ink
        cells, labels = views.confusion_chart([[1] * 10] * 10, colours).to_dict()["layer"]
        assert (labels["mark"]["color"], cells["mark"]["stroke"]) == (colours.ink, colours.paper)
    # Dark text on the light page's white, white text on the dark page's near-black.
    assert views.LIGHT.ink != views.LIGHT.paper and views.DARK.ink == "#ffffff"
