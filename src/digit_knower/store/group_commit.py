"""Group commit: many callers' writes, one transaction at a time, each caller waiting for its own.

Under load, a transaction per prediction costs the database a round trip or more, and the API
process the Python around each plus a thread hand-off. Here every caller hands its item to one
writer thread and waits until that item is settled; the writer takes whatever has queued up
meanwhile and settles it with one call (in chunks of at most `max_batch`). Threads call `submit`,
which blocks. An event loop's tasks await `submit_async` instead: the items they submit in one
turn of the loop go to the writer together at the end of that turn, so a busy loop makes batches
even when the writer keeps up. At low load a batch is a single item and the price is one hand-off;
under load the batches grow by themselves, with no timer and no added latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")
Outcome = BaseException | None  # None: the item is kept; else the error its caller gets

# `settle` returns one outcome per item, in order. An exception raised by `settle` itself goes to
# every caller in the batch.
Settle = Callable[[list[T]], Sequence[Outcome]]

_STOP = object()


class GroupCommit(Generic[T]):
    """One writer thread, started on the first hand-over and stopped by `close()`."""

    def __init__(self, settle: Settle[T], *, max_batch: int = 256, name: str = "group-commit") -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be 1 or more, not {max_batch}")
        self._settle = settle
        self.max_batch = max_batch
        self._name = name
        # Each entry is a hand-over: items, and the future of their outcomes.
        self._queue: queue.SimpleQueue[tuple[list[T], Future[list[Outcome]]] | object] = queue.SimpleQueue()
        self._lock = threading.Lock()  # guards starting and stopping the thread
        self._thread: threading.Thread | None = None
        # The items each event loop gathered in its current turn, with their callers' futures.
        self._gathered: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[Outcome]]]] = {}

    def submit(self, item: T) -> None:
        """Block until `item` is settled; raise the error `settle` gave it, if any."""
        (outcome,) = self._hand_over([item]).result()
        if outcome is not None:
            raise outcome

    async def submit_async(self, item: T) -> None:
        """`submit` for an event loop, which it never blocks.

        A caller that stops waiting (its task cancelled: a client hung up) does not take its item
        back: the item is settled all the same.
        """
        loop = asyncio.get_running_loop()
        gathered = self._gathered.get(loop)
        if gathered is None:
            gathered = self._gathered[loop] = []
            loop.call_soon(self._hand_over_gathered, loop)  # runs after this turn's other tasks
        waiter: asyncio.Future[Outcome] = loop.create_future()
        gathered.append((item, waiter))
        outcome = await waiter
        if outcome is not None:
            raise outcome

    @property
    def pending(self) -> int:
        """Hand-overs queued and not yet taken by the writer (a snapshot); `submit` hands over
        one item at a time."""
        return self._queue.qsize()

    def close(self) -> None:
        """Settle everything already handed over, then stop the writer. A later hand-over starts a
        new one."""
        with self._lock:
            thread, self._thread = self._thread, None
            if thread is None:
                return
            self._queue.put(_STOP)
        thread.join()

    def _hand_over(self, items: list[T]) -> Future[list[Outcome]]:
        done: Future[list[Outcome]] = Future()
        with self._lock:
            # Under the lock, so that close() cannot stop the writer between the check and the put.
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            self._queue.put((items, done))
        return done

    def _hand_over_gathered(self, loop: asyncio.AbstractEventLoop) -> None:
        gathered = self._gathered.pop(loop)
        done = self._hand_over([item for item, _ in gathered])

        def wake_loop(done: Future[list[Outcome]]) -> None:  # on the writer thread
            # RuntimeError: the loop was closed meanwhile, so nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, gathered, done.result())

        done.add_done_callback(wake_loop)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            entries, stopping = self._next_entries()
            if entries:
                self._settle_entries(entries)

    def _next_entries(self) -> tuple[list[tuple[list[T], Future[list[Outcome]]]], bool]:
        """Wait for one hand-over, then take whatever else is queued already (never waiting for
        more), up to max_batch items."""
        entries: list[tuple[list[T], Future[list[Outcome]]]] = []
        taken = 0
        entry = self._queue.get()
        while entry is not _STOP:
            entries.append(entry)  # type: ignore[arg-type]
            taken += len(entry[0])  # type: ignore[index]
            if taken >= self.max_batch:
                return entries, False
            try:
                entry = self._queue.get_nowait()
            except queue.Empty:
                return entries, False
        return entries, True

    def _settle_entries(self, entries: list[tuple[list[T], Future[list[Outcome]]]]) -> None:
        items = [item for entry_items, _ in entries for item in entry_items]
        outcomes: list[Outcome] = []
        for start in range(0, len(items), self.max_batch):
            outcomes += self._settle_batch(items[start : start + self.max_batch])
        for entry_items, done in entries:
            done.set_result(outcomes[: len(entry_items)])
            del outcomes[: len(entry_items)]

    def _settle_batch(self, batch: list[T]) -> list[Outcome]:
        try:
            outcomes = list(self._settle(batch))
            if len(outcomes) != len(batch):
                raise RuntimeError(f"settle gave {len(outcomes)} outcomes for {len(batch)} items")
        except BaseException as err:  # the writer must outlive any batch; its callers get the error
            log.exception("a group-commit batch of %d failed", len(batch))
            outcomes = [err] * len(batch)
        return outcomes


def _resolve(gathered: list[tuple[T, asyncio.Future[Outcome]]], outcomes: list[Outcome]) -> None:
    """On the loop: give each waiting caller its outcome."""
    for (_, waiter), outcome in zip(gathered, outcomes, strict=True):
        if not waiter.done():  # a cancelled caller's item was settled all the same
            waiter.set_result(outcome)
