"""The one path from a picture to a logged prediction, shared by the web page and the API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from digit_knower.store import PredictionRecord, Store
from digit_knower.store.records import Source

if TYPE_CHECKING:
    from digit_knower.predictor import Prediction, Predictor


def predict_and_log(
    predictor: Predictor, store: Store, image: object, *, source: Source
) -> tuple[Prediction, PredictionRecord]:
    """Read the digit in `image`, and log the prediction with its latency.

    Bad or blank pictures raise `InvalidImageError` / `EmptyImageError` before anything is
    logged. An unreachable database raises nothing: the store keeps the record in its outbox.
    """
    started = time.perf_counter()
    prediction = predictor.predict(image)
    latency_ms = (time.perf_counter() - started) * 1000
    record = PredictionRecord.from_prediction(prediction, source=source, latency_ms=latency_ms)
    store.log_prediction(record)
    return prediction, record
