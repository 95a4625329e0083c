"""Group commit: many threads' writes, one transaction at a time, each caller waiting for its own.

Under load, a transaction per prediction costs the database a round trip for the pool's pre-ping,
one for the insert and one for the commit, and the API process the Python around each. Here every
caller hands its item to one writer thread and blocks until that item is settled; the writer takes
whatever has queued up meanwhile (up to `max_batch` items) and settles it with one call. At low
load a batch is a single item and the price is one thread hand-off; under load the batches grow
by themselves, with no timer and no added latency.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

# `settle` returns one outcome per item, in order: None when the item is kept, else the error its
# caller should get. An exception raised by `settle` itself goes to every caller in the batch.
Settle = Callable[[list[T]], Sequence[BaseException | None]]

_STOP = object()


class GroupCommit(Generic[T]):
    """One writer thread, started on the first `submit` and stopped by `close()`."""

    def __init__(self, settle: Settle[T], *, max_batch: int = 256, name: str = "group-commit") -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be 1 or more, not {max_batch}")
        self._settle = settle
        self.max_batch = max_batch
        self._name = name
        self._queue: queue.SimpleQueue[tuple[T, Future[None]] | object] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards starting and stopping the thread
        self._thread: threading.Thread | None = None

    def submit(self, item: T) -> None:
        """Block until `item` is settled; raise the error `settle` gave it, if any."""
        done: Future[None] = Future()
        with self._lock:
            # Under the lock, so that close() cannot stop the writer between the check and the put.
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put((item, done))
        done.result()

    @property
    def pending(self) -> int:
        """Items handed over and not yet taken by the writer (a snapshot)."""
        return self._queue.qsize()

    def close(self) -> None:
        """Settle everything already submitted, then stop the writer. A later submit starts a new one."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            if batch:
                self._settle_batch(batch)

    def _next_batch(self) -> tuple[list[tuple[T, Future[None]]], bool]:
        """Wait for one item, then take whatever else is queued already (never waiting for more)."""
        batch: list[tuple[T, Future[None]]] = []
        entry = self._queue.get()
        while entry is not _STOP:
            batch.append(entry)  # type: ignore[arg-type]
            if len(batch) == self.max_batch:
                return batch, False
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
        return batch, True

    def _settle_batch(self, batch: list[tuple[T, Future[None]]]) -> None:
        try:
            outcomes = list(self._settle([item for item, _ in batch]))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"settle gave {len(outcomes)} outcomes for {len(batch)} items")
        except BaseException as err:  # the writer must outlive any batch; its callers get the error
            log.exception("a group-commit batch of %d failed", len(batch))
            outcomes = [err] * len(batch)
        for (_, done), outcome in zip(batch, outcomes, strict=True):
            if outcome is None:
                done.set_result(None)
            else:
                done.set_exception(outcome)
