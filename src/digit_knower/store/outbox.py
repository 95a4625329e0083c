"""The durable outbox: records the database could not take yet, kept on local disk in order.

An SQLite file in WAL mode with synchronous=FULL, so that an entry is on disk (fsynced) before
`append` returns. Entries leave only after the database has committed them, in the order they
came, a batch at a time; a batch that was applied but not yet removed is applied again after a
crash, which is harmless because every write it holds is idempotent.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from digit_knower.store.errors import OutboxError

Kind = Literal["model", "prediction", "label"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('model', 'prediction', 'label')),
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ix_outbox_key ON outbox (key, kind);
"""


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: Kind
    key: str
    payload: str


class Outbox:
    """A FIFO of JSON payloads on disk, safe to share between threads and between processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        # A previous run may have left work behind; an absent file certainly holds none.
        self._maybe_pending = self.path.exists()

    def append(self, kind: Kind, key: str, payload: str) -> None:
        self.append_many(kind, [(key, payload)])

    def append_many(self, kind: Kind, items: list[tuple[str, str]]) -> None:
        """Queue (key, payload) pairs in this order, in one transaction: one fsync for them all."""
        queued_at = datetime.now(UTC).isoformat()
        with self._lock:
            conn = self._open()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(
                        "INSERT INTO outbox (kind, key, payload, queued_at) VALUES (?, ?, ?, ?)",
                        [(kind, key, payload, queued_at) for key, payload in items],
                    )
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as err:
                raise OutboxError(f"cannot write to the outbox file {self.path}: {err}") from None
            self._maybe_pending = True

    def rescan(self) -> None:
        """Look on disk again: another process may have queued entries this one does not know of."""
        with self._lock:
            self._maybe_pending = self._conn is not None or self.path.exists()

    def is_empty(self) -> bool:
        """Cheap when nothing was queued since the last complete drain (no disk access)."""
        with self._lock:
            if self._maybe_pending and self.backlog() == 0:
                self._maybe_pending = False
            return not self._maybe_pending

    def backlog(self) -> int:
        with self._lock:
            if self._conn is None and not self.path.exists():
                return 0
            return self._open().execute("SELECT count(*) FROM outbox").fetchone()[0]

    def latest(self, kind: Kind, key: str) -> str | None:
        """The payload of the newest entry of this kind and key, if one is waiting."""
        with self._lock:
            if not self._maybe_pending:
                return None
            row = (
                self._open()
                .execute(
                    "SELECT payload FROM outbox WHERE key = ? AND kind = ? ORDER BY seq DESC LIMIT 1",
                    (key, kind),
                )
                .fetchone()
            )
            return row[0] if row else None

    def drain(self, apply: Callable[[list[Entry]], None], batch_size: int = 500) -> int:
        """Hand the entries to `apply` in order, a batch at a time, removing each batch once `apply`
        returns. An exception from `apply` leaves that batch, and all after it, in place."""
        done = 0
        while batch := self._apply_next_batch(apply, batch_size):
            done += batch
        return done

    def _apply_next_batch(self, apply: Callable[[list[Entry]], None], batch_size: int) -> int:
        with self._lock:
            if self.is_empty():
                self._maybe_pending = False
                return 0
            conn = self._open()
            # The write lock is held while the batch is applied, so that two processes draining
            # the same outbox apply each batch once and in order.
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT seq, kind, key, payload FROM outbox ORDER BY seq LIMIT ?", (batch_size,)
                ).fetchall()
                if rows:
                    apply([Entry(*row) for row in rows])
                    conn.execute("DELETE FROM outbox WHERE seq <= ?", (rows[-1][0],))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return len(rows)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")  # fsync on every commit: nothing lost on power loss
                conn.executescript(_SCHEMA)
            except (OSError, sqlite3.Error) as err:
                raise OutboxError(f"cannot open the outbox file {self.path}: {err}") from None
            self._conn = conn
        return self._conn
