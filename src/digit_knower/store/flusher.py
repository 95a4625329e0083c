"""The background flusher: one thread per store that writes the outbox to the database once the
database takes writes again, with no request needed.

While nothing waits, it sleeps. A record this process queues wakes it, and every IDLE_CHECK_S it
looks at the file for entries another process left there (one that was killed, say). While
entries wait, it tries again when the store's retry pause ends. So the backlog lands within one
pause (at most `Store(retry_at_most_s=...)`) of the database coming back, in a quiet night too.

`close()` stops it between two batches. At interpreter exit every flusher still running is
stopped as well: the web page never closes its store, and the thread should not be cut off in
the middle of a database call.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable

log = logging.getLogger(__name__)

# How often an idle flusher looks for entries queued by other processes. Its own are seen at once.
IDLE_CHECK_S = 30.0
# After an unexpected error in a pass (a bug, a broken outbox file): wait this long, then retry.
ERROR_PAUSE_S = 5.0
# The longest close() waits for a pass in progress (a connect attempt, one batch).
CLOSE_TIMEOUT_S = 15.0

# One pass: given "should I stop?", flush what it can; return the seconds until the next pass, or
# None when nothing waits (sleep until woken, or until the next idle check).
FlushPass = Callable[[Callable[[], bool]], float | None]


class Flusher:
    """A daemon thread running `flush_pass` whenever there may be work; started at creation."""

    def __init__(self, flush_pass: FlushPass, *, name: str, idle_check_s: float = IDLE_CHECK_S) -> None:
        self._flush_pass = flush_pass
        self.idle_check_s = idle_check_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        # True while the thread would sleep until woken: only then does a queued record wake it.
        # While entries wait, the next pass is already set, and each record of an outage need not
        # wake the thread (that would cost a thread switch per request).
        self._idle = True
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        _running.add(self)
        self._thread.start()

    def wake(self) -> None:
        """Something was queued: run a pass now, unless one is already set."""
        if self._idle:
            self._wake.set()

    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the thread: at once if it sleeps, after the current batch if it is flushing."""
        self._stop.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
        if self._thread.is_alive():
            log.warning("the outbox flusher did not stop within %.0f s; it is left to end", timeout_s)
        _running.discard(self)

    def _run(self) -> None:
        while not self._stop.is_set():
            # Idle from here: a record queued during this pass wakes the thread again at once.
            self._idle = True
            try:
                pause = self._flush_pass(self.stopping)
            except Exception:
                log.exception("flushing the outbox failed; trying again in %.0f s", ERROR_PAUSE_S)
                pause = ERROR_PAUSE_S
            if pause is not None:
                self._idle = False
            self._wake.wait(self.idle_check_s if pause is None else pause)
            self._wake.clear()


_running: weakref.WeakSet[Flusher] = weakref.WeakSet()


@atexit.register
def _stop_all() -> None:
    for flusher in list(_running):
        flusher.close()
