"""The shared path from a picture to a logged prediction (used by the web page and the API)."""

from __future__ import annotations

import numpy as np
import pytest

from digit_knower import EmptyImageError, Predictor
from digit_knower.service import predict_and_log
from tests.api_helpers import drawn_one


def test_a_drawing_is_read_and_logged_once_with_its_source_and_latency(store):
    prediction, record = predict_and_log(Predictor.load(), store, drawn_one(), source="web")

    assert prediction.digit == 1
    assert store.get(record.id) == record
    assert record.source == "web" and record.digit == 1 and record.latency_ms > 0
    assert np.array_equal(record.model_input_array(), prediction.model_input)
    assert store.stats().total == 1


def test_a_blank_picture_raises_and_logs_nothing(store):
    with pytest.raises(EmptyImageError):
        predict_and_log(Predictor.load(), store, np.zeros((280, 280), np.uint8), source="api")

    assert store.stats().total == 0
