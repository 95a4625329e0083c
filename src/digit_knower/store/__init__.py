"""The prediction log and model metrics: PostgreSQL, or an embedded SQLite file by default.

store = Store.from_settings()
store.ensure_schema()
store.log_prediction(PredictionRecord.from_prediction(pred, source="web", latency_ms=1.2))

`Store` and the deployment types (SQLAlchemy) are imported on first use, so that what only names
the package, such as `digit-knower --help` reaching `store.db_command`, stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from digit_knower.store.deployments import Deployment, Feedback, RegisteredModel
    from digit_knower.store.repository import Store

_HEAVY = {
    "Deployment": "digit_knower.store.deployments",
    "Feedback": "digit_knower.store.deployments",
    "RegisteredModel": "digit_knower.store.deployments",
    "Store": "digit_knower.store.repository",
}

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


def __getattr__(name: str) -> Any:
    if name not in _HEAVY:
        raise AttributeError(f"module 'digit_knower.store' has no attribute {name!r}")
    value = getattr(import_module(_HEAVY[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
