"""The durable outbox: records the database could not take yet, kept on local disk in order.

An SQLite file in WAL mode with synchronous=FULL, so that an entry is on disk (fsynced) before
`append` returns. Entries leave only after the database has committed them, in the order they
came, a batch at a time; a batch that was applied but not yet removed is applied again after a
crash, which is harmless because every write it holds is idempotent.

Each entry carries the fingerprint of the database it is meant for (`engine.fingerprint`: never a
password). An outbox drains only its own database's entries. Those of another database (the same
state folder pointed at another DATABASE_URL) stay as they are and are reported, until that
database takes them or an operator moves them (`digit-knower db outbox`). A file from a version
without fingerprints is migrated in place: its entries are bound to the first database that
opens it, and an entry such a version queues later goes to whichever database drains it.

An entry the database refuses for good (a constraint it will never satisfy, a payload it cannot
read) stays queued, its refusals counted, while the entries behind it go on. After
`DEAD_LETTER_AFTER` refusals it moves, with the reason, to the `dead_letters` table of the same
file, together with the labels queued for it if it is a prediction. Only an operator deletes a
record (`digit-knower db outbox drop`).

Threads and processes share one file. A drain never holds the file's write lock while the
database works: it reads a batch, applies it, then removes it in a short transaction. So a slow
or unreachable database never holds up the callers that queue records meanwhile. One drainer at
a time holds the drain lock (a `flock` on a file beside the outbox), so that each batch is
applied once and in order.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, overload

from digit_knower.store.engine import use_wal
from digit_knower.store.errors import LocalStorageFullError, OutboxError, UnknownOutboxEntryError

Kind = Literal["model", "prediction", "label"]

# Refusals after which an entry is set aside. A refusal for good rarely heals, but a few tries,
# spread over the store's retry pauses, cost nothing and cover a constraint fixed meanwhile.
DEAD_LETTER_AFTER = 3
BUSY_TIMEOUT_S = 30
# Readiness fails below this much free space: about 16,000 predictions of ~1 kB, a few minutes of
# a busy outage, so the probe says "full" before a write does.
MIN_FREE_BYTES = 16 * 1024 * 1024
PROBE_BYTES = 4096  # one page: a real block to allocate, as a queued record would need
# The fingerprint of entries queued by a version that had none: any database may take them.
UNBOUND = ""

# The table as the first version made it; a file that has it is at version 0.
_VERSION_0 = (
    """CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL CHECK (kind IN ('model', 'prediction', 'label')),
        key TEXT NOT NULL,
        payload TEXT NOT NULL,
        queued_at TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS ix_outbox_key ON outbox (key, kind)",
)
# Each step moves a file one version on; PRAGMA user_version says which the file is at.
_STEPS: tuple[tuple[str, ...], ...] = (
    (  # 1: the database each entry is for, its refusals, and the dead letters
        "ALTER TABLE outbox ADD COLUMN fingerprint TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE outbox ADD COLUMN last_error TEXT",
        """CREATE TABLE dead_letters (
            seq INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            key TEXT NOT NULL,
            payload TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            error TEXT NOT NULL,
            failed_at TEXT NOT NULL
        )""",
    ),
)
SCHEMA_VERSION = len(_STEPS)

_OWN = "fingerprint IN (:own, '')"  # this database's entries, and unbound ones


@dataclass(frozen=True)
class Entry:
    seq: int
    kind: Kind
    key: str
    payload: str
    attempts: int = 0  # refusals so far


@dataclass(frozen=True)
class DeadLetter:
    """An entry the database refused DEAD_LETTER_AFTER times, set aside. `id` is its old seq."""

    id: int
    kind: Kind
    key: str
    database: str  # the fingerprint of the database it was meant for
    queued_at: str
    attempts: int
    error: str
    failed_at: str


@dataclass(frozen=True)
class ForeignEntries:
    """Entries that wait for another database than this outbox's."""

    database: str  # its fingerprint
    count: int
    oldest: str  # when the oldest of them was queued (ISO 8601, UTC)


@dataclass(frozen=True)
class OutboxStatus:
    backlog: int  # entries waiting for this database (refused ones included)
    foreign: int  # entries waiting for other databases
    dead_letters: int  # entries set aside (for any database)


@dataclass
class Drained:
    """What one drain did."""

    applied: int = 0
    refused: int = 0  # refused this time, and still queued for another try
    dead_lettered: int = 0  # refused for the last time, and set aside
    reason: str | None = None  # the last refusal's reason


# `apply` takes a batch in order and returns the entries the database refused for good, as
# {seq: reason}; every other entry is taken as applied. An exception means: nothing is known.
Apply = Callable[[list[Entry]], dict[int, str]]


class Outbox:
    """A FIFO of JSON payloads on disk for the database `fingerprint`, safe to share between
    threads and between processes."""

    def __init__(
        self,
        path: Path,
        fingerprint: str,
        *,
        dead_letter_after: int = DEAD_LETTER_AFTER,
        max_bytes: int | None = None,
    ) -> None:
        self.path = Path(path)
        # New predictions are refused at this size (see LocalStorageFullError); None: the disk's.
        self.max_bytes = max_bytes
        self.fingerprint = fingerprint
        self.dead_letter_after = dead_letter_after
        self.lock_path = self.path.with_name(self.path.name + "-drainlock")
        self._lock = threading.RLock()  # guards the one connection
        self._draining = threading.Lock()  # one drain at a time in this process (the flock: across)
        self._conn: sqlite3.Connection | None = None
        # A previous run may have left work behind; an absent file certainly holds none.
        self._maybe_pending = self.path.exists()

    # -- queueing ------------------------------------------------------------------------------

    def append(self, kind: Kind, key: str, payload: str) -> None:
        self.append_many(kind, [(key, payload)])

    def append_many(self, kind: Kind, items: list[tuple[str, str]]) -> None:
        """Queue (key, payload) pairs in this order, in one transaction: one fsync for them all.
        LocalStorageFullError for predictions once the outbox is at its cap (labels and model cards,
        a few hundred bytes each, are still taken), and for anything when the disk is full."""
        if kind == "prediction":
            self._check_cap()
        queued_at = _now()
        rows = [(kind, key, payload, queued_at, self.fingerprint) for key, payload in items]
        with self._write("cannot write to the outbox file") as conn:
            conn.executemany(
                "INSERT INTO outbox (kind, key, payload, queued_at, fingerprint) VALUES (?, ?, ?, ?, ?)", rows
            )
        self._maybe_pending = True

    # -- looking ---------------------------------------------------------------------------------

    def rescan(self) -> None:
        """Look on disk again: another process may have queued entries this one does not know of."""
        with self._lock:
            self._maybe_pending = self._conn is not None or self.path.exists()

    def is_empty(self) -> bool:
        """No entry waits for this database. Cheap when nothing was queued since the last complete
        drain (no disk access)."""
        with self._lock:
            if self._maybe_pending and self.backlog() == 0:
                self._maybe_pending = False
            return not self._maybe_pending

    def backlog(self) -> int:
        """Entries waiting for this database."""
        if not self._exists():
            return 0
        ((count,),) = self._read(f"SELECT count(*) FROM outbox WHERE {_OWN}")
        return count

    def status(self) -> OutboxStatus:
        if not self._exists():
            return OutboxStatus(0, 0, 0)
        (own, other), (dead,) = self._read(
            f"SELECT coalesce(sum({_OWN}), 0), coalesce(sum(NOT {_OWN}), 0) FROM outbox",
            "SELECT count(*) FROM dead_letters",
        )
        return OutboxStatus(backlog=own, foreign=other, dead_letters=dead)

    def latest(self, kind: Kind, key: str) -> str | None:
        """The payload of the newest entry of this kind and key waiting for this database."""
        with self._lock:
            if not self._maybe_pending:
                return None
            rows = self._read_all(
                f"SELECT payload FROM outbox WHERE key = :key AND kind = :kind AND {_OWN} "
                "ORDER BY seq DESC LIMIT 1",
                params={"key": key, "kind": kind},
            )
            return rows[0][0] if rows else None

    def foreign(self) -> list[ForeignEntries]:
        """The entries waiting for other databases, by database."""
        if not self._exists():
            return []
        return [
            ForeignEntries(*row)
            for row in self._read_all(
                f"SELECT fingerprint, count(*), min(queued_at) FROM outbox WHERE NOT {_OWN} "
                "GROUP BY fingerprint ORDER BY fingerprint"
            )
        ]

    def dead_letters(self) -> list[DeadLetter]:
        if not self._exists():
            return []
        return [
            DeadLetter(*row)
            for row in self._read_all(
                "SELECT seq, kind, key, fingerprint, queued_at, attempts, error, failed_at "
                "FROM dead_letters ORDER BY seq"
            )
        ]

    def check_writable(self) -> str | None:
        """None when an entry could be queued now, else why not (one line). Writes nothing: the
        write is rolled back, so it costs no fsync."""
        try:
            with self._write("cannot write to the outbox file") as conn:
                version = int(conn.execute("PRAGMA user_version").fetchone()[0])
                conn.execute(f"PRAGMA user_version = {version}")  # a write, refused on a read-only file
                raise _RollBack
        except _RollBack:
            return None
        except OutboxError as err:
            return str(err)

    def size(self) -> int:
        """The outbox's bytes on disk: the file and its write-ahead log."""
        total = 0
        for path in (self.path, self.path.with_name(self.path.name + "-wal")):
            with contextlib.suppress(FileNotFoundError):
                total += path.stat().st_size
        return total

    def storage_problem(self) -> str | None:
        """None when the outbox's folder takes a real write now, with room to spare; else why not,
        starting "local storage full" when that is the reason. Writes, fsyncs and deletes a small
        probe file: a full disk fails there, where a rolled-back transaction would not."""
        try:
            self._check_cap()
            free = shutil.disk_usage(self.path.parent).free
        except LocalStorageFullError as err:
            return str(err)
        except OSError as err:
            return f"cannot check the outbox folder {self.path.parent}: {err.strerror or err}"
        if free < MIN_FREE_BYTES:
            return f"local storage full: {free:,} bytes free in {self.path.parent}"
        probe = self.path.with_name(f".{self.path.name}.probe-{os.getpid()}")
        try:
            with probe.open("wb") as file:
                file.write(b"\0" * PROBE_BYTES)
                file.flush()
                os.fsync(file.fileno())
        except OSError as err:
            full = err.errno in (errno.ENOSPC, errno.EDQUOT)
            return (
                f"{'local storage full: ' if full else ''}cannot write to {self.path.parent}: {err.strerror}"
            )
        finally:
            with contextlib.suppress(OSError):
                probe.unlink()
        return None

    def _check_cap(self) -> None:
        if self.max_bytes is not None and (size := self.size()) >= self.max_bytes:
            raise LocalStorageFullError(
                f"local storage full: the outbox {self.path} holds {size / 1e6:.0f} MB, its cap "
                f"(DIGIT_KNOWER_OUTBOX_MAX_MB) is {self.max_bytes / 1e6:.0f} MB; new predictions are "
                "refused until the database is back and the backlog drains"
            )

    # -- draining --------------------------------------------------------------------------------

    @overload
    def drain(
        self,
        apply: Apply,
        *,
        batch_size: int = ...,
        wait: Literal[True] = ...,
        stop: Callable[[], bool] | None = ...,
    ) -> Drained: ...

    @overload
    def drain(
        self, apply: Apply, *, batch_size: int = ..., wait: bool, stop: Callable[[], bool] | None = ...
    ) -> Drained | None: ...

    def drain(
        self,
        apply: Apply,
        *,
        batch_size: int = 500,
        wait: bool = True,
        stop: Callable[[], bool] | None = None,
    ) -> Drained | None:
        """Hand this database's entries to `apply` in order, a batch at a time. The applied ones
        leave; the refused ones stay (or become dead letters after DEAD_LETTER_AFTER refusals) and
        the drain goes on past them. An exception from `apply` leaves that batch, and all after it,
        in place. `stop()` is asked between batches. None: `wait` is False and another thread or
        process is draining this file now."""
        with self._drain_lock(wait) as mine:
            if not mine:
                return None
            drained = Drained()
            after = 0
            while not (stop is not None and stop()):
                batch = self._batch(after, batch_size)
                if not batch:
                    break
                self._settle(batch, apply(batch), drained)
                after = batch[-1].seq
            return drained

    # -- what an operator does (digit-knower db outbox) ------------------------------------------

    def retry_dead_letters(self, ids: Sequence[int] | None) -> int:
        """Queue dead letters again (all of them when `ids` is None), each for its own database,
        behind the entries waiting now; a prediction's dead labels come along. Returns how many."""
        with self._write("cannot write to the outbox file") as conn:
            chosen = self._chosen_dead_letters(conn, ids)
            conn.executemany(
                "INSERT INTO outbox (kind, key, payload, queued_at, fingerprint) "
                "SELECT kind, key, payload, queued_at, fingerprint FROM dead_letters WHERE seq = ?",
                [(seq,) for seq in chosen],
            )
            conn.executemany("DELETE FROM dead_letters WHERE seq = ?", [(seq,) for seq in chosen])
        self._maybe_pending = True
        return len(chosen)

    def drop_dead_letters(self, ids: Sequence[int] | None) -> int:
        """Delete dead letters for good (all of them when `ids` is None); a prediction's dead
        labels go with it. Returns how many."""
        with self._write("cannot write to the outbox file") as conn:
            chosen = self._chosen_dead_letters(conn, ids)
            conn.executemany("DELETE FROM dead_letters WHERE seq = ?", [(seq,) for seq in chosen])
        return len(chosen)

    def adopt_foreign(self, database: str) -> int:
        """Give the entries waiting for the database `database` to this outbox's database, in
        their place in the queue. Returns how many."""
        with self._write("cannot write to the outbox file") as conn:
            moved = conn.execute(
                "UPDATE outbox SET fingerprint = :own, attempts = 0 WHERE fingerprint = :other",
                self._foreign_params(database),
            ).rowcount
        self._maybe_pending = True
        return moved

    def drop_foreign(self, database: str) -> int:
        """Delete for good the entries waiting for the database `database`. Returns how many."""
        with self._write("cannot write to the outbox file") as conn:
            return conn.execute(
                "DELETE FROM outbox WHERE fingerprint = :other", self._foreign_params(database)
            ).rowcount

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # -- internals -------------------------------------------------------------------------------

    def _batch(self, after: int, size: int) -> list[Entry]:
        rows = self._read_all(
            f"SELECT seq, kind, key, payload, attempts FROM outbox WHERE seq > :after AND {_OWN} "
            "ORDER BY seq LIMIT :size",
            params={"after": after, "size": size},
        )
        return [Entry(*row) for row in rows]

    def _settle(self, batch: list[Entry], refused: dict[int, str], drained: Drained) -> None:
        """In one short transaction: remove the applied entries, count the refusals, and set
        aside the entries refused for the last time."""
        applied = [(entry.seq,) for entry in batch if entry.seq not in refused]
        buried = [e for e in batch if e.seq in refused and e.attempts + 1 >= self.dead_letter_after]
        failed_at = _now()
        with self._write("cannot update the outbox file") as conn:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", applied)
            conn.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE seq = ?",
                [(reason, seq) for seq, reason in refused.items()],
            )
            for entry in buried:
                _bury(conn, "seq = :seq", {"seq": entry.seq}, refused[entry.seq], failed_at)
                if entry.kind == "prediction":  # its labels have nothing left to label
                    _bury(
                        conn,
                        f"kind = 'label' AND key = :key AND {_OWN}",
                        {"key": entry.key, "own": self.fingerprint},
                        f"its prediction was set aside (dead letter {entry.seq})",
                        failed_at,
                    )
        drained.applied += len(applied)
        drained.refused += len(refused) - len(buried)
        drained.dead_lettered += len(buried)
        if refused:
            drained.reason = list(refused.values())[-1]

    def _chosen_dead_letters(self, conn: sqlite3.Connection, ids: Sequence[int] | None) -> list[int]:
        """The dead letters `ids` name (all when None), with the labels of each prediction, in order."""
        rows = conn.execute("SELECT seq, kind, key FROM dead_letters ORDER BY seq").fetchall()
        if ids is None:
            return [seq for seq, _, _ in rows]
        known = {seq: (kind, key) for seq, kind, key in rows}
        unknown = sorted(set(ids) - known.keys())
        if unknown:
            raise UnknownOutboxEntryError(
                f"no dead letter has the id {', '.join(map(str, unknown))}; "
                "list them with: digit-knower db outbox list"
            )
        predictions = {known[seq][1] for seq in ids if known[seq][0] == "prediction"}
        return [seq for seq, kind, key in rows if seq in ids or (kind == "label" and key in predictions)]

    def _foreign_params(self, database: str) -> dict[str, str]:
        if database in (self.fingerprint, UNBOUND):
            raise UnknownOutboxEntryError(
                f"{database or 'an empty name'} is not another database: the entries for this "
                "database are written by `digit-knower db flush`"
            )
        if not any(group.database == database for group in self.foreign()):
            raise UnknownOutboxEntryError(
                f"no entries wait for the database {database}; list them with: digit-knower db outbox list"
            )
        return {"own": self.fingerprint, "other": database}

    def _exists(self) -> bool:
        return self._conn is not None or self.path.exists()

    def _read(self, *statements: str, params: dict[str, object] | None = None) -> list[tuple[Any, ...]]:
        """The one row of each statement (each is an aggregate, so it has exactly one)."""
        with self._lock:
            try:
                conn = self._open()
                values = {"own": self.fingerprint, **(params or {})}
                return [conn.execute(statement, values).fetchone() for statement in statements]
            except sqlite3.Error as err:
                raise OutboxError(f"cannot read the outbox file {self.path}: {err}") from None

    def _read_all(self, statement: str, params: dict[str, object] | None = None) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._open().execute(statement, {"own": self.fingerprint, **(params or {})}).fetchall()
            except sqlite3.Error as err:
                raise OutboxError(f"cannot read the outbox file {self.path}: {err}") from None

    @contextlib.contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction on the shared connection; sqlite3 errors become one OutboxError line."""
        with self._lock:
            conn = self._open()
            try:
                with _transaction(conn):
                    yield conn
            except sqlite3.Error as err:
                if getattr(err, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise LocalStorageFullError(f"local storage full: {what} {self.path}: {err}") from None
                raise OutboxError(f"{what} {self.path}: {err}") from None

    @contextlib.contextmanager
    def _drain_lock(self, wait: bool) -> Iterator[bool]:
        """Whether this caller may drain now: the in-process lock, then the file lock."""
        if not self._draining.acquire(blocking=wait):
            yield False
            return
        try:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.lock_path, os.O_RDONLY | os.O_CREAT, 0o644)
            except OSError as err:
                raise OutboxError(f"cannot open the outbox's lock file {self.lock_path}: {err}") from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    yield False
                    return
                yield True
            finally:
                os.close(fd)  # releases the flock
        finally:
            self._draining.release()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(
                    self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
                )
                try:
                    # Processes that start together race to make a new file WAL: wait, not fail.
                    use_wal(conn.cursor(), BUSY_TIMEOUT_S)
                    # fsync on every commit: nothing lost on power loss
                    conn.execute("PRAGMA synchronous=FULL")
                    self._migrate(conn)
                except BaseException:
                    conn.close()
                    raise
            except (OSError, sqlite3.Error) as err:
                raise OutboxError(f"cannot open the outbox file {self.path}: {err}") from None
            self._conn = conn
        return self._conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        """Bring the file to SCHEMA_VERSION in place: a new file, or one an older version made."""
        if conn.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with _transaction(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]  # another process may be done
            if version == 0:
                for statement in _VERSION_0:
                    conn.execute(statement)
            for step in _STEPS[version:]:
                for statement in step:
                    conn.execute(statement)
            if version == 0:  # entries from before fingerprints: most likely meant for this database
                conn.execute("UPDATE outbox SET fingerprint = ? WHERE fingerprint = ''", (self.fingerprint,))
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


class _RollBack(Exception):
    """Raised inside a transaction to undo it on purpose."""


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _bury(
    conn: sqlite3.Connection, where: str, params: dict[str, object], error: str, failed_at: str
) -> None:
    """Move the outbox entries `where` selects to the dead letters."""
    columns = "seq, kind, key, payload, fingerprint, queued_at, attempts"
    conn.execute(
        f"INSERT INTO dead_letters ({columns}, error, failed_at) "
        f"SELECT {columns}, :error, :failed_at FROM outbox WHERE {where}",
        {**params, "error": error, "failed_at": failed_at},
    )
    conn.execute(f"DELETE FROM outbox WHERE {where}", params)


def _now() -> str:
    return datetime.now(UTC).isoformat()
