"""The Models view for a newcomer: plain words, jargon only in tooltips, a table that fits a phone,
every figure the chart draws also in the tables (never 'None'), and bars from 0%."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from digit_knower.lifecycle.catalog import Catalog, VersionRow
from digit_knower.web import models_view

PARENT, CANDIDATE = "dk-20261201-680b6287", "dk-20261205-1a2b3c4d"
JARGON = ("serves", "●", "feedback holdout", "mouse-style", "gate", "None", "nan")


def version(name: str, **figures: Any) -> VersionRow:
    defaults: dict[str, Any] = {
        "created_at": datetime(2026, 12, 1, tzinfo=UTC),
        "parent": None,
        "test_accuracy": None,
        "holdout_accuracy": None,
        "robustness_accuracy": None,
        "predictions": 0,
        "labelled": 0,
        "live_accuracy": None,
        "serving": False,
        "on_disk": True,
    }
    return VersionRow(version=name, **{**defaults, **figures})


def card(passed: bool = True) -> dict[str, Any]:
    return {
        "version": CANDIDATE,
        "lineage": {"parent_version": PARENT, "feedback_train_rows": 40, "feedback_holdout_rows": 9},
        "gate": {
            "passed": passed,
            "failures": [] if passed else ["MNIST test set: 97.00% is 2.00 points below"],
        },
        "evaluation": {
            "parent": {
                "mnist_test": {"accuracy": 0.9887},
                "feedback_holdout": {"accuracy": 2 / 3},
                "robustness": {"accuracy": 0.8},
            },
            "candidate": {
                "mnist_test": {"accuracy": 0.9890},
                "feedback_holdout": {"accuracy": 1.0},
                "robustness": {"accuracy": 0.85},
            },
        },
    }


def found(passed: bool = True) -> Catalog:
    """A retrained candidate that answers and has no labels yet; its parent, the shipped model, has 30."""
    return Catalog(
        versions=[
            version(CANDIDATE, parent=PARENT, test_accuracy=0.9890, holdout_accuracy=1.0, serving=True),
            version(PARENT, test_accuracy=0.9887, labelled=30, live_accuracy=0.9),
        ],
        serving=CANDIDATE,
        history=[],
        latest_retrain=card(passed),
    )


def cells(frame: pd.DataFrame) -> list[str]:
    return [str(value) for value in frame.to_numpy().ravel()] + list(frame.columns)


def test_the_versions_table_has_four_plain_columns_and_words_where_a_figure_is_missing() -> None:
    frame = models_view.versions_frame(found())
    assert list(frame.columns) == ["now", "version", "test set", "your labels"]
    rows = frame.set_index("version")
    assert list(rows.loc[CANDIDATE]) == ["✓", "98.90%", models_view.NO_LABELS]
    assert list(rows.loc[PARENT]) == ["", "98.87%", "90.00% of 30"]
    assert not any(word in cell for cell in cells(frame) for word in JARGON)


def test_the_retrain_table_shows_the_parents_figures_that_the_chart_draws() -> None:
    comparison = found().comparison()
    assert comparison is not None
    frame = models_view.retrain_frame(comparison)
    assert frame.to_dict("records") == [
        {"test set": "MNIST test set", "before": "98.87%", "after": "98.90%", "change": "+0.03 points"},
        {
            "test set": "your labels kept aside",
            "before": "66.67%",
            "after": "100.00%",
            "change": "+33.33 points",
        },
        {"test set": "mouse-drawn digits", "before": "80.00%", "after": "85.00%", "change": "+5.00 points"},
    ]
    charted = {
        (row["set"], row["model"]): row["accuracy"]
        for row in next(iter(models_view.comparison_chart(comparison).to_dict()["datasets"].values()))
    }
    assert charted[("your labels kept aside", "before")] == pytest.approx(2 / 3)
    assert charted[("MNIST test set", "before")] == pytest.approx(0.9887)


def test_the_comparison_chart_starts_its_axis_at_zero() -> None:
    comparison = found().comparison()
    assert comparison is not None
    bars = models_view.comparison_chart(comparison).to_dict()["layer"][0]
    assert bars["encoding"]["y"]["scale"]["domain"] == [0, 1]
    assert "y2" not in bars["encoding"]


def test_the_lines_say_which_model_answers_and_what_the_retrain_did_in_plain_words() -> None:
    assert models_view.answering_line(CANDIDATE, found()) == (
        f"Answering now: `{CANDIDATE}`. It read 98.90% of the MNIST test set right."
    )
    passed = models_view.retrain_line(card(passed=True))
    assert f"`{PARENT}` → `{CANDIDATE}`" in passed
    assert "40 of your labels" in passed and "9 more kept aside" in passed
    assert passed.endswith("It passed the checks, so it may answer.")
    refused = models_view.retrain_line(card(passed=False))
    assert "The checks refused it, so it does not answer: MNIST test set: 97.00%" in refused
    assert not any(word in passed for word in JARGON)


def _page() -> None:
    from types import SimpleNamespace

    from digit_knower.web import models_view

    status = SimpleNamespace(serving="dk-20261205-1a2b3c4d", problem=None)
    models_view.models_panel(None, SimpleNamespace(status=status, refresh_s=5.0, registry=None))  # type: ignore[arg-type]


def test_the_page_shows_both_tables_without_none_and_explains_the_jargon_in_tooltips(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(models_view, "catalog", lambda store, registry: found())
    page = AppTest.from_function(_page).run()
    assert not page.exception
    versions, retrain = (table.value for table in page.dataframe)
    assert not any(word in cell for table in (versions, retrain) for cell in cells(table) for word in JARGON)
    assert retrain.set_index("test set").loc["your labels kept aside", "before"] == "66.67%"
    shown = " ".join(m.value for m in page.markdown)
    assert "Answering now" in shown and "Latest retrain" in shown
    assert not any(word in shown for word in ("serves", "feedback holdout", "mouse-style", "gate"))
    tooltips = " ".join(m.help or "" for m in page.markdown)
    assert "'serves'" in tooltips and "'gate'" in tooltips
