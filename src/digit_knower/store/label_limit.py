"""How fast one key, or one page session, may label: a token bucket per labeller, in this process.

A person labels a drawing every few seconds; a script that relabels thousands of predictions is
what the limit is for. Each labeller may give DIGIT_KNOWER_LABELS_PER_MINUTE labels a minute, in
bursts of as many. The buckets live in the process: with N replicas a labeller spread over all of
them gets up to N times the rate, still far from the thousands a minute a script would send.
Retraining's trust rule (`lifecycle.feedback`) is what keeps labels out of the model; this only
keeps one labeller from flooding the store.

    check_label_rate("page:3f2a...")   # raises LabelRateLimitedError(retry_after_s) when too fast
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from digit_knower.store.errors import DatabaseError

# Buckets kept at once; the least recently used one goes first (it would be full again anyway
# after a minute idle, so forgetting it loses nothing).
MAX_LABELLERS = 10_000


class LabelRateLimitedError(DatabaseError):
    """Too many labels from one labeller; `retry_after_s` says when the next one is taken."""

    def __init__(self, who: str, per_minute: float, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        self.who = who
        super().__init__(
            f"too many labels: at most {per_minute:g} a minute for each key or page visitor; "
            f"try again in {math.ceil(retry_after_s)} s"
        )


class LabelRateLimiter:
    """Token buckets, one per labeller, each holding up to `per_minute` labels. Thread-safe."""

    def __init__(self, per_minute: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # who -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, who: str) -> None:
        """Count one label by `who`; LabelRateLimitedError when its bucket is empty."""
        if self.per_minute <= 0:  # 0: no limit
            return
        now, rate = self._clock(), self.per_minute / 60.0
        with self._lock:
            tokens, at = self._buckets.pop(who, (self.per_minute, now))
            tokens = min(self.per_minute, tokens + (now - at) * rate)
            if tokens < 1:
                self._buckets[who] = (tokens, now)
                raise LabelRateLimitedError(who, self.per_minute, (1 - tokens) / rate)
            self._buckets[who] = (tokens - 1, now)
            while len(self._buckets) > MAX_LABELLERS:
                self._buckets.popitem(last=False)


_limiter: LabelRateLimiter | None = None
_limiter_lock = threading.Lock()


def check_label_rate(who: str) -> None:
    """Count one label by `who` (an API key's name, or "page:<session>") against the process's
    limit, DIGIT_KNOWER_LABELS_PER_MINUTE; LabelRateLimitedError when it labels too fast."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            from digit_knower.settings import get_settings

            _limiter = LabelRateLimiter(get_settings().labels_per_minute)
        limiter = _limiter
    limiter.take(who)


def reset_label_rate() -> None:
    """Forget every bucket and the limit read (tests, and a settings change)."""
    global _limiter
    with _limiter_lock:
        _limiter = None
