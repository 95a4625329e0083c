"""The shared path from a picture to a logged prediction (used by the web page and the API)."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from digit_knower import EmptyImageError, Prediction, Predictor
from digit_knower.reader.picture import decoding_cost, pixel_count
from digit_knower.serving.predict_and_log import INLINE_MAX_COST, predict_and_log, predict_and_log_async
from tests.support.api import blank_png, drawn_one
from tests.support.hostile_pictures import scan_bomb


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


class ThreadSpy:
    """A Predictor that notes which thread each picture is read on."""

    def __init__(self) -> None:
        self.predictor = Predictor.load()
        self.threads: list[threading.Thread] = []

    def predict(self, image: object) -> Prediction:
        self.threads.append(threading.current_thread())
        return self.predictor.predict(image)


def test_the_event_loop_path_reads_a_canvas_on_the_loop_and_logs_it(store):
    spy = ThreadSpy()
    prediction, record = asyncio.run(predict_and_log_async(spy, store, drawn_one(), source="api"))

    assert prediction.digit == 1
    assert store.get(record.id) == record
    assert record.source == "api" and record.latency_ms > 0
    assert spy.threads == [threading.main_thread()]  # no hand-off for a small picture


def test_the_event_loop_path_reads_a_large_picture_on_a_worker_thread(store):
    """Decoding megapixels takes tens of milliseconds: the loop must go on serving meanwhile."""
    large = drawn_one(size=1000)
    assert decoding_cost(large) > INLINE_MAX_COST
    spy = ThreadSpy()
    prediction, record = asyncio.run(predict_and_log_async(spy, store, large, source="api"))

    assert prediction.digit == 1
    assert store.get(record.id) == record
    assert len(spy.threads) == 1 and spy.threads[0] is not threading.main_thread()


def test_the_event_loop_path_reads_a_small_but_costly_picture_on_a_worker_thread(store):
    """Pixels alone do not tell the cost: each scan of a progressive JPEG is a pass over them all."""
    costly = scan_bomb(40)  # 512x512, 40 scans: under the refusal limit, yet 40 passes
    assert pixel_count(costly) <= INLINE_MAX_COST < decoding_cost(costly)
    spy = ThreadSpy()
    with pytest.raises(EmptyImageError):  # a flat grey square: read in full, and found blank
        asyncio.run(predict_and_log_async(spy, store, costly, source="api"))

    assert len(spy.threads) == 1 and spy.threads[0] is not threading.main_thread()


def test_the_event_loop_path_raises_for_a_blank_picture_and_logs_nothing(store):
    with pytest.raises(EmptyImageError):
        asyncio.run(predict_and_log_async(Predictor.load(), store, blank_png(), source="api"))

    assert store.stats().total == 0
