"""Start-up, written once for both front ends: the live model and the one store of a process.

The page (`web/app.py`, once per server process) and the API (`api/app.py`, once per worker)
both call `build_services`, and serve through what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from digit_knower import Predictor
from digit_knower.serving import metrics
from digit_knower.serving.idempotency import predict_and_log_once_async
from digit_knower.serving.live_model import LiveModel
from digit_knower.serving.predict_and_log import open_store, predict_and_log_async
from digit_knower.serving.registry import Registry
from digit_knower.settings import Settings, get_settings
from digit_knower.store import PredictionRecord, Store
from digit_knower.store.idempotency_keys import IdempotencyKeys

# A decoded upload (bytes) or the 28x28 grey levels of the `pixels` form.
ImageInput = bytes | np.ndarray


@dataclass(frozen=True)
class Services:
    """What a front end serves with: the model serving now, and the store that logs its answers."""

    model: LiveModel
    store: Store

    @property
    def predictor(self) -> Predictor:
        """The model serving now (swapped without a restart when another version is deployed)."""
        return self.model.predictor

    async def predict_and_log(
        self, image: ImageInput, idempotency_key: str | None = None, *, owner: str | None = None
    ) -> tuple[PredictionRecord, bool]:
        """The API's path: read the digit and log it with source 'api', with the version that
        read it and its `owner` (the key's name): (the record, True when it is the answer an
        earlier request with the same idempotency key got, and nothing new was logged)."""
        predictor = self.predictor  # one model for the whole request, even if a swap comes meanwhile
        if idempotency_key is not None:
            return await predict_and_log_once_async(
                predictor, self.store, self.keys, image, key=idempotency_key, source="api", owner=owner
            )
        _, record = await predict_and_log_async(predictor, self.store, image, source="api", owner=owner)
        return record, False

    @cached_property
    def keys(self) -> IdempotencyKeys:
        return IdempotencyKeys(self.store)

    @property
    def card(self) -> dict[str, Any]:
        """The serving model's card."""
        return self.predictor.card

    def close(self) -> None:
        """Stop the model checks, then finish logging and release the database."""
        self.model.stop()
        self.store.close()

    def readiness(self) -> dict[str, Any]:
        """Ready means "can answer predictions": the model is loaded (it is, once the process
        serves) and the outbox can be written. A database that is down only degrades: every
        prediction is still answered and kept in the outbox, so a load balancer must not take
        every replica out of rotation because of it."""
        problem = self.store.outbox_problem()
        writable = problem is None
        reachable = self.store.is_reachable()
        waiting = self.store.outbox_status()
        return {
            "ready": writable,
            "degraded": not reachable or any((waiting.backlog, waiting.foreign, waiting.dead_letters)),
            "model_loaded": True,
            "model_version": self.predictor.model_version,
            "outbox_writable": writable,
            "local_storage_full": store_is_full(problem),
            # Words only, never the path nor the error: /readyz needs no key.
            "detail": _readiness_detail(problem),
            "database_reachable": reachable,
            "outbox_backlog": waiting.backlog,
            "outbox_foreign": waiting.foreign,
            "outbox_dead_letters": waiting.dead_letters,
        }


def store_is_full(problem: str | None) -> bool:
    """Whether an outbox problem (`Store.outbox_problem`) is that local storage is full."""
    return problem is not None and problem.startswith("local storage full")


def _readiness_detail(problem: str | None) -> str | None:
    if problem is None:
        return None
    return "local storage full" if store_is_full(problem) else "the local outbox cannot be written"


def build_services(settings: Settings | None = None) -> Services:
    """Load the model and open the store; a database that is down does not stop the front end.

    In order: the shipped model (without a model, nothing else matters), the store (its schema
    checked, its flusher started), the shipped model registered as a version, the store's outbox
    watched by the metrics, and the live model, serving the deployed version from the first
    request on and checking for another every DIGIT_KNOWER_MODEL_REFRESH_S seconds.

    Raises ModelNotFoundError when the model folder cannot be loaded, SchemaOutOfDateError when
    PostgreSQL needs `digit-knower db upgrade` (serving would write rows the schema cannot hold),
    and DatabaseConfigError for a wrong DATABASE_URL (it will not fix itself): each says what to
    do in one line.
    """
    settings = settings or get_settings()
    registry = Registry.from_settings(settings)
    shipped = registry.baseline
    store = open_store(settings.effective_database_url, settings.outbox_path)
    # Queued in the outbox too while the database is away, ahead of the predictions that cite it.
    store.register_model(shipped.card)
    metrics.watch_store(store)
    model = LiveModel(registry, store, settings.model_refresh_s).start()
    return Services(model=model, store=store)
