"""Callers on threads of their own, started in a known order, and a bounded wait for a condition.

callers = queue_in_order([lambda: writer.submit("b"), ...], lambda: writer.pending)
assert [caller.result() for caller in callers] == [None, ...]
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

HANG_GUARD_S = 60  # only so that a broken writer fails the test instead of hanging the suite


def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition` until it holds; fail, rather than hang, if it never does."""
    deadline = time.monotonic() + HANG_GUARD_S
    while not condition():
        assert time.monotonic() < deadline, "gave up waiting: the writer seems stuck"
        time.sleep(0.001)


class Caller(threading.Thread):
    """Submits one item on its own thread and keeps the outcome (None or the exception)."""

    def __init__(self, submit: Callable[[], None]) -> None:
        super().__init__(daemon=True)
        self._submit = submit
        self.outcome: BaseException | None = None

    def run(self) -> None:
        try:
            self._submit()
        except BaseException as err:
            self.outcome = err

    def result(self) -> BaseException | None:
        self.join(HANG_GUARD_S)
        assert not self.is_alive(), "the caller is still waiting for its write"
        return self.outcome


def start(submit: Callable[[], None]) -> Caller:
    """`submit` running on a thread of its own."""
    caller = Caller(submit)
    caller.start()
    return caller


def queue_in_order(submits: list[Callable[[], None]], pending: Callable[[], int]) -> list[Caller]:
    """Start one caller per submit, each only once the previous one is queued: a known order."""
    callers = []
    for submit in submits:
        already = pending()
        callers.append(start(submit))
        wait_until(lambda already=already: pending() == already + 1)
    return callers
