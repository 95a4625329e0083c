"""What both front ends (the web page and the API) do with the core: open the store, and go
from a picture to a logged prediction."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from digit_knower.reader.picture import decoding_cost
from digit_knower.serving import metrics
from digit_knower.store import DatabaseUnavailableError, PredictionRecord, Store
from digit_knower.store.records import Source

if TYPE_CHECKING:
    from digit_knower.reader.predictor import Prediction, Predictor

log = logging.getLogger(__name__)

# A 512x512 picture is read in about 2.3 ms here (a 280x280 canvas in 1.1): see predict_and_log_async.
# The cost is counted in pixel passes (picture.decoding_cost): a progressive JPEG's scans count too.
INLINE_MAX_COST = 512 * 512
# Costlier pictures are read on at most this many threads per process: each may hold a decoded
# 16-megapixel picture (up to 64 MB), so eight hostile uploads at once wait in line instead of
# taking half a gigabyte and every core.
HEAVY_READERS = 2

_heavy_pool: ThreadPoolExecutor | None = None
_heavy_pool_lock = threading.Lock()


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
    predictor: Predictor, store: Store, image: object, *, source: Source, owner: str | None = None
) -> tuple[Prediction, PredictionRecord]:
    """Read the digit in `image`, and log the prediction with its latency and its `owner` (an API
    key's name, or "page:<session>").

    Bad or blank pictures raise `InvalidImageError` / `EmptyImageError` before anything is
    logged. An unreachable database raises nothing: the store keeps the record in its outbox.
    """
    started = time.perf_counter()
    prediction = predictor.predict(image)
    record = new_record(prediction, started, source, owner=owner)
    store.log_prediction(record)
    metrics.count_prediction(prediction, source)
    return prediction, record


async def predict_and_log_async(
    predictor: Predictor, store: Store, image: object, *, source: Source, owner: str | None = None
) -> tuple[Prediction, PredictionRecord]:
    """`predict_and_log` for an event loop (the API): it never holds the loop up for long, and
    waits for the database without holding a thread."""
    started = time.perf_counter()
    prediction = await predict_async(predictor, image)
    record = new_record(prediction, started, source, owner=owner)
    await store.log_prediction_async(record)
    metrics.count_prediction(prediction, source)
    return prediction, record


async def predict_async(predictor: Predictor, image: object) -> Prediction:
    """`predictor.predict(image)` for an event loop, which it never holds up for long.

    A picture that costs up to INLINE_MAX_COST pixel passes is read on the loop itself: a 280x280
    canvas takes about a millisecond, and a hand-off to a worker thread cost some 0.2 ms of CPU
    more per request under load (bench/api_load.py), with no gain: the GIL lets only one of them
    run at a time. A costlier one (many pixels, or a progressive JPEG's many scans), up to a few
    hundred milliseconds of decoding, goes to one of HEAVY_READERS threads, so that the loop keeps
    answering other requests meanwhile (Pillow decodes without holding the GIL).
    """
    if decoding_cost(image) <= INLINE_MAX_COST:
        return predictor.predict(image)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_heavy_readers(), predictor.predict, image)


def _heavy_readers() -> ThreadPoolExecutor:
    global _heavy_pool
    with _heavy_pool_lock:
        if _heavy_pool is None:
            _heavy_pool = ThreadPoolExecutor(HEAVY_READERS, thread_name_prefix="heavy-picture")
        return _heavy_pool


def new_record(
    prediction: Prediction,
    started: float,
    source: Source,
    record_id: uuid.UUID | None = None,
    *,
    owner: str | None = None,
) -> PredictionRecord:
    """The record of `prediction`, read since `started` (time.perf_counter()); `record_id`: the id
    to log it under (default: a new UUIDv7); `owner`: who asked."""
    latency_ms = (time.perf_counter() - started) * 1000
    record = PredictionRecord.from_prediction(prediction, source=source, latency_ms=latency_ms, owner=owner)
    return record if record_id is None else record.model_copy(update={"id": record_id})
