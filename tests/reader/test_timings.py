"""The reader's timings: whoever observes a stage is told its seconds; the reader knows no one."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from digit_knower import EmptyImageError, Predictor
from digit_knower.reader import timings
from digit_knower.settings import SHIPPED_MODEL_DIR

Seen = dict[timings.Stage, list[float]]


@pytest.fixture
def seen() -> Iterator[Seen]:
    """The seconds of each stage from now on, for the length of one test."""
    stages: Seen = {"preprocess": [], "model": []}
    for stage, seconds in stages.items():
        timings.observe(stage, seconds.append)
    yield stages
    for stage, seconds in stages.items():
        timings.unobserve(stage, seconds.append)


def test_an_observer_is_told_the_seconds_of_each_timed_block(seen: Seen) -> None:
    with timings.timed("model"):
        pass
    with timings.timed("model"):
        sum(range(10_000))
    assert len(seen["model"]) == 2 and seen["preprocess"] == []
    assert 0 <= seen["model"][0] < seen["model"][1]


def test_a_block_that_raises_is_timed_too(seen: Seen) -> None:
    with pytest.raises(ValueError), timings.timed("preprocess"):
        raise ValueError("no digit here")
    assert len(seen["preprocess"]) == 1


def test_an_observer_registered_twice_is_told_once(seen: Seen) -> None:
    observer = seen["model"].append
    timings.observe("model", observer)
    try:
        with timings.timed("model"):
            pass
    finally:
        timings.unobserve("model", observer)
    assert len(seen["model"]) == 1


def test_an_observer_unobserved_is_told_nothing_more(seen: Seen) -> None:
    timings.unobserve("model", seen["model"].append)
    with timings.timed("model"):
        pass
    assert seen["model"] == []


def test_a_prediction_reports_its_preprocessing_and_each_model_run(seen: Seen) -> None:
    predictor = Predictor.load(SHIPPED_MODEL_DIR)
    picture = np.zeros((280, 280), np.uint8)
    picture[60:220, 130:150] = 255  # a "1"
    predictor.predict(picture)
    assert len(seen["preprocess"]) == 1 and len(seen["model"]) >= 1
    with pytest.raises(EmptyImageError):
        predictor.predict(np.zeros((280, 280), np.uint8))
    assert len(seen["preprocess"]) == 2  # a blank picture cost preprocessing time too


def test_the_reader_imports_nothing_of_serving_or_prometheus() -> None:
    code = (
        "import sys, numpy as np\n"
        "from digit_knower import Predictor\n"
        "picture = np.zeros((280, 280), np.uint8); picture[60:220, 130:150] = 255\n"
        "Predictor.load().predict(picture)\n"
        "watchers = ('digit_knower.serving', 'prometheus_client')\n"
        "leaked = sorted(m for m in sys.modules if m.startswith(watchers))\n"
        "assert not leaked, leaked\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
