"""The model lifecycle's queries: which model serves (`deployments`), and what it learns from
(the labelled predictions).

Which version serves is the latest deployment; with none, every process serves its own shipped
model (its "baseline"). A promotion or a rollback is one more row, never an update, so the table
is also the history that `models rollback` walks back:

    promote B, promote C       serves C; rollback -> B; rollback -> the baseline; rollback -> error

Promotions push a version on a stack and rollbacks pop it; promoting the version that already
serves changes nothing (a retried promotion is harmless).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, func, insert, select

from digit_knower.store.api_keys import trusted_names
from digit_knower.store.errors import NothingToRollBackError, UnknownModelError
from digit_knower.store.queries import ResultRow, model_registered
from digit_knower.store.tables import deployments, model_versions, predictions

Action = Literal["promote", "rollback"]
# What retraining learns from: every labelled prediction whose logged input is the whole drawing.
# One turned away as no digit and then labelled by its user is the very correction to learn (a
# style the model does not know yet). One read as several digits logged only its first digit's
# input, which its label does not describe. Rows from before verdicts (NULL) were one digit each.
FEEDBACK_VERDICTS = ("digit", "unsure", "not_a_digit")
# A label the model confirmed: it names the digit the reader answered, and answered sure (the
# verdict "digit", not "unsure"). Such a label cannot teach the model anything it did not say.
CONFIRMING_VERDICT = "digit"
# Long enough for "user@host (retrain --promote)", and for a reason a person writes by hand.
BY_LENGTH = 100
REASON_LENGTH = 500


@dataclass(frozen=True)
class Deployment:
    """One change of the serving model."""

    id: int
    at: datetime
    action: Action
    version: str
    previous_version: str | None  # None: each process's shipped model served before
    by: str
    reason: str


@dataclass(frozen=True)
class Feedback:
    """One labelled prediction: the 28x28 input the model saw, and what the digit really was."""

    id: uuid.UUID
    created_at: datetime
    model_version: str
    true_label: int
    model_input: bytes  # 784 bytes, row-major, white ink on black


@dataclass(frozen=True)
class RegisteredModel:
    version: str
    registered_at: datetime
    card: dict[str, Any]


def labelled_feedback(connection: Connection, trusted_only: bool = True) -> list[Feedback]:
    """Every labelled one-digit prediction that still has its picture, with the input the model
    saw, oldest first. `trusted_only`: only trusted labels (`trusted_label`)."""
    c = predictions.c
    statement = (
        select(c.id, c.created_at, c.model_version, c.true_label, c.model_input)
        .where(c.true_label.is_not(None), c.model_input.is_not(None))
        .where(c.verdict.is_(None) | c.verdict.in_(FEEDBACK_VERDICTS))
        .order_by(c.created_at, c.id)
    )
    if trusted_only:
        statement = statement.where(trusted_label(connection))
    return [
        Feedback(row.id, _utc(row.created_at), row.model_version, row.true_label, bytes(row.model_input))
        for row in connection.execute(statement)
    ]


def untrusted_labels(connection: Connection) -> int:
    """How many labelled predictions retraining leaves out, their labels not being trusted."""
    c = predictions.c
    statement = select(func.count()).where(c.true_label.is_not(None), ~trusted_label(connection))
    return int(connection.execute(statement).scalar_one())


def trusted_label(connection: Connection) -> ColumnElement[bool]:
    """The rule (see `lifecycle.feedback`): given by a trusted key (the admin key included), or
    confirming the model's own sure reading."""
    c = predictions.c
    # Each side is false, never NULL, where a column is NULL: so that NOT of the rule counts the
    # labels given before keys existed (no labeller) among the untrusted ones.
    by_trusted = c.labelled_by.is_not(None) & c.labelled_by.in_(sorted(trusted_names(connection)))
    confirmed = c.verdict.is_not(None) & (c.verdict == CONFIRMING_VERDICT) & (c.true_label == c.digit)
    return by_trusted | confirmed


def history(connection: Connection, limit: int | None = None) -> list[Deployment]:
    """The deployments, newest first."""
    statement = select(deployments).order_by(deployments.c.id.desc()).limit(limit)
    return [_deployment(row) for row in connection.execute(statement)]


def serving_version(connection: Connection) -> str | None:
    """The version the latest deployment chose; None while nothing was ever deployed."""
    statement = select(deployments.c.version).order_by(deployments.c.id.desc()).limit(1)
    return connection.execute(statement).scalar()


def promote(connection: Connection, version: str, by: str, reason: str) -> Deployment:
    """Make `version` (registered) the serving model; the latest deployment if it already serves."""
    if not model_registered(connection, version):
        raise UnknownModelError(
            f"no registered model has the version {version!r}; see `digit-knower models list`"
        )
    _lock(connection)
    latest = history(connection, limit=1)
    if latest and latest[0].version == version:
        return latest[0]
    return _insert(connection, "promote", version, latest[0].version if latest else None, by, reason)


def rollback(connection: Connection, baseline: str, by: str, reason: str) -> Deployment:
    """Serve again the version that served before the current one (the baseline at the bottom)."""
    _lock(connection)
    past = history(connection)
    target = rollback_target([d for d in reversed(past)], baseline)
    if not model_registered(connection, target):
        raise UnknownModelError(f"the model to roll back to, {target!r}, is not registered")
    return _insert(connection, "rollback", target, past[0].version, by, reason)


def rollback_target(oldest_first: list[Deployment], baseline: str) -> str:
    """The version a rollback returns to, given the whole history and this process's baseline."""
    stack: list[str] = []
    for deployment in oldest_first:
        if deployment.action == "promote":
            if not stack or stack[-1] != deployment.version:
                stack.append(deployment.version)
        elif stack:
            stack.pop()
    if len(stack) >= 2:
        return stack[-2]
    if stack and stack[0] != baseline:
        return baseline
    serving = stack[0] if stack else baseline
    raise NothingToRollBackError(
        f"{serving} serves, and no other model served before it: nothing to roll back"
    )


def registered_models(connection: Connection) -> list[RegisteredModel]:
    """Every registered model with its card, oldest first."""
    c = model_versions.c
    statement = select(c.version, c.registered_at, c.card).order_by(c.registered_at, c.version)
    return [
        RegisteredModel(row.version, _utc(row.registered_at), row.card)
        for row in connection.execute(statement)
    ]


def _lock(connection: Connection) -> None:
    # Two people promoting at once must not both read the same history and write past each
    # other. PostgreSQL: this lock lets readers (every serving process) through. SQLite takes
    # its write lock at the insert and refuses a writer that read an older snapshot.
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE deployments IN SHARE ROW EXCLUSIVE MODE")


def _insert(
    connection: Connection, action: Action, version: str, previous: str | None, by: str, reason: str
) -> Deployment:
    values = {
        "action": action,
        "version": version,
        "previous_version": previous,
        "by": by[:BY_LENGTH],
        "reason": reason[:REASON_LENGTH],
    }
    row = connection.execute(insert(deployments).values(**values).returning(*deployments.c)).one()
    return _deployment(row)


def _deployment(row: ResultRow) -> Deployment:
    values = row._asdict()
    values["at"] = _utc(values["at"])
    return Deployment(**values)


def _utc(moment: datetime) -> datetime:
    # SQLite hands timestamps back without their zone; they were stored as UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
