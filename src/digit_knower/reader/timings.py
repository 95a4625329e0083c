"""Where the reader's time goes, for whoever watches: the reader times its stages, and observers
registered here are told each one's seconds.

    timings.observe("model", histogram.observe)

Serving's Prometheus metrics register their histograms here (`serving/metrics.py`), so the reader
needs to know nothing of Prometheus or of serving. With no observer, a stage is not timed at all.

The stages: "preprocess", one picture made into its 28x28 inputs (timed whether it succeeds or
raises: a picture with no digit on it cost time too); "model", one ONNX Runtime run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal

Stage = Literal["preprocess", "model"]
Observer = Callable[[float], None]

# Tuples, replaced whole on every change: a thread timing a stage never sees one half-changed.
_observers: dict[Stage, tuple[Observer, ...]] = {"preprocess": (), "model": ()}


def observe(stage: Stage, observer: Observer) -> None:
    """From now on, call `observer(seconds)` after each `stage`, in this process (once, however
    often it is registered)."""
    if observer not in _observers[stage]:
        _observers[stage] = (*_observers[stage], observer)


def unobserve(stage: Stage, observer: Observer) -> None:
    """Stop calling `observer` after each `stage` (nothing happens if it was not registered)."""
    _observers[stage] = tuple(o for o in _observers[stage] if o != observer)


@contextmanager
def timed(stage: Stage) -> Iterator[None]:
    """Time the block as one `stage` and tell its observers, also when the block raises."""
    observers = _observers[stage]
    if not observers:
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        seconds = time.perf_counter() - started
        for observer in observers:
            observer(seconds)
