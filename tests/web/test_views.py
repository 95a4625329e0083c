"""The per-digit accuracy chart: counts on every bar, 0% as a visible bar, and 'no labels' apart from 0%."""

from __future__ import annotations

from typing import Any

from digit_knower.store.records import DigitStats
from digit_knower.web import views


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
