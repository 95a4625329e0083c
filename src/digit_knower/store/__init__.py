"""The prediction log and model metrics: PostgreSQL, or an embedded SQLite file by default.

store = Store.from_settings()
store.ensure_schema()
store.log_prediction(PredictionRecord.from_prediction(pred, source="web", latency_ms=1.2))
"""

from digit_knower.store.deployments import Deployment, Feedback, RegisteredModel
from digit_knower.store.errors import (
    DatabaseConfigError,
    DatabaseError,
    DatabaseUnavailableError,
    InvalidLabelError,
    InvalidModelCardError,
    NothingToRollBackError,
    OutboxError,
    SchemaOutOfDateError,
    UnknownModelError,
    UnknownOutboxEntryError,
    UnknownPredictionError,
)
from digit_knower.store.ids import uuid7
from digit_knower.store.records import DigitStats, ModelStats, PredictionRecord, Stats
from digit_knower.store.repository import Store

__all__ = [
    "DatabaseConfigError",
    "DatabaseError",
    "DatabaseUnavailableError",
    "Deployment",
    "DigitStats",
    "Feedback",
    "InvalidLabelError",
    "InvalidModelCardError",
    "ModelStats",
    "NothingToRollBackError",
    "OutboxError",
    "PredictionRecord",
    "RegisteredModel",
    "SchemaOutOfDateError",
    "Stats",
    "Store",
    "UnknownModelError",
    "UnknownOutboxEntryError",
    "UnknownPredictionError",
    "uuid7",
]
