"""What the tests need around the store: valid records and cards, row counts, a store that retries
quickly, a database that refuses one record for good, the `db` command, and a writer held at its
insert.

    record = make_record(3, at=T0)           # a valid prediction record, random picture
    several = make_several(4, 2)             # several digits read, a random picture for each
    store = open_store(url, tmp_path / "outbox.sqlite3")
    refuse_poison(url); queue_prediction(store, latency_ms=POISON_LATENCY_MS)
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table, create_engine, event, func, select, text

from digit_knower.store import PredictionRecord, Store, uuid7
from digit_knower.store.tables import predictions
from tests.support.concurrency import HANG_GUARD_S

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
POISON_LATENCY_MS = 666.0  # a database made by refuse_poison refuses a prediction with this latency
DIGIT_KNOWER = Path(sys.executable).parent / "digit-knower"


# ---- records and cards ----


def make_record(
    digit: int = 7,
    *,
    model_version: str = "dk-test",
    at: datetime | None = None,
    source: str = "web",
    verdict: str | None = "digit",
    rng: random.Random | None = None,
) -> PredictionRecord:
    """A valid record with a random picture; `at` sets its time (and the time inside its id).
    `verdict=None` makes a row as logged before verdicts existed."""
    rng = rng or random.Random()
    at = at or datetime.now(UTC)
    probabilities = [0.02] * 10
    probabilities[digit] = 0.82
    return PredictionRecord(
        id=uuid7(int(at.timestamp() * 1e9) + rng.randrange(1000)),
        created_at=at,
        source=source,
        model_version=model_version,
        digit=digit,
        confidence=0.82,
        probabilities=probabilities,
        model_input=rng.randbytes(784),
        latency_ms=rng.uniform(0.1, 5.0),
        verdict=verdict,
        digits=None if verdict is None else [digit],
    )


def make_several(
    *digits: int, at: datetime | None = None, rng: random.Random | None = None
) -> PredictionRecord:
    """A valid record of several digits read side by side: a random picture for each digit, left
    to right, the first one also its `model_input` (as the reader logs them)."""
    rng = rng or random.Random()
    record = make_record(digits[0], at=at, verdict="several_digits", rng=rng)
    rest = b"".join(rng.randbytes(784) for _ in digits[1:])
    assert record.model_input is not None
    several = {"digits": list(digits), "part_inputs": record.model_input + rest}
    return PredictionRecord.model_validate(record.model_dump() | several)


def make_card(version: str = "dk-20261126-abcdef12") -> dict:
    """A model card with every field the store keeps."""
    return {
        "version": version,
        "created_at": "2026-11-26T10:00:00+00:00",
        "architecture": "conv32-conv64-fc128",
        "parameters": 345_000,
        "hyperparameters": {"epochs": 3, "lr": 0.003},
        "seed": 0,
        "data_sha256": {"train-images-idx3-ubyte": "ab" * 32},
        "train_seconds": 61.5,
        "val_accuracy": 0.995,
        "test_accuracy": 0.9956,
        "per_class_accuracy": [0.99] * 10,
        "confusion_matrix": [[0] * 10 for _ in range(10)],
        "history": [{"epoch": 1, "loss": 0.1}],
    }


def count_rows(store: Store, table: Table = predictions) -> int:
    with store.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar_one()


# ---- the store and its outbox ----


def open_store(url: str, outbox: Path, pause_s: float = 0.01) -> Store:
    """A migrated store; its pauses after a failure or a refusal are short enough to wait out."""
    store = Store(url, outbox_path=outbox, retry_after_s=pause_s, retry_at_most_s=pause_s)
    store.upgrade()
    store.ensure_schema()
    return store


def queue_prediction(store: Store, digit: int = 7, *, latency_ms: float | None = None) -> uuid.UUID:
    """Put a prediction straight into the outbox, as an outage would have left it."""
    record = make_record(digit)
    if latency_ms is not None:
        record = record.model_copy(update={"latency_ms": latency_ms})
    store.outbox.append("prediction", str(record.id), record.model_dump_json())
    return record.id


def refuse_poison(url: str) -> None:
    """Make the database refuse one kind of record for good: a constraint it will never satisfy."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER refuse_poison BEFORE INSERT ON predictions "
                    f"WHEN NEW.latency_ms = {POISON_LATENCY_MS} "
                    "BEGIN SELECT RAISE(ABORT, 'poison record refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "ALTER TABLE predictions ADD CONSTRAINT refuse_poison "
                    f"CHECK (latency_ms <> {POISON_LATENCY_MS})"
                )
            )
    engine.dispose()


def accept_poison(url: str) -> None:
    """Undo refuse_poison: the database takes those records again."""
    engine = create_engine(url)
    with engine.begin() as connection:
        if connection.dialect.name == "sqlite":
            connection.execute(text("DROP TRIGGER refuse_poison"))
        else:
            connection.execute(text("ALTER TABLE predictions DROP CONSTRAINT refuse_poison"))
    engine.dispose()


# ---- `digit-knower db ...`, as a person runs it ----


def db(*args: str, url: str | None, state: Path) -> subprocess.CompletedProcess[str]:
    """The installed console script's `db` command, in a subprocess, on `url` (None: the embedded one)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DIGIT_KNOWER_STATE_DIR"] = str(state)
    if url is not None:
        env["DATABASE_URL"] = url
    return subprocess.run(
        [str(DIGIT_KNOWER), "db", *args], env=env, capture_output=True, text=True, cwd=state
    )


# ---- the store's writer, held at its insert ----


class HeldInserts:
    """Holds the store's writer just before each INSERT INTO predictions, until let through."""

    def __init__(self, store: Store) -> None:
        self.engine = store.engine
        self.holding = True
        self._arrived = threading.Semaphore(0)
        self._go = threading.Semaphore(0)
        event.listen(self.engine, "before_cursor_execute", self._before_execute)

    def _before_execute(self, _conn, _cursor, statement: str, *_args) -> None:
        if self.holding and statement.lstrip().upper().startswith("INSERT INTO PREDICTIONS"):
            self._arrived.release()
            self._go.acquire(timeout=HANG_GUARD_S)

    def wait_for_insert(self) -> None:
        """Until the writer waits before an insert (it holds a connection)."""
        assert self._arrived.acquire(timeout=HANG_GUARD_S), "the writer never reached its insert"

    def let_one_go(self) -> None:
        self._go.release()

    def stop_holding(self) -> None:
        # The listener stays (removing it while the writer runs it would break SQLAlchemy's loop).
        self.holding = False
        self._go.release(1000)  # whatever still waits goes on


def log_calls(store: Store, records: list[PredictionRecord]) -> list[Callable[[], None]]:
    """One call per record that logs it (for callers on threads of their own)."""
    return [lambda record=record: store.log_prediction(record) for record in records]
