"""The page's Models view, in plain words for a newcomer: which version answers, how each did on the
MNIST test set and on the drawings people labelled, and what the latest retrain changed.

The figures come from `lifecycle.catalog`, the same source as `digit-knower models list`; the
frames and the chart are pure functions of it, and `models_panel` only arranges them. The jargon
(serving, feedback holdout, mouse-style set, the gate) is explained in tooltips, not in the text.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from digit_knower.lifecycle.catalog import Catalog, VersionRow, catalog
from digit_knower.serving.live_model import LiveModel
from digit_knower.store import DatabaseError, DatabaseUnavailableError, Store
from digit_knower.web import views

_ROLE_COLOURS = {"before": "#5a6275", "after": "#4f8cff"}
_ROLES = {"parent": "before", "candidate": "after"}

# The retrain's test sets in plain words; the names the gate and the CLI use are in SET_HELP.
SET_NAMES = {
    "mnist_test": "MNIST test set",
    "feedback_holdout": "your labels kept aside",
    "robustness": "mouse-drawn digits",
}
SET_HELP = (
    "MNIST test set: 10,000 handwritten digits no model trained on. Your labels kept aside (the "
    "'feedback holdout'): labelled drawings the retrain did not learn from, kept to test it. "
    "Mouse-drawn digits (the 'mouse-style robustness set'): digits redrawn the way a mouse or finger draws."
)
ANSWERING_HELP = (
    "The version that reads every drawing on this page and through the API now ('serves'). "
    "`digit-knower models promote VERSION` and `digit-knower models rollback` choose it."
)
TEST_SET_HELP = "Share of the 10,000 pictures of the MNIST test set it read right, measured when it was made."
LABELS_HELP = (
    "Share right among the drawings people gave a true label, of those it read as one digit, and "
    "how many that is."
)
NO_LABELS = "no labels yet"


def versions_frame(found: Catalog) -> pd.DataFrame:
    """One row per version, newest first, in four narrow columns so the table fits a phone. Figures
    are text, so a missing one reads as words, never as 'None'."""
    rows = [
        {
            "now": "✓" if row.serving else "",
            "version": row.version,
            "test set": _percent(row.test_accuracy, "not measured"),
            "your labels": NO_LABELS
            if row.live_accuracy is None
            else f"{row.live_accuracy:.2%} of {row.labelled:,}",
        }
        for row in found.versions
    ]
    return pd.DataFrame(rows, columns=["now", "version", "test set", "your labels"])


def _percent(share: float | None, missing: str) -> str:
    return missing if share is None else f"{share:.2%}"


def retrain_frame(comparison: list[tuple[str, str, float]]) -> pd.DataFrame:
    """What the latest retrain changed, one row per test set: before (the parent), after (the new
    version) and the change in points. The same figures as the chart, so the two never disagree."""
    figures = {(name, role): accuracy for name, role, accuracy in comparison}
    rows = []
    names = dict.fromkeys(name for name, _, _ in comparison)
    for name in sorted(names, key=lambda n: list(SET_NAMES).index(n) if n in SET_NAMES else len(SET_NAMES)):
        before, after = figures.get((name, "parent")), figures.get((name, "candidate"))
        rows.append(
            {
                "test set": SET_NAMES.get(name, name),
                "before": _percent(before, "—"),
                "after": _percent(after, "—"),
                "change": "—" if before is None or after is None else f"{100 * (after - before):+.2f} points",
            }
        )
    return pd.DataFrame(rows, columns=["test set", "before", "after", "change"])


def comparison_chart(
    comparison: list[tuple[str, str, float]], colours: views.Palette = views.DARK
) -> alt.LayerChart:
    """Before (the parent) and after (the new version) side by side on each test set; bars from 0%."""
    frame = pd.DataFrame(
        [
            {"set": SET_NAMES.get(name, name), "model": _ROLES[role], "accuracy": acc}
            for name, role, acc in comparison
        ]
    )
    base = alt.Chart(frame, height=260).encode(
        x=alt.X(
            "set:N",
            title=None,
            sort=list(SET_NAMES.values()),
            axis=alt.Axis(labelAngle=0, labelLimit=120),
        ),
        xOffset=alt.XOffset("model:N", sort=list(_ROLE_COLOURS)),
        y=alt.Y(
            "accuracy:Q",
            title="accuracy",
            scale=alt.Scale(domain=[0, 1], zero=True),
            axis=alt.Axis(format=".0%", minExtent=40),
        ),
        tooltip=["set:N", "model:N", alt.Tooltip("accuracy:Q", format=".2%")],
    )
    bars = base.mark_bar(cornerRadiusTopLeft=3, cornerRadiusTopRight=3).encode(
        color=alt.Color(
            "model:N",
            scale=alt.Scale(domain=list(_ROLE_COLOURS), range=list(_ROLE_COLOURS.values())),
            legend=alt.Legend(title=None, orient="top"),
        ),
    )
    labels = base.mark_text(dy=-6, fontSize=11, color=colours.ink).encode(
        text=alt.Text("accuracy:Q", format=".1%")
    )
    return bars + labels


def answering_line(serving: str, found: Catalog) -> str:
    """Which version answers on this page, in words, with how it did on the MNIST test set."""
    row = next((r for r in found.versions if r.version == serving), None)
    if row is None or row.test_accuracy is None:
        return f"Answering now: `{serving}`."
    return f"Answering now: `{serving}`. It read {row.test_accuracy:.2%} of the MNIST test set right."


def retrain_line(card: dict[str, Any]) -> str:
    """The latest retrain in words: from which version, on how many labels, and whether it may serve."""
    lineage = card["lineage"]
    outcome = (
        "It passed the checks, so it may answer."
        if card["gate"]["passed"]
        else "The checks refused it, so it does not answer: " + "; ".join(card["gate"]["failures"]) + "."
    )
    return (
        f"**Latest retrain:** `{lineage['parent_version']}` → `{card['version']}`, learnt from "
        f"{lineage['feedback_train_rows']} of your labels, with {lineage['feedback_holdout_rows']} more "
        f"kept aside to test it. {outcome}"
    )


GATE_HELP = (
    "The checks (the 'gate'): a retrained version may answer only if it is not worse than the one "
    "before on any test set, beyond a small allowance. `digit-knower retrain` runs them."
)


def _missing_folders(rows: list[VersionRow]) -> str | None:
    gone = [row.version for row in rows if not row.on_disk]
    if not gone:
        return None
    return (
        "Not in this model registry, so they cannot answer here: " + ", ".join(f"`{v}`" for v in gone) + "."
    )


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
        answering_line(status.serving, found),
        help=f"This page checks every {live.refresh_s:g} s which version "
        "should answer, and switches without a restart. " + ANSWERING_HELP,
    )
    if status.problem:
        st.warning(status.problem, icon=":material/warning:")
    # Keyed containers: the browser tests find each table by its key.
    with st.container(key="model-versions"):
        st.dataframe(
            versions_frame(found),
            hide_index=True,
            key="models",
            column_config={
                "now": st.column_config.TextColumn("now", width=48, help=ANSWERING_HELP),
                "version": st.column_config.TextColumn("version", help="Each trained model, newest first."),
                "test set": st.column_config.TextColumn("test set", help=TEST_SET_HELP),
                "your labels": st.column_config.TextColumn("your labels", help=LABELS_HELP),
            },
        )
    missing = _missing_folders(found.versions)
    if missing:
        st.caption(missing)
    comparison = found.comparison()
    card = found.latest_retrain
    if not comparison or card is None:
        st.caption("No retrained model yet. `digit-knower retrain` makes one from the labelled drawings.")
        return
    st.markdown(retrain_line(card), help=GATE_HELP)
    with st.container(key="retrain-figures"):
        st.dataframe(
            retrain_frame(comparison),
            hide_index=True,
            key="retrain",
            column_config={
                "test set": st.column_config.TextColumn("test set", help=SET_HELP),
                "before": st.column_config.TextColumn("before", help="The version it was retrained from."),
                "after": st.column_config.TextColumn("after", help="The retrained version."),
            },
        )
    st.altair_chart(comparison_chart(comparison, views.palette(st.context.theme.type)), width="stretch")
