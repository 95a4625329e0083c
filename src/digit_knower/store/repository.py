"""`Store`: the prediction log and the model registry, one obvious method each.

Nothing is lost when the database is down. A write that cannot reach the database goes to the
durable local outbox and the call returns normally; the backlog is flushed, in order, on the next
write that finds the database back, by `ensure_schema()` at start-up, or by `flush_outbox()`.
After a failure the store stops trying for a short, growing while (a back-off), so that calls
during an outage do not each wait for a connect timeout.

Predictions are written by group commit (see `group_commit`): `log_prediction` hands its record
to the store's one writer thread and returns once the record is committed (or in the outbox); the
writer inserts whatever has queued meanwhile as one multi-row insert in one transaction. An event
loop (the API) awaits `log_prediction_async` instead, which never blocks the loop.

Labels given during an outage (`set_true_label`): the label is checked 0-9, then queued if this
process still holds the prediction (in the outbox, or among the last predictions it logged), and
the labelled record is returned. A prediction this process does not hold cannot be checked nor
returned, so that call raises `DatabaseUnavailableError` and queues nothing: the caller knows the
label was not kept and can retry.
"""

from __future__ import annotations

import json
import logging
import operator
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc

from digit_knower.store import lifecycle, queries, schema
from digit_knower.store.engine import connection_error, describe, make_engine, parse_url, reason
from digit_knower.store.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    InvalidLabelError,
    InvalidModelCardError,
    SchemaOutOfDateError,
    UnknownPredictionError,
)
from digit_knower.store.group_commit import GroupCommit
from digit_knower.store.outbox import Entry, Outbox
from digit_knower.store.records import ModelCardSummary, PredictionRecord, Stats

if TYPE_CHECKING:
    from digit_knower.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")

# Failures after which retrying later may succeed (a missing table included: someone will run
# `db upgrade`; a full pool too). IntegrityError and DataError are not among them: those are bugs
# in a record, which validation in PredictionRecord keeps out.
_TRANSIENT = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.InternalError,
    sa_exc.ProgrammingError,
    sa_exc.TimeoutError,
)
RECENT_CACHE_SIZE = 1024
# The most predictions one transaction inserts. 256 rows of ~1 kB are a fraction of a millisecond
# for PostgreSQL, and far below its limit of 65535 bound parameters (11 a row).
MAX_BATCH = 256


class Backoff:
    """After a failure, do not try again for `first` seconds, doubling up to `most`."""

    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self._delay = 0.0
        self._until = 0.0
        self._lock = threading.Lock()

    def ready(self) -> bool:
        return time.monotonic() >= self._until

    def failed(self) -> None:
        with self._lock:
            self._delay = min(self.most, self._delay * 2 or self.first)
            self._until = time.monotonic() + self._delay

    def succeeded(self) -> None:
        with self._lock:
            self._delay, self._until = 0.0, 0.0


class Store:
    """The prediction log, on PostgreSQL or an SQLite file. One instance serves many threads."""

    def __init__(
        self,
        url: str,
        *,
        outbox_path: Path | str | None = None,
        auto_migrate: bool | None = None,
        retry_after_s: float = 1.0,
        retry_at_most_s: float = 10.0,
    ) -> None:
        """`url`: a SQLAlchemy URL. `outbox_path`: the local outbox file (default: beside an SQLite
        database, else the settings' `outbox_path`). `auto_migrate`: whether
        `ensure_schema()` may upgrade the database itself (default: for SQLite only)."""
        self.url = parse_url(url)
        self.where = describe(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.auto_migrate = self.is_sqlite if auto_migrate is None else auto_migrate
        self.engine = make_engine(self.url)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.outbox = Outbox(Path(outbox_path) if outbox_path else self._default_outbox_path())
        self._backoff = Backoff(retry_after_s, retry_at_most_s)
        self._registered: set[str] = set()
        self._recent: OrderedDict[uuid.UUID, PredictionRecord] = OrderedDict()
        self._recent_lock = threading.Lock()
        self._writer: GroupCommit[PredictionRecord] = GroupCommit(
            self._keep_predictions, max_batch=MAX_BATCH, name=f"store-writer {self.where}"
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Store:
        """The store the settings name: DATABASE_URL, or the embedded SQLite file in the state folder."""
        if settings is None:
            from digit_knower.settings import get_settings

            settings = get_settings()
        return cls(settings.effective_database_url, outbox_path=settings.outbox_path)

    def _default_outbox_path(self) -> Path:
        if self.is_sqlite:
            return Path(self.url.database).expanduser().with_suffix(".outbox.sqlite3")
        from digit_knower.settings import get_settings

        return get_settings().outbox_path

    # -- schema ------------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Make sure the schema is current, then flush any backlog a previous run left.

        SQLite (the embedded default) is upgraded here. Otherwise SchemaOutOfDateError says to run
        `digit-knower db upgrade`. DatabaseUnavailableError: the server cannot be reached now, the
        caller may keep predicting (writes go to the outbox). DatabaseConfigError: the URL is wrong.
        """
        revision = self._checked(schema.current_revision, self.engine)
        upgradable = revision is None or revision in schema.known_revisions()
        if revision != schema.head_revision() and self.auto_migrate and upgradable:
            self.upgrade()
        else:
            schema.check_current(revision, self.where)
        self.outbox.rescan()
        self._flush_if_due()

    def upgrade(self, revision: str = "head") -> None:
        self._checked(schema.upgrade, self.engine, revision)

    def downgrade(self, revision: str = "-1") -> None:
        self._checked(schema.downgrade, self.engine, revision)

    def current_revision(self) -> str | None:
        return self._checked(schema.current_revision, self.engine)

    # -- writes --------------------------------------------------------------------------------

    def log_prediction(self, record: PredictionRecord) -> None:
        """Keep `record`: in the database, or in the outbox while the database is away. Returns
        once it is durable; many threads' records share a transaction (group commit)."""
        self._remember(record)
        self._writer.submit(record)

    async def log_prediction_async(self, record: PredictionRecord) -> None:
        """`log_prediction` for an event loop: the loop serves other requests while it waits, and
        the records its requests log in one turn of the loop share a transaction."""
        self._remember(record)
        await self._writer.submit_async(record)

    def set_true_label(self, prediction_id: uuid.UUID | str, label: int) -> PredictionRecord:
        """Record what the digit really was; a second label replaces the first."""
        label = _valid_label(label)
        prediction_id = _as_uuid(prediction_id)
        at = datetime.now(UTC)
        if self._flush_if_due():
            reached, row = self._attempt(queries.set_label, prediction_id, label, at)
            if reached and row is None:
                raise UnknownPredictionError(f"no prediction has the id {prediction_id}")
            if reached:
                return self._remember(queries.to_record(row))
        return self._queue_label(prediction_id, label, at)

    def register_model(self, card: dict[str, Any]) -> None:
        """Add a trained model to `model_versions`; a model already there is left as it is."""
        summary = _card_summary(card)
        if summary.version in self._registered:
            return
        payload = json.dumps(card, default=str)
        if self._flush_if_due():
            card_json = json.loads(payload)  # JSON-safe: dates and paths as text
            if self._attempt(queries.insert_model, summary, card_json)[0]:
                self._registered.add(summary.version)
                return
        self.outbox.append("model", summary.version, payload)
        self._registered.add(summary.version)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, prediction_id: uuid.UUID | str) -> PredictionRecord:
        prediction_id = _as_uuid(prediction_id)
        reached, row = self._attempt(queries.get, prediction_id) if self._flush_if_due() else (False, None)
        if row is not None:
            return queries.to_record(row)
        # Not in the database (yet): it may still wait in the outbox.
        local = self._local_record(prediction_id)
        if local is not None:
            return local
        if reached:
            raise UnknownPredictionError(f"no prediction has the id {prediction_id}")
        raise self._unavailable()

    def recent(
        self, limit: int = 20, offset: int = 0, labelled: bool | None = None
    ) -> list[PredictionRecord]:
        """Newest first. `labelled`: only labelled (True), only unlabelled (False), or all (None)."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be 0 or more, not {limit} and {offset}")
        return [queries.to_record(row) for row in self._read(queries.recent, limit, offset, labelled)]

    def stats(self) -> Stats:
        return self._read(queries.stats)

    # -- the model lifecycle: what it learns from, and which model serves (store/lifecycle.py) --

    def labelled_feedback(self) -> list[lifecycle.Feedback]:
        """Every labelled one-digit prediction with the input the model saw, oldest first."""
        return self._read(lifecycle.labelled_feedback)

    def serving_version(self) -> str | None:
        """The version deployed to serve; None while none was (each process serves its own)."""
        return self._read(lifecycle.serving_version)

    def deployments(self, limit: int | None = None) -> list[lifecycle.Deployment]:
        """Promotions and rollbacks, newest first."""
        return self._read(lifecycle.history, limit)

    def registered_models(self) -> list[lifecycle.RegisteredModel]:
        return self._read(lifecycle.registered_models)

    def promote(self, version: str, *, by: str, reason: str) -> lifecycle.Deployment:
        """Make a registered model serve everywhere. Never queued: the caller learns whether it took."""
        return self._read(lifecycle.promote, version, by, reason)

    def rollback(self, baseline: str, *, by: str, reason: str) -> lifecycle.Deployment:
        """Serve again the model that served before; `baseline` is the caller's shipped model."""
        return self._read(lifecycle.rollback, baseline, by, reason)

    # -- health and the outbox -----------------------------------------------------------------

    def outbox_backlog(self) -> int:
        """How many writes wait in the outbox for the database."""
        return self.outbox.backlog()

    def flush_outbox(self) -> int:
        """Apply the whole backlog now, in order; returns how many entries were applied.
        DatabaseUnavailableError when the database still cannot be reached."""
        self.outbox.rescan()
        try:
            applied = self.outbox.drain(self._apply_entries)
        except _TRANSIENT as err:
            self._backoff.failed()
            raise self._failure(err) from None
        self._backoff.succeeded()
        return applied

    def is_reachable(self) -> bool:
        """Whether the database answers now (False without trying while backing off)."""
        if not self._backoff.ready():
            return False
        return self._attempt(lambda connection: connection.execute(text("SELECT 1")))[0]

    @property
    def pending_writes(self) -> int:
        """Predictions handed to the writer thread and not yet taken into a transaction."""
        return self._writer.pending

    def close(self) -> None:
        """Finish the predictions being logged, stop the writer thread, release the connections."""
        self._writer.close()
        self.engine.dispose()
        self.outbox.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------------

    def _keep_predictions(self, records: list[PredictionRecord]) -> list[BaseException | None]:
        """The writer thread's work: `records` in one transaction, or in the outbox, in order.
        Returns each record's outcome: None (kept) or the error its caller gets."""
        if self._flush_if_due():
            try:
                if self._attempt(queries.insert_predictions, records, batch=True)[0]:
                    return [None] * len(records)
            except Exception as err:
                # Refused for good (a constraint, say): find which record, so the others are kept.
                if len(records) == 1:
                    return [err]
                return [outcome for record in records for outcome in self._keep_predictions([record])]
        self.outbox.append_many("prediction", [(str(r.id), r.model_dump_json()) for r in records])
        return [None] * len(records)

    @contextmanager
    def _transaction(self, *, batch: bool = False) -> Iterator[Connection]:
        """A transaction. `batch`: the work is one statement run for many rows, which PostgreSQL
        takes without a transaction block: psycopg pipelines the rows behind one Sync, and the
        server runs them as one implicit transaction, in one round trip instead of three (BEGIN,
        the rows, COMMIT). SQLite keeps its block, else every row would be a commit."""
        if batch and not self.is_sqlite:
            with self._autocommit_engine.connect() as connection:
                yield connection
        else:
            with self.engine.begin() as connection:
                yield connection

    def _attempt(self, operation: Callable[..., T], *args: Any, batch: bool = False) -> tuple[bool, T | None]:
        """Run `operation` in one transaction: (True, its result), or (False, None) when the
        database could not take it (and the back-off starts)."""
        try:
            result = self._run(operation, *args, batch=batch)
        except _TRANSIENT as err:
            self._note_failure(err)
            return False, None
        except sa_exc.DBAPIError as err:  # refused for good: say so in one line
            raise self._failure(err) from None
        self._backoff.succeeded()
        return True, result

    def _run(self, operation: Callable[..., T], *args: Any, batch: bool = False) -> T:
        def run_once() -> T:
            with self._transaction(batch=batch) as connection:
                return operation(connection, *args)

        return _once_more_if_dropped(run_once)

    def _read(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a query, after flushing the outbox so that reads see every write."""
        if self._flush_if_due():
            reached, result = self._attempt(operation, *args)
            if reached:
                return result
        raise self._unavailable()

    def _unavailable(self) -> DatabaseUnavailableError:
        return DatabaseUnavailableError(f"{self.where} cannot be reached now; try again shortly")

    def _flush_if_due(self) -> bool:
        """Flush any backlog; True when the database can be written directly (no backlog left)."""
        if not self._backoff.ready():
            return False
        if self.outbox.is_empty():
            return True
        try:
            applied = self.outbox.drain(self._apply_entries)
        except _TRANSIENT as err:
            self._note_failure(err)
            return False
        except Exception:
            # A entry the database refuses for good stays queued (never dropped) and is reported;
            # new writes queue up behind it rather than overtake it.
            log.exception("the outbox of %s could not be flushed", self.where)
            self._backoff.failed()
            return False
        log.info("flushed %d outbox entries to %s", applied, self.where)
        return self.outbox.is_empty()

    def _apply_entries(self, entries: list[Entry]) -> None:
        """One outbox batch in one transaction. The batch's predictions go first, as one multi-row
        insert: a label always follows its prediction, even when two threads queued them in the
        wrong order at the start of an outage. Labels then go in the order they were given."""
        of_kind = {kind: [e for e in entries if e.kind == kind] for kind in ("prediction", "model", "label")}
        with self._transaction() as connection:
            records = [PredictionRecord.model_validate_json(e.payload) for e in of_kind["prediction"]]
            queries.insert_predictions(connection, records)
            for entry in of_kind["model"]:
                card = json.loads(entry.payload)
                queries.insert_model(connection, _card_summary(card), card)
            for entry in of_kind["label"]:
                self._apply_queued_label(connection, entry)

    @staticmethod
    def _apply_queued_label(connection: Connection, entry: Entry) -> None:
        label = json.loads(entry.payload)
        at = datetime.fromisoformat(label["labelled_at"])
        if queries.set_label(connection, uuid.UUID(entry.key), label["true_label"], at) is None:
            # Only labels for predictions this process held are queued, so this means the
            # prediction itself was lost before it reached the store: nothing left to label.
            log.warning("dropped a queued label for unknown prediction %s", entry.key)

    def _queue_label(self, prediction_id: uuid.UUID, label: int, at: datetime) -> PredictionRecord:
        record = self._local_record(prediction_id)
        if record is None:
            raise DatabaseUnavailableError(
                f"{self.where} cannot be reached, so prediction {prediction_id} cannot be checked; "
                "the label was not kept, try again shortly"
            )
        payload = json.dumps({"true_label": label, "labelled_at": at.isoformat()})
        self.outbox.append("label", str(prediction_id), payload)
        return self._remember(record.with_label(label, at))

    def _local_record(self, prediction_id: uuid.UUID) -> PredictionRecord | None:
        """This process's copy of a prediction (with its latest queued label), if it has one."""
        key = str(prediction_id)
        queued = self.outbox.latest("prediction", key)
        record = PredictionRecord.model_validate_json(queued) if queued else None
        if record is None:
            with self._recent_lock:
                record = self._recent.get(prediction_id)
        label = self.outbox.latest("label", key)
        if record is not None and label is not None:
            values = json.loads(label)
            record = record.with_label(values["true_label"], datetime.fromisoformat(values["labelled_at"]))
        return record

    def _remember(self, record: PredictionRecord) -> PredictionRecord:
        with self._recent_lock:
            self._recent[record.id] = record
            self._recent.move_to_end(record.id)
            while len(self._recent) > RECENT_CACHE_SIZE:
                self._recent.popitem(last=False)
        return record

    def _note_failure(self, err: BaseException) -> None:
        self._backoff.failed()
        log.warning("%s; writes go to the outbox %s", self._failure(err), self.outbox.path)

    def _failure(self, err: BaseException) -> DatabaseError:
        """The one-line store error for a database failure."""
        if isinstance(err, sa_exc.ProgrammingError):  # e.g. the tables are missing
            return SchemaOutOfDateError(f"{self.where}: {reason(err)}; run: digit-knower db upgrade")
        if isinstance(err, sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError):
            return connection_error(err, self.url)
        return DatabaseError(f"{self.where}: {reason(err)}")

    def _checked(self, operation: Callable[..., T], *args: Any) -> T:
        """Run a schema operation; database failures become one-line store errors."""
        try:
            result = _once_more_if_dropped(lambda: operation(*args))
        except sa_exc.DBAPIError as err:
            if isinstance(err, _TRANSIENT):
                self._backoff.failed()
            raise self._failure(err) from None
        self._backoff.succeeded()
        return result


def _once_more_if_dropped(call: Callable[[], T]) -> T:
    """`call()`, made once more if the server had dropped the connection it was given.

    Pooled connections are not pinged before use (see engine.make_engine), so the first call
    after the server restarted meets a dead connection; SQLAlchemy then empties the pool, and the
    second call connects afresh. Every call here is safe to make twice: inserts skip ids already
    there, a label is set to the same value, migrations are transactions, and reads only read.
    """
    try:
        return call()
    except sa_exc.DBAPIError as err:
        if not err.connection_invalidated:
            raise
    return call()


def _valid_label(label: Any) -> int:
    """The label as an int; numpy integers are welcome, floats, text and booleans are not."""
    try:
        value = None if isinstance(label, bool) else operator.index(label)
    except TypeError:
        value = None
    if value is None or not 0 <= value <= 9:
        raise InvalidLabelError(f"a true label must be a whole number from 0 to 9, not {label!r}")
    return value


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise UnknownPredictionError(f"{value!r} is not a prediction id (a UUID)") from None


def _card_summary(card: Any) -> ModelCardSummary:
    if not isinstance(card, dict):
        raise InvalidModelCardError(f"a model card must be a JSON object, not {type(card).__name__}")
    try:
        return ModelCardSummary.model_validate(card)
    except ValidationError as err:
        problem = err.errors()[0]
        field = ".".join(str(part) for part in problem["loc"]) or "card"
        raise InvalidModelCardError(f"model card field {field!r}: {problem['msg']}") from None
