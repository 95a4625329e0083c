"""What both front ends (the web page and the API) do with the core: open the store, and go
from a picture to a logged prediction."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from digit_knower import metrics
from digit_knower.preprocess import pixel_count
from digit_knower.store import DatabaseUnavailableError, PredictionRecord, Store
from digit_knower.store.records import Source

if TYPE_CHECKING:
    from digit_knower.predictor import Prediction, Predictor

log = logging.getLogger(__name__)

# A 512x512 picture is read in about 2.3 ms here (a 280x280 canvas in 1.1): see predict_and_log_async.
INLINE_MAX_PIXELS = 512 * 512


def open_store(url: str, outbox_path: Path | str) -> Store:
    """The store for a front end, its schema checked (the embedded SQLite is migrated), with its
    background flusher running.

    A database that is down right now does not stop the front end: it keeps predicting, and the
    store keeps every record in its outbox until the database is back, when the flusher writes
    them with no request needed. A database that needs `digit-knower db upgrade`, or a wrong URL,
    raises its one-line store error.
    """
    store = Store(url, outbox_path=outbox_path)
    try:
        store.ensure_schema()
    except DatabaseUnavailableError as exc:
        log.warning("database unreachable at start-up; predictions go to the outbox: %s", exc)
    except Exception:
        store.close()
        raise
    store.start_flusher()
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
    record = _record(prediction, started, source)
    store.log_prediction(record)
    metrics.count_prediction(prediction, source)
    return prediction, record


async def predict_and_log_async(
    predictor: Predictor, store: Store, image: object, *, source: Source
) -> tuple[Prediction, PredictionRecord]:
    """`predict_and_log` for an event loop (the API): it never holds the loop up for long, and
    waits for the database without holding a thread.

    A picture of up to INLINE_MAX_PIXELS is read on the loop itself: a 280x280 canvas takes about
    a millisecond, and a hand-off to a worker thread cost some 0.2 ms of CPU more per request
    under load (bench/api_load.py), with no gain: the GIL lets only one of them run at a time. A
    larger picture, up to some 100 ms of decoding, goes to a worker thread so that the loop keeps
    answering other requests meanwhile.
    """
    started = time.perf_counter()
    if pixel_count(image) <= INLINE_MAX_PIXELS:
        prediction = predictor.predict(image)
    else:
        prediction = await asyncio.to_thread(predictor.predict, image)
    record = _record(prediction, started, source)
    await store.log_prediction_async(record)
    metrics.count_prediction(prediction, source)
    return prediction, record


def _record(prediction: Prediction, started: float, source: Source) -> PredictionRecord:
    latency_ms = (time.perf_counter() - started) * 1000
    return PredictionRecord.from_prediction(prediction, source=source, latency_ms=latency_ms)
