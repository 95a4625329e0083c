"""`Store`: the prediction log and the model registry, one obvious method each.

Nothing is lost when the database is down. A write that cannot reach the database goes to the
durable local outbox and the call returns normally; the backlog is flushed, in order, on the next
write that finds the database back, by `ensure_schema()` at start-up, by `flush_outbox()`, and,
once `start_flusher()` was called (the front ends do), by a background thread as soon as the
database is back, with no call at all. After a failure the store stops trying for a short,
growing while (a back-off), so that calls during an outage do not each wait for a connect timeout.

The outbox keeps only this database's entries moving (see `outbox`): another database's entries
stay and are reported (`outbox_status()`, the log), and an entry this database refuses for good
is tried a few times, then set aside as a dead letter, while the entries behind it go on.

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
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import ValidationError
from sqlalchemy import Connection, text
from sqlalchemy import exc as sa_exc

from digit_knower.store import api_keys as keys
from digit_knower.store import deployments as lifecycle
from digit_knower.store import queries, schema
from digit_knower.store.engine import (
    connection_error,
    describe,
    fingerprint,
    make_engine,
    parse_url,
    reason,
    sqlite_file,
)
from digit_knower.store.errors import (
    DatabaseError,
    DatabaseUnavailableError,
    InvalidLabelError,
    InvalidModelCardError,
    SchemaOutOfDateError,
    UnknownPredictionError,
)
from digit_knower.store.flusher import IDLE_CHECK_S, Flusher
from digit_knower.store.group_commit import GroupCommit
from digit_knower.store.outbox import Drained, Entry, Kind, Outbox, OutboxStatus
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
# Failures that no retry will mend: the database refuses the record (a constraint, a value out of
# range), or the record itself cannot be read. An outbox entry that meets one is refused, not
# retried as a whole batch (DBAPIError's other subclasses are StatementErrors too, but come first).
_REFUSED = (sa_exc.StatementError, ValueError, TypeError, KeyError)
RECENT_CACHE_SIZE = 1024
# The most predictions one transaction inserts. 256 rows of ~1 kB are a fraction of a millisecond
# for PostgreSQL, and far below its limit of 65535 bound parameters (11 a row).
MAX_BATCH = 256
# The least pause between two background passes while entries wait (another process may be
# flushing them: look again shortly).
MIN_PASS_PAUSE_S = 0.5


class Backoff:
    """After a failure, do not try again for `first` seconds, doubling up to `most`."""

    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self._delay = 0.0
        self._until = 0.0
        self._lock = threading.Lock()

    def ready(self) -> bool:
        return time.monotonic() >= self._until

    @property
    def failing(self) -> bool:
        """Whether the last try failed (no success since)."""
        return self._delay > 0

    def remaining(self) -> float:
        """Seconds until the next try is due (0 when it is)."""
        return max(0.0, self._until - time.monotonic())

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
        retry_at_most_s: float = 5.0,
    ) -> None:
        """`url`: a SQLAlchemy URL. `outbox_path`: the local outbox file (default: beside an SQLite
        database, else the settings' `outbox_path`). `auto_migrate`: whether
        `ensure_schema()` may upgrade the database itself (default: for SQLite only).
        `retry_after_s`, `retry_at_most_s`: the pause after a failure, doubling up to the most;
        the background flusher's backlog lands within the most of the database coming back."""
        self.url = parse_url(url)
        self.where = describe(self.url)
        self.fingerprint = fingerprint(self.url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.auto_migrate = self.is_sqlite if auto_migrate is None else auto_migrate
        self.engine = make_engine(self.url)
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        outbox_path = Path(outbox_path) if outbox_path else self._default_outbox_path()
        self.outbox = Outbox(outbox_path, self.fingerprint, max_bytes=_outbox_cap())
        self._backoff = Backoff(retry_after_s, retry_at_most_s)
        # After the database refused outbox entries: the pause before they are tried again.
        self._refusal_pause = Backoff(retry_after_s, retry_at_most_s)
        self._flusher: Flusher | None = None
        self._foreign_reported: tuple[tuple[str, int], ...] = ()
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
            return sqlite_file(self.url).with_suffix(".outbox.sqlite3")
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
        self._report_foreign()
        self._flush_if_due()

    def upgrade(self, revision: str = "head") -> schema.Migration:
        return self._checked(schema.upgrade, self.engine, revision)

    def downgrade(self, revision: str = "-1") -> schema.Migration:
        return self._checked(schema.downgrade, self.engine, revision)

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

    def set_true_label(
        self,
        prediction_id: uuid.UUID | str,
        label: int,
        *,
        owner: str | None = None,
        by: str | None = None,
    ) -> PredictionRecord:
        """Record what the digit really was; a later label replaces an earlier one, never the
        reverse. `owner`: label only this owner's prediction (UnknownPredictionError for anyone
        else's, as for an unknown id, so that ids do not leak); None: any (an admin). `by`: who
        gives the label, kept in `labelled_by` (default: the owner)."""
        label = _valid_label(label)
        prediction_id = _as_uuid(prediction_id)
        by = owner if by is None else by
        at = datetime.now(UTC)
        if self._flush_if_due() or self._nothing_queued_for(prediction_id):
            reached, row = self._attempt(queries.set_label, prediction_id, label, at, owner, by)
            if reached:
                if row is None:
                    raise _unknown(prediction_id)
                return self._remember(queries.to_record(row))
        return self._queue_label(prediction_id, label, at, owner, by)

    def delete_prediction(self, prediction_id: uuid.UUID | str, *, owner: str | None = None) -> None:
        """Delete a prediction, picture, label and all. `owner`: only this owner's (anyone else's
        is UnknownPredictionError, as an unknown id is); None: any (an admin). Needs the database:
        DatabaseUnavailableError while it is away (nothing is deleted)."""
        prediction_id = _as_uuid(prediction_id)
        if not self._read(queries.delete_prediction, prediction_id, owner):
            raise _unknown(prediction_id)
        with self._recent_lock:
            self._recent.pop(prediction_id, None)

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
        self._queue("model", [(summary.version, payload)])
        self._registered.add(summary.version)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, prediction_id: uuid.UUID | str, *, owner: str | None = None) -> PredictionRecord:
        """One prediction. `owner`: only this owner's (anyone else's is UnknownPredictionError,
        as an unknown id is); None: any (an admin)."""
        prediction_id = _as_uuid(prediction_id)
        self._flush_if_due()
        reached, row = (
            self._attempt(queries.get, prediction_id, owner) if self._backoff.ready() else (False, None)
        )
        if row is not None:
            return queries.to_record(row)
        # Not in the database (yet): it may still wait in the outbox. This process's memory of
        # the predictions it logged counts only while the database cannot say: a prediction
        # deleted through another process must not come back from it.
        local = self._local_record(prediction_id, remembered=not reached)
        if local is not None and (owner is None or local.owner == owner):
            return local
        if reached:
            raise _unknown(prediction_id)
        raise self._unavailable()

    def recent(
        self, limit: int = 20, offset: int = 0, labelled: bool | None = None, *, owner: str | None = None
    ) -> list[PredictionRecord]:
        """Newest first. `labelled`: only labelled (True), only unlabelled (False), or all (None).
        `owner`: only this owner's predictions; None: everyone's (an admin)."""
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be 0 or more, not {limit} and {offset}")
        rows = self._read(queries.recent, limit, offset, labelled, owner)
        return [queries.to_record(row) for row in rows]

    def prune(self, older_than: timedelta) -> int:
        """Drop the pictures (`model_input`, and `part_inputs` for several digits) of predictions
        older than `older_than`, keeping their digit, verdict, label and owner for the statistics;
        how many predictions lost their pictures."""
        if older_than <= timedelta(0):
            raise ValueError(f"the age to prune at must be more than 0, not {older_than}")
        return self._read(queries.prune_pictures, datetime.now(UTC) - older_than)

    def stats(self) -> Stats:
        return self._read(queries.stats)

    # -- API keys (store/keys.py) ---------------------------------------------------------

    def create_api_key(
        self, name: str, scopes: Iterable[str], *, trusted: bool = False
    ) -> tuple[keys.ApiKey, str]:
        """A new key: (the key, its token). Only the token's hash is kept: show it now or never."""
        name, chosen = keys.valid_name(name), keys.valid_scopes(scopes)
        return self._read(keys.create, name, chosen, trusted, datetime.now(UTC))

    def list_api_keys(self) -> list[keys.ApiKey]:
        """Every key, revoked ones included, by name."""
        return self._read(keys.listing)

    def revoke_api_key(self, name: str) -> keys.ApiKey:
        """Stop a key for good (its name is never given again); UnknownApiKeyError for no such key."""
        return self._read(keys.revoke, name, datetime.now(UTC))

    # -- the model lifecycle: what it learns from, and which model serves (store/lifecycle.py) --

    def labelled_feedback(self, *, trusted_only: bool = True) -> list[lifecycle.Feedback]:
        """Every labelled one-digit prediction with the input the model saw, oldest first: those
        whose label is trusted (see `lifecycle.feedback`), or all with `trusted_only=False`."""
        return self._read(lifecycle.labelled_feedback, trusted_only)

    def untrusted_labels(self) -> int:
        """How many labelled predictions retraining leaves out, their labels not being trusted."""
        return self._read(lifecycle.untrusted_labels)

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
        """How many writes wait in the outbox for this database."""
        return self.outbox.backlog()

    def outbox_status(self) -> OutboxStatus:
        """The backlog for this database, the entries waiting for other databases, the dead letters."""
        return self.outbox.status()

    def dead_letter_count(self) -> int:
        """How many outbox entries the database refused for good and were set aside."""
        return self.outbox.status().dead_letters

    def outbox_problem(self) -> str | None:
        """None when a record could be queued in the outbox now, else why not (one line, starting
        "local storage full" when the outbox is at its cap or its disk is full): a real write in
        its folder, room to spare, and the outbox file itself writable."""
        return self.outbox.storage_problem() or self.outbox.check_writable()

    def flush_outbox(self, *, wait_s: float = 0.0, on_retry: Callable[[str], None] | None = None) -> int:
        """Apply the backlog for this database now, in order; returns how many entries were applied.

        Entries the database refuses stay queued, or become dead letters after a few refusals.
        `wait_s`: for that long, try again after each pause while the database cannot be reached
        or refused entries wait for their next try; `on_retry(why)` hears of each wait.
        DatabaseUnavailableError when the database still cannot be reached.
        """
        deadline = time.monotonic() + wait_s
        applied = 0
        self._report_foreign()
        while True:
            self.outbox.rescan()
            try:
                drained = self.outbox.drain(self._apply_entries)
            except _TRANSIENT as err:
                self._backoff.failed()
                failure = self._failure(err)
                if not isinstance(failure, DatabaseUnavailableError):
                    raise failure from None
                if time.monotonic() + self._backoff.remaining() > deadline:
                    raise failure from None
                pause = self._backoff.remaining()
                why = str(failure)
            else:
                self._backoff.succeeded()
                self._after_drain(drained)
                applied += drained.applied
                pause = self._refusal_pause.remaining()
                if not drained.refused or time.monotonic() + pause > deadline:
                    return applied
                why = f"{drained.refused} refused entries wait for another try ({drained.reason})"
            if on_retry is not None:
                on_retry(f"{why}; trying again in {pause:.1f} s")
            time.sleep(pause)

    def start_flusher(self, idle_check_s: float = IDLE_CHECK_S) -> None:
        """Flush the outbox in the background from now on: as soon as the database takes writes
        again, with no call needed (see `flusher`); while idle, look for entries other processes
        queued every `idle_check_s`. `close()` stops it."""
        if self._flusher is None:
            name = f"outbox-flusher {self.where}"
            self._flusher = Flusher(self._flush_pass, name=name, idle_check_s=idle_check_s)

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
        """Stop the background flusher, finish the predictions being logged, stop the writer
        thread, release the connections. Whatever still waits stays in the outbox."""
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.close()
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
        self._queue("prediction", [(str(r.id), r.model_dump_json()) for r in records])
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

    def _attempt(
        self, operation: Callable[..., T], *args: Any, batch: bool = False
    ) -> tuple[Literal[True], T] | tuple[Literal[False], None]:
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
        """Run a query, after flushing the outbox so that reads see every write that can be
        written (not those another process is flushing right now, nor refused ones)."""
        self._flush_if_due()
        if self._backoff.ready():
            attempt = self._attempt(operation, *args)
            if attempt[0]:  # reached: the result is the operation's own, None included
                return attempt[1]
        raise self._unavailable()

    def _unavailable(self) -> DatabaseUnavailableError:
        return DatabaseUnavailableError(f"{self.where} cannot be reached now; try again shortly")

    def _flush_if_due(self, stop: Callable[[], bool] | None = None) -> bool:
        """Flush any backlog, unless a pause runs or another thread or process is flushing it now;
        True when the database can be written directly (nothing waits for it)."""
        if not self._backoff.ready():
            return False
        if self.outbox.is_empty():
            return True
        if not self._refusal_pause.ready():
            return False  # refused entries wait for their next try; new writes queue behind them
        try:
            drained = self.outbox.drain(self._apply_entries, wait=False, stop=stop)
        except _TRANSIENT as err:
            self._note_failure(err)
            return False
        except Exception:
            log.exception("the outbox of %s could not be flushed", self.where)
            self._backoff.failed()
            return False
        if drained is None:  # someone else is at it; what this caller writes queues behind
            return False
        self._backoff.succeeded()
        self._after_drain(drained)
        return self.outbox.is_empty()

    def _flush_pass(self, stop: Callable[[], bool]) -> float | None:
        """One pass of the background flusher: flush what is due; return the seconds until the
        next pass, or None when nothing waits for this database."""
        self.outbox.rescan()  # other processes share the file
        self._report_foreign()
        if self.outbox.is_empty():
            return None
        self._flush_if_due(stop)
        if self.outbox.is_empty():
            return None
        return max(MIN_PASS_PAUSE_S, self._backoff.remaining(), self._refusal_pause.remaining())

    def _after_drain(self, drained: Drained) -> None:
        where, path = self.where, self.outbox.path
        if drained.applied:
            log.info("flushed %d outbox entries to %s", drained.applied, where)
        if drained.dead_lettered:
            log.error(
                "%s refused %d outbox entries for good (%s); they are set aside as dead letters in %s: "
                "see digit-knower db outbox list",
                where,
                drained.dead_lettered,
                drained.reason,
                path,
            )
        if drained.refused:
            self._refusal_pause.failed()
            log.warning(
                "%s refused %d outbox entries (%s); the entries behind them went on, and they are "
                "tried again in %.1f s",
                where,
                drained.refused,
                drained.reason,
                self._refusal_pause.remaining(),
            )
        else:
            self._refusal_pause.succeeded()

    def _report_foreign(self) -> None:
        """Log the entries waiting for other databases, whenever they change."""
        groups = self.outbox.foreign()
        seen = tuple((group.database, group.count) for group in groups)
        if seen == self._foreign_reported:
            return
        self._foreign_reported = seen
        for group in groups:
            log.warning(
                "the outbox %s holds %d entries for another database, %s (the oldest queued %s); "
                "they are left alone: see digit-knower db outbox list",
                self.outbox.path,
                group.count,
                group.database,
                group.oldest,
            )

    def _apply_entries(self, entries: list[Entry]) -> dict[int, str]:
        """Apply one outbox batch; returns the entries the database refused for good, {seq: why}.

        The batch goes in one transaction. When the database refuses it for good, it is halved
        until each refused entry stands alone, so that every other entry is applied all the same.
        A failure that may pass (the database went away) is raised: the batch stays queued.
        """
        try:
            self._run(self._apply_batch, entries)
            return {}
        except _TRANSIENT:
            raise
        except (*_REFUSED, _RefusedEntry) as err:
            if len(entries) == 1:
                return {entries[0].seq: _refusal(err)}
        half = len(entries) // 2
        return {**self._apply_entries(entries[:half]), **self._apply_entries(entries[half:])}

    def _apply_batch(self, connection: Connection, entries: list[Entry]) -> None:
        """The batch's predictions go first, as one multi-row insert: a label always follows its
        prediction, even when two threads queued them in the wrong order at the start of an
        outage. Labels then go in the order they were given."""
        of_kind = {kind: [e for e in entries if e.kind == kind] for kind in ("prediction", "model", "label")}
        records = [PredictionRecord.model_validate_json(e.payload) for e in of_kind["prediction"]]
        queries.insert_predictions(connection, records)
        for entry in of_kind["model"]:
            card = json.loads(entry.payload)
            queries.insert_model(connection, _card_summary(card), card)
        for entry in of_kind["label"]:
            self._apply_queued_label(connection, entry)

    def _apply_queued_label(self, connection: Connection, entry: Entry) -> None:
        label = json.loads(entry.payload)
        at = datetime.fromisoformat(label["labelled_at"])
        # Its owner was checked when it was queued; a newer label on the row (given directly
        # meanwhile, through another replica) stays (queries.set_label).
        by = label.get("labelled_by")
        if queries.set_label(connection, uuid.UUID(entry.key), label["true_label"], at, by=by) is None:
            # Its prediction may still be on its way (queued behind it), or was refused: the label
            # is tried again, and set aside with its prediction, never dropped.
            raise _RefusedEntry(f"{self.where} has no prediction with the id {entry.key}")

    def _queue(self, kind: Kind, items: list[tuple[str, str]]) -> None:
        """Put records in the outbox, and have the background flusher see them."""
        self.outbox.append_many(kind, items)
        if self._flusher is not None:
            self._flusher.wake()

    def _nothing_queued_for(self, prediction_id: uuid.UUID) -> bool:
        """Whether a label can go straight to the database although the outbox is not empty:
        it is reachable, and nothing for this prediction waits in the outbox (a queued label
        would overwrite this newer one later)."""
        key = str(prediction_id)
        return (
            self._backoff.ready()
            and self.outbox.latest("prediction", key) is None
            and self.outbox.latest("label", key) is None
        )

    def _queue_label(
        self, prediction_id: uuid.UUID, label: int, at: datetime, owner: str | None, by: str | None
    ) -> PredictionRecord:
        record = self._local_record(prediction_id)
        if record is None:
            raise DatabaseUnavailableError(
                f"{self.where} cannot be reached, so prediction {prediction_id} cannot be checked; "
                "the label was not kept, try again shortly"
            )
        if owner is not None and record.owner != owner:
            raise _unknown(prediction_id)
        payload = json.dumps({"true_label": label, "labelled_at": at.isoformat(), "labelled_by": by})
        self._queue("label", [(str(prediction_id), payload)])
        return self._remember(record.with_label(label, at, by))

    def _local_record(self, prediction_id: uuid.UUID, *, remembered: bool = True) -> PredictionRecord | None:
        """This process's copy of a prediction (with its latest queued label), if it has one: in
        the outbox, or (`remembered`) among the last predictions it logged."""
        key = str(prediction_id)
        queued = self.outbox.latest("prediction", key)
        record = PredictionRecord.model_validate_json(queued) if queued else None
        if record is None and remembered:
            with self._recent_lock:
                record = self._recent.get(prediction_id)
        label = self.outbox.latest("label", key)
        if record is not None and label is not None:
            values = json.loads(label)
            at = datetime.fromisoformat(values["labelled_at"])
            record = record.with_label(values["true_label"], at, values.get("labelled_by"))
        return record

    def _remember(self, record: PredictionRecord) -> PredictionRecord:
        with self._recent_lock:
            self._recent[record.id] = record
            self._recent.move_to_end(record.id)
            while len(self._recent) > RECENT_CACHE_SIZE:
                self._recent.popitem(last=False)
        return record

    def _note_failure(self, err: BaseException) -> None:
        # The first failure of an outage is a warning; the retries that fail after it (the
        # background flusher's every few seconds, all night long) only add noise.
        level = logging.DEBUG if self._backoff.failing else logging.WARNING
        self._backoff.failed()
        log.log(level, "%s; writes go to the outbox %s", self._failure(err), self.outbox.path)

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


class _RefusedEntry(Exception):
    """An outbox entry the database cannot take (as it stands now)."""


def _refusal(err: BaseException) -> str:
    """Why an entry was refused, in one line."""
    if isinstance(err, sa_exc.DBAPIError):
        why = reason(err)
    elif isinstance(err, ValidationError):
        problem = err.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "record"
        why = f"the record cannot be read: {where}: {problem['msg']}"
    elif isinstance(err, _RefusedEntry):
        why = str(err)
    else:
        why = f"the record cannot be read: {type(err).__name__}: {err}"
    return (why.splitlines() or [""])[0][:500]


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


def _outbox_cap() -> int | None:
    """DIGIT_KNOWER_OUTBOX_MAX_MB in bytes; None when unset."""
    from digit_knower.settings import get_settings

    cap = get_settings().outbox_max_mb
    return None if cap is None else int(cap * 1_000_000)


def _unknown(prediction_id: uuid.UUID) -> UnknownPredictionError:
    return UnknownPredictionError(f"no prediction has the id {prediction_id}")


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
