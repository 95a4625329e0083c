"""Idempotency keys in the database, so that every worker and process of the API sees the same ones.

A key is bound to the picture it first came with for KEY_TTL. Binding is one transaction: an
expired binding of the key is dropped, the new one inserted unless the key is bound already, and
the binding that holds is read back. Two requests binding the same key at once get the same
answer: PostgreSQL makes the second insert wait for the first to commit, SQLite runs one
transaction at a time. Expired keys are deleted now and then by whichever process binds one.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from digit_knower.store.errors import DatabaseUnavailableError
from digit_knower.store.tables import idempotency_keys

if TYPE_CHECKING:
    from digit_knower.store.repository import Store

KEY_TTL = timedelta(hours=24)
PURGE_EVERY_S = 600.0


@dataclass(frozen=True)
class Binding:
    """What a key was first sent with."""

    picture_sha256: str
    prediction_id: uuid.UUID
    created_at: datetime


class IdempotencyKeys:
    """The keys of one store. Thread-safe; the database does the locking between processes."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._next_purge = 0.0
        self._purge_lock = threading.Lock()

    def bind(self, key: str, picture_sha256: str, prediction_id: uuid.UUID) -> Binding | None:
        """Bind `key` to this picture unless it is bound already; the binding that holds.

        None while the database cannot be reached (no wait while the store backs off): the caller
        goes on without the check, and the prediction's own id still keeps it from being logged
        twice.
        """
        now = datetime.now(UTC)
        try:
            # The store's read path: it flushes the outbox first and respects its back-off.
            binding = self._store._read(_bind, key, picture_sha256, prediction_id, now)
        except DatabaseUnavailableError:
            return None
        self._purge_if_due(now)
        return binding

    def _purge_if_due(self, now: datetime) -> None:
        with self._purge_lock:
            if time.monotonic() < self._next_purge:
                return
            self._next_purge = time.monotonic() + PURGE_EVERY_S
        with contextlib.suppress(DatabaseUnavailableError):  # the next bind tries again later
            self._store._read(_purge, now - KEY_TTL)


def _bind(
    connection: Connection, key: str, picture_sha256: str, prediction_id: uuid.UUID, now: datetime
) -> Binding:
    table = idempotency_keys
    connection.execute(delete(table).where(table.c.key == key, table.c.created_at < now - KEY_TTL))
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    connection.execute(
        dialect.insert(table).on_conflict_do_nothing(index_elements=["key"]),
        {"key": key, "picture_sha256": picture_sha256, "prediction_id": prediction_id, "created_at": now},
    )
    row = connection.execute(
        select(table.c.picture_sha256, table.c.prediction_id, table.c.created_at).where(table.c.key == key)
    ).one()
    return Binding(*row)


def _purge(connection: Connection, cutoff: datetime) -> int:
    return connection.execute(delete(idempotency_keys).where(idempotency_keys.c.created_at < cutoff)).rowcount
