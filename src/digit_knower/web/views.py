"""Pictures and tables for the page: pure functions from the core's objects to charts and frames.

Nothing here touches Streamlit's session or the database, so each view is easy to reason about
and the page module only arranges them.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

DIGITS = list(range(10))
_ACCENT = "#4f8cff"
_MUTED = "#5a6275"
_EMPTY_CELL = "#1c2233"


def enlarged(model_input: np.ndarray, scale: int = 8) -> Image.Image:
    """The 28x28 model input, blown up with hard pixels (nearest neighbour), so it is not smoothed."""
    picture = Image.fromarray(np.asarray(model_input, dtype=np.uint8))  # 2-D uint8: greyscale
    return picture.resize((picture.width * scale, picture.height * scale), Image.Resampling.NEAREST)


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


def _thumbnail_url(model_input: bytes) -> str:
    """A 28x28 PNG data URL of a stored model input, for the history table's picture column."""
    picture = Image.frombytes("L", (28, 28), bytes(model_input))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _local(moment: datetime, timezone: str | None) -> datetime:
    """The moment in the viewer's browser time zone when known, else UTC (naive, for display)."""
    try:
        zone = ZoneInfo(timezone) if timezone else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).replace(tzinfo=None)


def _verdict(digit: int, true_label: int | None) -> str:
    if true_label is None:
        return ""
    return "✓ right" if digit == true_label else "✗ wrong"


def history_frame(records: Sequence[Any], timezone: str | None = None) -> pd.DataFrame:
    """The latest predictions as a table: time, what the model saw, digit, confidence, label, verdict."""
    rows = [
        {
            "time": _local(r.created_at, timezone),
            "saw": _thumbnail_url(r.model_input),
            "predicted": r.digit,
            "confidence": r.confidence,
            "true label": "" if r.true_label is None else str(r.true_label),
            "correct": _verdict(r.digit, r.true_label),
            "source": r.source,
        }
        for r in records
    ]
    columns = ["time", "saw", "predicted", "confidence", "true label", "correct", "source"]
    return pd.DataFrame(rows, columns=columns)


def per_digit_chart(per_digit: Sequence[Any]) -> alt.Chart:
    """Live accuracy for each true digit; digits with no labelled drawings show no bar."""
    frame = pd.DataFrame(
        [{"digit": d.digit, "accuracy": d.accuracy, "labelled": d.labelled} for d in per_digit],
        columns=["digit", "accuracy", "labelled"],
    )
    return (
        alt.Chart(frame, height=300)
        .mark_bar(color=_ACCENT, cornerRadiusTopLeft=3, cornerRadiusTopRight=3)
        .encode(
            x=alt.X(
                "digit:O", title="true digit", scale=alt.Scale(domain=DIGITS), axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y(
                "accuracy:Q", title="accuracy", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")
            ),
            tooltip=["digit:O", alt.Tooltip("accuracy:Q", format=".1%"), "labelled:Q"],
        )
    )


def confusion_chart(confusion: Sequence[Sequence[int]]) -> alt.Chart:
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
    cells = base.mark_rect(stroke="#0e1117", strokeWidth=1).encode(
        color=alt.Color("drawings:Q", scale=alt.Scale(range=[_EMPTY_CELL, _ACCENT]), legend=None),
        tooltip=[alt.Tooltip("actual:O", title="true label"), "predicted:O", "drawings:Q"],
    )
    # Counts are written in the cells: colour alone hides small numbers.
    labels = (
        base.mark_text(fontSize=13, color="#ffffff")
        .encode(text="drawings:Q")
        .transform_filter(alt.datum.drawings > 0)
    )
    return cells + labels


def percent(value: float | None) -> str:
    """0.9876 -> '98.8%'; None (nothing to measure yet) -> '—'."""
    return "—" if value is None else f"{value:.1%}"
