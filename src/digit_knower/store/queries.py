"""The SQL behind each repository function, one small function each, on an open connection.

Inserts are `ON CONFLICT DO NOTHING` on both dialects: a retried write with the same id (a client
retry, or an outbox replay after a crash) is a no-op, never a duplicate and never an error.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, Table, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from digit_knower.store.records import ModelCardSummary, PredictionRecord, Stats
from digit_knower.store.tables import model_versions, predictions

# A row of any width: SQLAlchemy types a row by its columns, and these queries select whole tables.
ResultRow = Row[*tuple[Any, ...]]


def _insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def insert_predictions(connection: Connection, records: Sequence[PredictionRecord]) -> None:
    if records:
        statement = _insert(connection, predictions).on_conflict_do_nothing(index_elements=["id"])
        connection.execute(statement, [record.model_dump() for record in records])


def set_label(
    connection: Connection,
    prediction_id: uuid.UUID,
    label: int,
    at: datetime,
    owner: str | None = None,
    by: str | None = None,
) -> ResultRow | None:
    """The row as it stands after the label, or None when no prediction has this id (of `owner`,
    when given). A label never replaces a newer one: a label given at `at` that finds a later
    label on the row (one replayed late from an outbox, say) leaves it, and the row is returned as
    it is. One statement for the write: no read-then-write race."""
    c = predictions.c
    statement = (
        update(predictions)
        .where(_of(prediction_id, owner))
        .where(c.labelled_at.is_(None) | (c.labelled_at <= at))
        .values(true_label=label, labelled_at=at, labelled_by=by)
        .returning(*predictions.c)
    )
    row = connection.execute(statement).first()
    return row if row is not None else get(connection, prediction_id, owner)


def get(connection: Connection, prediction_id: uuid.UUID, owner: str | None = None) -> ResultRow | None:
    """The row, or None when no prediction has this id (of `owner`, when given)."""
    return connection.execute(select(predictions).where(_of(prediction_id, owner))).first()


def delete_prediction(connection: Connection, prediction_id: uuid.UUID, owner: str | None = None) -> bool:
    """Whether a row (of `owner`, when given) was deleted."""
    return connection.execute(delete(predictions).where(_of(prediction_id, owner))).rowcount > 0


def prune_pictures(connection: Connection, before: datetime) -> int:
    """Drop the pictures of every prediction made before `before` (its whole and, for several
    digits, each digit's); how many predictions lost theirs."""
    c = predictions.c
    statement = (
        update(predictions)
        .where(c.created_at < before, c.model_input.is_not(None) | c.part_inputs.is_not(None))
        .values(model_input=None, part_inputs=None)
    )
    return connection.execute(statement).rowcount


def _of(prediction_id: uuid.UUID, owner: str | None) -> Any:
    """The condition for this id, and for `owner`'s row only when an owner is given."""
    condition = predictions.c.id == prediction_id
    return condition if owner is None else condition & (predictions.c.owner == owner)


def recent(
    connection: Connection, limit: int, offset: int, labelled: bool | None, owner: str | None = None
) -> list[ResultRow]:
    statement = select(predictions)
    if owner is not None:
        statement = statement.where(predictions.c.owner == owner)
    if labelled is not None:
        label = predictions.c.true_label
        statement = statement.where(label.is_not(None) if labelled else label.is_(None))
    statement = statement.order_by(predictions.c.created_at.desc(), predictions.c.id.desc())
    return list(connection.execute(statement.limit(limit).offset(offset)))


def stats(connection: Connection) -> Stats:
    """Every figure from one GROUP BY (at most versions x 11 x 10 x 5 rows), never from all the rows."""
    c = predictions.c
    statement = select(c.model_version, c.true_label, c.digit, c.verdict, func.count()).group_by(
        c.model_version, c.true_label, c.digit, c.verdict
    )
    return Stats.from_counts([tuple(row) for row in connection.execute(statement)])


def model_registered(connection: Connection, version: str) -> bool:
    statement = select(model_versions.c.version).where(model_versions.c.version == version)
    return connection.execute(statement).first() is not None


def insert_model(connection: Connection, summary: ModelCardSummary, card: dict[str, Any]) -> None:
    statement = _insert(connection, model_versions).on_conflict_do_nothing(index_elements=["version"])
    connection.execute(statement, {**summary.model_dump(), "card": card})


def to_record(row: ResultRow) -> PredictionRecord:
    values = row._asdict()
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    for name in ("created_at", "labelled_at"):
        if values[name] is not None and values[name].tzinfo is None:
            values[name] = values[name].replace(tzinfo=UTC)
    return PredictionRecord.model_validate(values)
