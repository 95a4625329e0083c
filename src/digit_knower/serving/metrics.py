"""Prometheus metrics: what the core and the front ends count, and what a process exposes.

Both front ends count the same things: predict_and_log.py counts predictions, and two histograms
here observe the reader's `timings` of the preprocessing and the model. The API adds its HTTP
requests (api/http_metrics.py). A process exposes `registry()`: GET /metrics on the API, a port
of its own for the web page.

With several uvicorn workers, each worker is a process with counters of its own. `digit-knower
api` then runs prometheus-client's multiprocess mode, its documented way for such servers: it
points PROMETHEUS_MULTIPROC_DIR at a fresh folder before the workers start (api/launch.py), each
worker writes its values to memory-mapped files there, and a scrape, whichever worker answers it,
adds them all up. So the figures are the whole server's, not one worker's. The outbox gauges are
read at scrape time from the outbox file, which all the workers of a server share.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from digit_knower.reader import timings

if TYPE_CHECKING:
    from digit_knower.reader.predictor import Prediction
    from digit_knower.store import Store

# Preprocessing a canvas takes some 0.3 ms here and the model some 0.1 ms; a huge upload, ~100 ms.
CORE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

PREDICTIONS = Counter(
    "digit_knower_predictions",
    "Predictions logged, per source (web: drawn on the page, upload: uploaded there, api) and verdict.",
    ["source", "verdict"],
)
DIGITS_READ = Counter(
    "digit_knower_digits_read",
    "Digits read, per front end and digit; a picture of several digits counts each of them.",
    ["source", "digit"],
)
PREPROCESS_SECONDS = Histogram(
    "digit_knower_preprocess_seconds",
    "Time to turn one picture into the model's 28x28 inputs (one per digit found).",
    buckets=CORE_BUCKETS,
)
MODEL_SECONDS = Histogram(
    "digit_knower_model_seconds",
    "Time of one ONNX Runtime run (one picture, or a batch of them).",
    buckets=CORE_BUCKETS,
)
# The reader knows nothing of Prometheus: it tells whoever observes its stages how long each took.
timings.observe("preprocess", PREPROCESS_SECONDS.observe)
timings.observe("model", MODEL_SECONDS.observe)
HTTP_REQUESTS = Counter(
    "digit_knower_http_requests",
    "HTTP requests answered, per method, route (its template) and status.",
    ["method", "route", "status"],
)
HTTP_SECONDS = Histogram(
    "digit_knower_http_request_duration_seconds",
    "Time to answer an HTTP request, per method, route (its template) and status.",
    ["method", "route", "status"],
    buckets=HTTP_BUCKETS,
)
# An info metric as Prometheus' conventions make one: value 1 for the version served now, 0 for one
# served before. `mostrecent`: across the workers of a server, the last value set wins, so a
# version swapped out reads 0 even in the files of a worker that has since exited.
SERVING_MODEL = Gauge(
    "digit_knower_model_info",
    "The model version this server serves (1), or served before (0).",
    ["version"],
    multiprocess_mode="mostrecent",
)


def count_prediction(prediction: Prediction, source: str) -> None:
    """Count one logged prediction: its verdict, and each digit it read."""
    PREDICTIONS.labels(source, prediction.verdict).inc()
    for digit in prediction.digits:
        DIGITS_READ.labels(source, str(digit)).inc()


_serving_lock = threading.Lock()
_serving: set[str] = set()


def serving_model(version: str) -> None:
    """Say which model version this process serves now (call again after a model swap)."""
    with _serving_lock:
        for previous in _serving - {version}:
            SERVING_MODEL.labels(previous).set(0)
        SERVING_MODEL.labels(version).set(1)
        _serving.add(version)


class OutboxGauges(Collector):
    """The outbox of the store this process writes to, read at scrape time."""

    def __init__(self) -> None:
        self._store: Store | None = None

    def watch(self, store: Store | None) -> None:
        self._store = store

    def collect(self) -> Iterator[GaugeMetricFamily]:
        store = self._store
        if store is None:
            return
        status = store.outbox_status()
        yield GaugeMetricFamily(
            "digit_knower_outbox_backlog",
            "Records waiting in the local outbox for the database (it was down, or refused them).",
            value=status.backlog,
        )
        yield GaugeMetricFamily(
            "digit_knower_outbox_foreign",
            "Records in the local outbox meant for another database (left alone; see `db outbox`).",
            value=status.foreign,
        )
        yield GaugeMetricFamily(
            "digit_knower_outbox_dead_letters",
            "Records the database refused for good, set aside in the outbox (see `db outbox`).",
            value=status.dead_letters,
        )
        problem = store.outbox_problem()
        yield GaugeMetricFamily(
            "digit_knower_local_storage_full",
            "1 while the outbox is at its cap or its disk is full: predictions the database cannot "
            "take get 503 'local storage full'.",
            value=int(problem is not None and problem.startswith("local storage full")),
        )


OUTBOX = OutboxGauges()
REGISTRY.register(OUTBOX)


def watch_store(store: Store | None) -> None:
    """Expose the outbox gauges of `store` (the one this process logs to); None: no outbox gauges."""
    OUTBOX.watch(store)


def is_multiprocess() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


@lru_cache(maxsize=1)
def registry() -> CollectorRegistry:
    """What this process exposes: its own metrics, or in multiprocess mode those of every worker."""
    if not is_multiprocess():
        return REGISTRY
    combined = CollectorRegistry()
    MultiProcessCollector(combined)
    combined.register(OUTBOX)
    return combined
