"""What both front ends (the web page and the API) do with the core: open the store, and go
from a picture to a logged prediction."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from digit_knower.store import DatabaseUnavailableError, PredictionRecord, Store
from digit_knower.store.records import Source

if TYPE_CHECKING:
    from digit_knower.predictor import Prediction, Predictor

log = logging.getLogger(__name__)


def open_store(url: str, outbox_path: Path | str) -> Store:
    """The store for a front end, its schema checked (the embedded SQLite is migrated).

    A database that is down right now does not stop the front end: it keeps predicting, and the
    store keeps every record in its outbox until the database is back. A database that needs
    `digit-knower db upgrade`, or a wrong URL, raises its one-line store error.
    """
    store = Store(url, outbox_path=outbox_path)
    try:
        store.ensure_schema()
    except DatabaseUnavailableError as exc:
        log.warning("database unreachable at start-up; predictions go to the outbox: %s", exc)
    except Exception:
        store.close()
        raise
    return store


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
