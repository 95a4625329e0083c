"""The database tables (SQLAlchemy 2.0), portable across PostgreSQL and SQLite.

The migrations in `migrations/versions/` create exactly these; `tests/store/test_migrations.py`
checks that the two agree.

Each mapped class is named for a row of its table (`PredictionRow`, `DeploymentRow`, ...), so that
it never reads as the reader's `Prediction` or the `Deployment` that `store.deployments` returns.
The store's queries use the tables themselves, named at the end (`predictions`, `deployments`, ...).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints, so that a violation says which rule was broken and migrations can refer to them.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (indexable, compact), JSON text on SQLite.
Json = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ModelVersionRow(Base):
    """One trained model: the columns people query, and the whole card for everything else."""

    __tablename__ = "model_versions"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    architecture: Mapped[str | None] = mapped_column(String(200))
    parameters: Mapped[int | None] = mapped_column(Integer)
    test_accuracy: Mapped[float | None] = mapped_column(Float)
    val_accuracy: Mapped[float | None] = mapped_column(Float)
    per_class_accuracy: Mapped[list[float] | None] = mapped_column(Json)
    hyperparameters: Mapped[dict[str, Any] | None] = mapped_column(Json)
    train_seconds: Mapped[float | None] = mapped_column(Float)
    data_sha256: Mapped[dict[str, Any] | None] = mapped_column(Json)
    card: Mapped[dict[str, Any]] = mapped_column(Json)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PredictionRow(Base):
    """One prediction. `model_version` is deliberately not a foreign key: a prediction made while the
    database was down (so its model could not be registered yet) must never be refused later."""

    __tablename__ = "predictions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(8))
    model_version: Mapped[str] = mapped_column(String(64))
    digit: Mapped[int] = mapped_column(SmallInteger)
    confidence: Mapped[float] = mapped_column(Float)
    probabilities: Mapped[list[float]] = mapped_column(Json)
    # Null once pruned (`db prune`, DIGIT_KNOWER_RETENTION_DAYS): the picture goes, the figures stay.
    model_input: Mapped[bytes | None] = mapped_column(LargeBinary)
    latency_ms: Mapped[float] = mapped_column(Float)
    true_label: Mapped[int | None] = mapped_column(SmallInteger)
    labelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Null in rows logged before the reader gave verdicts (migration 0002).
    verdict: Mapped[str | None] = mapped_column(String(16))
    digits: Mapped[list[int] | None] = mapped_column(Json)
    # Who made the prediction and who gave its label: an API key's name, "page:<session>", or the
    # admin key's DIGIT_KNOWER_API_KEY. Null in rows logged before migration 0005.
    owner: Mapped[str | None] = mapped_column(String(100))
    labelled_by: Mapped[str | None] = mapped_column(String(100))
    # Several digits: the 28x28 picture of each digit, left to right, 784 bytes each (`model_input`
    # is the first one's). Null for one digit, in rows logged before migration 0006, and once pruned.
    part_inputs: Mapped[bytes | None] = mapped_column(LargeBinary)

    __table_args__ = (
        CheckConstraint("digit BETWEEN 0 AND 9", name="digit_0_9"),
        CheckConstraint("true_label BETWEEN 0 AND 9", name="true_label_0_9"),
        CheckConstraint("source IN ('web', 'api', 'upload')", name="source"),
        CheckConstraint("confidence BETWEEN 0 AND 1", name="confidence_0_1"),
        CheckConstraint("latency_ms >= 0", name="latency_ms"),
        CheckConstraint("length(model_input) = 784", name="model_input_784"),
        CheckConstraint("length(part_inputs) > 0 AND length(part_inputs) % 784 = 0", name="part_inputs_784"),
        CheckConstraint("(true_label IS NULL) = (labelled_at IS NULL)", name="labelled_at_with_label"),
        CheckConstraint("verdict IN ('digit', 'unsure', 'not_a_digit', 'several_digits')", name="verdict"),
        # recent(): newest first.
        Index("ix_predictions_created_at", "created_at"),
        # recent(labelled=True): only the labelled rows, newest first.
        Index(
            "ix_predictions_labelled_created_at",
            "created_at",
            postgresql_where=text("true_label IS NOT NULL"),
            sqlite_where=text("true_label IS NOT NULL"),
        ),
        # stats(): one GROUP BY over these four columns, answered from the index alone.
        Index("ix_predictions_stats", "model_version", "true_label", "digit", "verdict"),
        # recent(owner=...): one client's own rows, newest first.
        Index("ix_predictions_owner_created_at", "owner", "created_at"),
    )


class ApiKeyRow(Base):
    """One scoped API key (`digit-knower keys create`). Only the SHA-256 of the key is kept: the key
    itself is shown once, at creation. A revoked key stays, so that its name, which the predictions
    and labels it made carry, is never given to another key."""

    __tablename__ = "api_keys"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[str] = mapped_column(String(64))  # comma-separated, e.g. "predict,label"
    trusted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class IdempotencyKeyRow(Base):
    """A client's Idempotency-Key on POST /v1/predictions, bound for 24 hours to the picture it came
    with (`digit_knower.serving.idempotency`). Not a foreign key to the prediction either: the prediction
    may still wait in the outbox while its key is bound."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    picture_sha256: Mapped[str] = mapped_column(String(64))
    prediction_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        # Keys older than 24 hours are deleted in one range scan.
        Index("ix_idempotency_keys_created_at", "created_at"),
    )


class DeploymentRow(Base):
    """One change of the model that serves: a promotion or a rollback, by whom, when and why.

    The latest row names the serving version (none: each process serves its own shipped model).
    The rows are never changed nor deleted: they are the history `models rollback` walks back.
    """

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    action: Mapped[str] = mapped_column(String(8))
    # Only a registered model can serve: its card is what the page and GET /v1/model show.
    version: Mapped[str] = mapped_column(String(64), ForeignKey("model_versions.version"))
    previous_version: Mapped[str | None] = mapped_column(String(64))
    by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(String(500))

    __table_args__ = (CheckConstraint("action IN ('promote', 'rollback')", name="action"),)


def _table(row: type[Base]) -> Table:
    """The table behind a mapped class. Declarative mapping always makes a `Table`; SQLAlchemy types
    `__table__` as the wider `FromClause`, which `insert`, `update` and `delete` do not accept."""
    table = row.__table__
    assert isinstance(table, Table)
    return table


predictions = _table(PredictionRow)
model_versions = _table(ModelVersionRow)
idempotency_keys = _table(IdempotencyKeyRow)
deployments = _table(DeploymentRow)
api_keys = _table(ApiKeyRow)
