"""The page's Models view: every version with its figures, which one serves, and the latest retrain
as a plot of parent against candidate.

The figures come from `lifecycle.catalog`, the same source as `digit-knower models list`; the
frame and the chart are pure functions of it, and `models_panel` only arranges them.
"""

from __future__ import annotations

import math
from datetime import UTC

import altair as alt
import pandas as pd
import streamlit as st

from digit_knower.lifecycle.catalog import Catalog, catalog
from digit_knower.lifecycle.gate import SET_TITLES
from digit_knower.serving.live_model import LiveModel
from digit_knower.store import DatabaseError, DatabaseUnavailableError, Store

_ROLE_COLOURS = {"parent": "#5a6275", "candidate": "#4f8cff"}


def versions_frame(found: Catalog) -> pd.DataFrame:
    """One row per version, newest first; accuracies in percent."""
    rows = [
        {
            "serves": "●" if row.serving else "",
            "version": row.version,
            "created": row.created_at.astimezone(UTC).replace(tzinfo=None) if row.created_at else None,
            "parent": row.parent or "",
            "MNIST test": _points(row.test_accuracy),
            "feedback holdout": _points(row.holdout_accuracy),
            "mouse-style": _points(row.robustness_accuracy),
            "live accuracy": _points(row.live_accuracy),
            "labelled": row.labelled,
            "in registry": "yes" if row.on_disk else "no",
        }
        for row in found.versions
    ]
    columns = [
        "serves",
        "version",
        "created",
        "parent",
        "MNIST test",
        "feedback holdout",
        "mouse-style",
        "live accuracy",
        "labelled",
        "in registry",
    ]
    return pd.DataFrame(rows, columns=columns)


def _points(share: float | None) -> float | None:
    return None if share is None else 100 * share


def comparison_chart(comparison: list[tuple[str, str, float]]) -> alt.LayerChart:
    """Parent and candidate side by side on each set, the axis zoomed to where they differ."""
    frame = pd.DataFrame(
        [{"set": SET_TITLES[name], "model": role, "accuracy": acc} for name, role, acc in comparison]
    )
    # Whole percents, at least two below the lowest bar: the bars start there, not at 0%, where
    # every bar would look the same height.
    low = max(0.0, math.floor(100 * float(frame["accuracy"].min()) - 2) / 100)
    base = alt.Chart(frame, height=260).encode(
        x=alt.X(
            "set:N", title=None, sort=list(SET_TITLES.values()), axis=alt.Axis(labelAngle=0, labelLimit=400)
        ),
        xOffset=alt.XOffset("model:N", sort=list(_ROLE_COLOURS)),
        y=alt.Y(
            "accuracy:Q",
            title="accuracy",
            scale=alt.Scale(domain=[low, 1], zero=False),
            axis=alt.Axis(format=".0%", minExtent=40),
        ),
        tooltip=["set:N", "model:N", alt.Tooltip("accuracy:Q", format=".2%")],
    )
    bars = base.mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(
        y2=alt.datum(low),
        color=alt.Color(
            "model:N",
            scale=alt.Scale(domain=list(_ROLE_COLOURS), range=list(_ROLE_COLOURS.values())),
            legend=alt.Legend(title=None, orient="top"),
        ),
    )
    labels = base.mark_text(dy=-6, fontSize=12, color="#ffffff").encode(
        text=alt.Text("accuracy:Q", format=".2%")
    )
    return bars + labels


def models_panel(store: Store, live: LiveModel) -> None:
    st.subheader("Models")
    try:
        found = catalog(store, live.registry)
    except DatabaseUnavailableError:
        st.caption("The models are unavailable while the database is unreachable.")
        return
    except DatabaseError as error:
        st.error(f"The models cannot be read: {error}")
        return
    status = live.status
    st.markdown(
        f"This page serves `{status.serving}`; it checks every {live.refresh_s:g} s which version "
        "should serve, and switches without a restart.",
        help="`digit-knower models promote VERSION` and `digit-knower models rollback` choose it.",
    )
    if status.problem:
        st.warning(status.problem, icon=":material/warning:")
    st.dataframe(
        versions_frame(found),
        hide_index=True,
        key="models",
        column_config={
            "created": st.column_config.DatetimeColumn("created (UTC)", format="D MMM YYYY, HH:mm"),
            **{
                name: st.column_config.NumberColumn(name, format="%.2f%%")
                for name in ("MNIST test", "feedback holdout", "mouse-style", "live accuracy")
            },
        },
    )
    comparison = found.comparison()
    card = found.latest_retrain
    if not comparison or card is None:
        st.caption("No retrained model yet. `digit-knower retrain` makes one from the labelled predictions.")
        return
    verdict = "passed" if card["gate"]["passed"] else "refused: " + "; ".join(card["gate"]["failures"])
    st.markdown(
        f"**Latest retrain** `{card['lineage']['parent_version']}` → `{card['version']}`, on "
        f"{card['lineage']['feedback_train_rows']} labelled predictions "
        f"({card['lineage']['feedback_holdout_rows']} held out). The gate {verdict}."
    )
    st.altair_chart(comparison_chart(comparison), width="stretch")
