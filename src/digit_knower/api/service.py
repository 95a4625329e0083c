"""The live model and the one store of an API process, and what the routes ask of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from digit_knower import Predictor
from digit_knower.lifecycle.serving import LiveModel
from digit_knower.service import predict_and_log_async
from digit_knower.store import PredictionRecord, Store

# A decoded upload (bytes) or the 28x28 grey levels of the `pixels` form.
ImageInput = bytes | np.ndarray


@dataclass(frozen=True)
class Services:
    model: LiveModel
    store: Store

    @property
    def predictor(self) -> Predictor:
        """The model serving now (swapped without a restart when another version is deployed)."""
        return self.model.predictor

    async def predict_and_log(self, image: ImageInput) -> PredictionRecord:
        """Read the digit and log it with source 'api', and with the version that read it."""
        _, record = await predict_and_log_async(self.predictor, self.store, image, source="api")
        return record

    @property
    def card(self) -> dict[str, Any]:
        """The serving model's card."""
        return self.predictor.card

    def close(self) -> None:
        """Stop the model checks, then finish logging and release the database."""
        self.model.stop()
        self.store.close()

    def readiness(self) -> dict[str, Any]:
        reachable = self.store.is_reachable()
        return {
            "ready": reachable,
            "model_loaded": True,
            "model_version": self.predictor.model_version,
            "database_reachable": reachable,
            "outbox_backlog": self.store.outbox_backlog(),
        }
