"""LiveModel: the Predictor a serving process uses now, swapped when another version is deployed.

    live = LiveModel(registry, store, refresh_s=10).start()
    predictor = live.predictor        # read once per request: that model makes the prediction

Every `refresh_s` seconds a background thread asks the database which version should serve. When
it differs from the one serving, the new Predictor is built completely first (its ONNX session
loaded), and only then does one reference change. A request holds the Predictor it read at its
start, so a swap never fails nor drops a request, and each prediction logs the version that
really made it. A version whose folder is missing or corrupt is not served: the process keeps the
model it has and logs why (once per version and reason), and tries again at the next check.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from digit_knower.reader.predictor import ModelNotFoundError, Predictor
from digit_knower.serving import metrics
from digit_knower.serving.registry import Registry
from digit_knower.store import DatabaseError, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServingStatus:
    """What this process serves, and what the database wants it to serve."""

    serving: str  # the version answering this process's requests
    deployed: str | None  # the version the database names (None: nothing deployed, or not read yet)
    problem: str | None  # why `deployed` is not served here, when it is not
    checked_at: float | None  # time.time() of the last successful check


class LiveModel:
    """The serving Predictor of one process, kept in step with the deployments table."""

    def __init__(self, registry: Registry, store: Store, refresh_s: float) -> None:
        self._registry = registry
        self._store = store
        self.refresh_s = refresh_s
        self._predictor = registry.baseline
        self._status = ServingStatus(self._predictor.model_version, None, None, None)
        metrics.serving_model(self._predictor.model_version)
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def predictor(self) -> Predictor:
        """The model serving now. Read it once per request, and use that one throughout."""
        return self._predictor

    @property
    def registry(self) -> Registry:
        return self._registry

    @property
    def status(self) -> ServingStatus:
        return self._status

    def refresh(self) -> bool:
        """Ask the database which version should serve, and swap to it; True when it swapped.

        An unreachable database changes nothing (the store logs the outage): keep serving.
        """
        with self._refresh_lock:
            try:
                deployed = self._store.serving_version()
            except DatabaseError as err:
                log.debug("model check skipped, the database cannot be read: %s", err)
                return False
            wanted = deployed or self._registry.baseline_version
            current = self._predictor
            if wanted == current.model_version:
                self._status = ServingStatus(wanted, deployed, None, time.time())
                return False
            try:
                fresh = self._registry.load(wanted)
            except ModelNotFoundError as err:
                problem = f"cannot serve model {wanted}, keeping {current.model_version}: {err}"
                if problem != self._status.problem:
                    log.error("%s", problem)
                self._status = ServingStatus(current.model_version, deployed, problem, time.time())
                return False
            self._predictor = fresh  # the swap: one reference, after the new model is fully built
            self._status = ServingStatus(wanted, deployed, None, time.time())
            metrics.serving_model(wanted)
            log.warning("now serving model %s (was %s)", wanted, current.model_version)
            return True

    def start(self) -> LiveModel:
        """Check now, then every refresh_s seconds on a daemon thread, until `stop()`."""
        self.refresh()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="model-refresh", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.refresh_s):
            try:
                self.refresh()
            except Exception:  # a bug here must not end the checks: log it, try again next time
                log.exception("the model check failed")
