"""Pictures and tables for the page: pure functions from the core's objects to charts and frames.

Nothing here touches Streamlit's session or the database, so each view is easy to reason about
and the page module only arranges them.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

from digit_knower.reader import classes
from digit_knower.reader.verdict import describe, named
from digit_knower.store.records import MODEL_INPUT_BYTES, MODEL_INPUT_SIDE, Verdict

DIGITS = list(range(classes.DIGITS))
_ACCENT = "#4f8cff"
_MUTED = "#5a6275"


@dataclass(frozen=True)
class Palette:
    """The charts' colours that follow the page's theme (the system's light or dark): text drawn on
    the page's background, the background itself, and a confusion-matrix cell with no drawings."""

    ink: str
    paper: str
    empty_cell: str


DARK = Palette(ink="#ffffff", paper="#0e1117", empty_cell="#1c2233")
LIGHT = Palette(ink="#31333f", paper="#ffffff", empty_cell="#eef1f6")


def palette(theme: str | None) -> Palette:
    """The palette for Streamlit's theme type ("light", "dark"; None before the browser says): dark
    unless light, the page's colours before it follows the system."""
    return LIGHT if theme == "light" else DARK


def enlarged(model_input: np.ndarray, scale: int = 8) -> Image.Image:
    """The 28x28 model input, blown up with hard pixels (nearest neighbour), so it is not smoothed."""
    picture = Image.fromarray(np.asarray(model_input, dtype=np.uint8))  # 2-D uint8: greyscale
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


def enlarged_row(model_inputs: Sequence[np.ndarray], scale: int = 8, gap: int = 12) -> Image.Image:
    """Model inputs enlarged side by side, a grey gap between them (several digits, left to right);
    `scale=1` keeps them at 28x28, as the History's thumbnails."""
    pictures = [enlarged(m, scale) for m in model_inputs]
    row = Image.new("L", (sum(p.width for p in pictures) + gap * (len(pictures) - 1), pictures[0].height), 96)
    left = 0
    for picture in pictures:
        row.paste(picture, (left, 0))
        left += picture.width + gap
    return row


def probability_chart(probabilities: Sequence[float], digit: int) -> alt.Chart:
    """Ten bars, one per digit, the predicted one highlighted."""
    frame = pd.DataFrame({"digit": DIGITS, "probability": [float(p) for p in probabilities]})
    frame["predicted"] = frame["digit"] == digit
    return (
        alt.Chart(frame, height=190)
        .mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
        .encode(
            x=alt.X("digit:O", title=None, axis=alt.Axis(labelAngle=0, labelFontSize=14)),
            y=alt.Y(
                "probability:Q",
                title="probability",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            color=alt.condition("datum.predicted", alt.value(_ACCENT), alt.value(_MUTED)),
            tooltip=["digit:O", alt.Tooltip("probability:Q", format=".2%")],
        )
    )


# The History's thumbnail: the 28x28 inputs at their own size, a few pixels apart.
THUMBNAIL_GAP = 4
# Streamlit's grid draws a cell's picture 29 px tall (its 35 px row less 3 px above and below) and
# 8 px in from either side, and what is wider than the column does not show: so the picture column
# widens for several digits.
_DRAWN_HEIGHT_PX = 29
_CELL_PADDING_PX = 2 * 8
_SMALL_COLUMN_PX = 75  # Streamlit's "small" column, enough for one digit


def _thumbnail_url(record: Any) -> str | None:
    """A PNG data URL of what the model saw, for the history table's picture column: 28x28 for one
    digit, every digit's side by side for several (rows logged before those were kept have only
    the first); None once retention dropped the pictures."""
    inputs = record.part_input_arrays()
    if not inputs:
        return None
    buffer = io.BytesIO()
    enlarged_row(inputs, scale=1, gap=THUMBNAIL_GAP).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def saw_column_width(records: Sequence[Any]) -> int:
    """Pixels for the History's picture column, so that the widest row of digits shows whole."""
    widest = max((len(r.part_inputs) // MODEL_INPUT_BYTES for r in records if r.part_inputs), default=1)
    picture = MODEL_INPUT_SIDE * widest + THUMBNAIL_GAP * (widest - 1)
    drawn = math.ceil(picture * _DRAWN_HEIGHT_PX / MODEL_INPUT_SIDE)
    return max(_SMALL_COLUMN_PX, drawn + _CELL_PADDING_PX)


def _local(moment: datetime, timezone: str | None) -> datetime:
    """The moment in the viewer's browser time zone when known, else UTC (naive, for display)."""
    try:
        zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).replace(tzinfo=None)


def _judged(record: Any) -> str:
    """Whether the reader was right, once someone gave the true label."""
    if record.true_label is None:
        return ""
    if record.verdict == "not_a_digit":
        return "✗ turned away"
    if record.verdict == "several_digits":
        return "— several digits"
    return "✓ right" if record.digit == record.true_label else "✗ wrong"


def answer_words(
    verdict: Verdict | None, digits: Sequence[int] | None, digit: int, probabilities: Sequence[float]
) -> str:
    """What the reader said of a drawing, in the page's own words ('It's a 4.', 'That doesn't look
    like a digit.'); a row logged before verdicts existed has only its digit."""
    if verdict is None:
        return f"Read as {named(digit)}."
    return describe(verdict, digits, probabilities)


def saw_alt(pictures: int) -> str:
    """Alt text of the picture of what the model saw: `pictures` 28x28 inputs side by side."""
    if pictures == 1:
        return "What the model saw: a 28 by 28 picture of the digit"
    return f"What the model saw: {pictures} pictures of 28 by 28, one per digit, left to right"


def history_frame(records: Sequence[Any], timezone: str | None = None) -> pd.DataFrame:
    """The latest predictions as a table: time, what the model saw (every digit of several), the
    reader's answer in words, the confidence, the true label and whether the reader was right."""
    rows = [
        {
            "time": _local(r.created_at, timezone),
            "saw": _thumbnail_url(r),
            "answer": answer_words(r.verdict, r.digits, r.digit, r.probabilities),
            "confidence": r.confidence,
            "true label": "" if r.true_label is None else str(r.true_label),
            "correct": _judged(r),
            "source": r.source,
        }
        for r in records
    ]
    columns = ["time", "saw", "answer", "confidence", "true label", "correct", "source"]
    return pd.DataFrame(rows, columns=columns)


# Height of the bar drawn for a digit whose labelled drawings were all read wrong: 0% must show as a
# bar, or it looks the same as a digit nobody labelled.
ZERO_STUB = 0.015
NO_LABELS = "no labels"


def per_digit_frame(per_digit: Sequence[Any]) -> pd.DataFrame:
    """One row per true digit: labelled (n), right (k), accuracy, the bar's height and its label
    ('k/n', or 'no labels'). The bar is None only where nothing was labelled; 0% gets a stub."""
    rows = [
        {
            "digit": d.digit,
            "labelled": d.labelled,
            "right": d.correct,
            "accuracy": d.accuracy if d.labelled else None,
            "bar": max(d.accuracy or 0.0, ZERO_STUB) if d.labelled else None,
            "label": f"{d.correct}/{d.labelled}" if d.labelled else NO_LABELS,
        }
        for d in per_digit
    ]
    return pd.DataFrame(rows, columns=["digit", "labelled", "right", "accuracy", "bar", "label"])


def per_digit_chart(per_digit: Sequence[Any], colours: Palette = DARK) -> alt.LayerChart:
    """Live accuracy for each true digit, bars from 0%, each labelled 'right/labelled'; 0% shows as a
    low stub, and a digit with no labelled drawings says 'no labels' instead of a bar."""
    frame = per_digit_frame(per_digit)
    base = alt.Chart(frame, height=300).encode(
        x=alt.X(
            "digit:O",
            title="true digit (right/labelled above each bar)",
            scale=alt.Scale(domain=DIGITS),
            axis=alt.Axis(labelAngle=0),
        ),
        tooltip=[
            "digit:O",
            alt.Tooltip("labelled:Q", title="labelled"),
            alt.Tooltip("right:Q", title="right"),
            alt.Tooltip("accuracy:Q", format=".1%"),
        ],
    )
    y = alt.Y("bar:Q", title="accuracy", scale=alt.Scale(domain=[0, 1], zero=True), axis=alt.Axis(format="%"))
    labelled = base.transform_filter(alt.datum.labelled > 0)
    bars = labelled.mark_bar(color=_ACCENT, cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(y=y)
    counts = labelled.mark_text(dy=-7, fontSize=12, color=colours.ink).encode(y=y, text="label:N")
    # Written upward from the axis, muted: "nothing to measure", not a result.
    empty = (
        base.transform_filter(alt.datum.labelled == 0)
        .mark_text(angle=270, align="left", dx=4, fontSize=12, color=_MUTED)
        .encode(y=alt.datum(0), text="label:N")
    )
    return bars + counts + empty


def confusion_chart(confusion: Sequence[Sequence[int]], colours: Palette = DARK) -> alt.LayerChart:
    """Heatmap of labelled predictions: rows are the true digit, columns what the model said."""
    # Field names avoid "true" and "count": Vega reads those as a literal and an aggregate.
    frame = pd.DataFrame(
        [
            {"actual": actual, "predicted": predicted, "drawings": int(drawings)}
            for actual, row in enumerate(confusion)
            for predicted, drawings in enumerate(row)
        ]
    )
    base = alt.Chart(frame, height=300).encode(
        x=alt.X("predicted:O", title="predicted", axis=alt.Axis(labelAngle=0, orient="top")),
        y=alt.Y("actual:O", title="true label"),
    )
    cells = base.mark_rect(stroke=colours.paper, strokeWidth=1).encode(
        color=alt.Color("drawings:Q", scale=alt.Scale(range=[colours.empty_cell, _ACCENT]), legend=None),
        tooltip=[alt.Tooltip("actual:O", title="true label"), "predicted:O", "drawings:Q"],
    )
    # Counts are written in the cells: colour alone hides small numbers.
    labels = (
        base.mark_text(fontSize=13, color=colours.ink)
        .encode(text="drawings:Q")
        .transform_filter(alt.datum.drawings > 0)
    )
    return cells + labels


def percent(value: float | None) -> str:
    """0.9876 -> '98.8%'; None (nothing to measure yet) -> '—'."""
    return "—" if value is None else f"{value:.1%}"


_VERDICT_WORDS = {
    "digit": "read as a digit",
    "unsure": "unsure",
    "not_a_digit": "not a digit",
    "several_digits": "several digits",
    "none": "before verdicts",
}


def verdict_counts(per_verdict: dict[str, int]) -> str:
    """'12 read as a digit · 2 unsure · 3 not a digit' for the stats' caption."""
    return " · ".join(f"{n} {_VERDICT_WORDS.get(v, v)}" for v, n in per_verdict.items() if n)
