"""Group commit: concurrent writes share transactions, and each caller still gets its own outcome.

First the writer on its own (a fake `settle` that can be held), then the store on an SQLite file
AND on the real PostgreSQL server. To make batching certain rather than likely, the tests hold
the writer in its first transaction while the other callers queue up behind it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, select

from digit_knower.store import DatabaseError, PredictionRecord, Store
from digit_knower.store.group_commit import GroupCommit
from digit_knower.store.tables import predictions
from tests.support.concurrency import HANG_GUARD_S, queue_in_order, start
from tests.support.store import HeldInserts, count_rows, log_calls, make_record


def submits(writer: GroupCommit[str], items: str) -> list[Callable[[], None]]:
    return [lambda item=item: writer.submit(item) for item in items]


class HeldSettle:
    """A fake `settle` that records each batch; while held, the writer waits inside its first call."""

    def __init__(self, fail: Callable[[str], bool] = lambda _: False) -> None:
        self.batches: list[list[str]] = []
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.fail = fail

    def __call__(self, items: list[str]) -> list[BaseException | None]:
        self.entered.set()
        self.gate.wait(HANG_GUARD_S)
        self.batches.append(items)
        return [ValueError(f"{item} refused") if self.fail(item) else None for item in items]


@pytest.fixture
def held() -> HeldSettle:
    return HeldSettle()


@pytest.fixture
def writer(held: HeldSettle) -> Iterator[GroupCommit[str]]:
    writer = GroupCommit(held, max_batch=4, name="test-writer")
    yield writer
    held.gate.set()
    writer.close()


def test_items_queued_while_the_writer_is_busy_are_settled_together(
    writer: GroupCommit[str], held: HeldSettle
) -> None:
    first = start(lambda: writer.submit("a"))
    held.entered.wait(HANG_GUARD_S)  # the writer took "a" and is busy with it
    later = queue_in_order(submits(writer, "bcdefg"), lambda: writer.pending)
    held.gate.set()
    assert [caller.result() for caller in [first, *later]] == [None] * 7
    # In the order they came, and never more than max_batch (4) in one call.
    assert held.batches == [["a"], ["b", "c", "d", "e"], ["f", "g"]]


def test_each_caller_gets_the_outcome_of_its_own_item(held: HeldSettle) -> None:
    held.fail = lambda item: item == "c"
    writer = GroupCommit(held)
    try:
        plug = start(lambda: writer.submit("a"))
        held.entered.wait(HANG_GUARD_S)
        callers = queue_in_order(submits(writer, "bcd"), lambda: writer.pending)
        held.gate.set()
        b, c, d = (caller.result() for caller in callers)
    finally:
        held.gate.set()
        writer.close()
    assert plug.result() is None
    assert (b, d) == (None, None)
    assert isinstance(c, ValueError) and str(c) == "c refused"
    assert held.batches == [["a"], ["b", "c", "d"]]


def test_an_exception_from_settle_reaches_every_caller_and_the_writer_carries_on() -> None:
    calls = []

    def settle(items: list[int]) -> list[BaseException | None]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("the disk is on fire")
        return [None] * len(items)

    writer = GroupCommit(settle)
    try:
        with pytest.raises(RuntimeError, match="on fire"):
            writer.submit(1)
        writer.submit(2)  # the writer thread survived the failed batch
    finally:
        writer.close()
    assert calls == [[1], [2]]


def test_close_settles_what_was_submitted_and_stops_the_thread(
    writer: GroupCommit[str], held: HeldSettle
) -> None:
    callers = [start(lambda: writer.submit("a"))]
    held.entered.wait(HANG_GUARD_S)
    callers += queue_in_order([lambda: writer.submit("b")], lambda: writer.pending)
    closing = threading.Thread(target=writer.close)
    closing.start()
    held.gate.set()
    closing.join(HANG_GUARD_S)
    assert not closing.is_alive()
    assert [caller.result() for caller in callers] == [None, None]
    assert held.batches == [["a"], ["b"]]
    assert "test-writer" not in {t.name for t in threading.enumerate()}
    writer.submit("c")  # a closed writer starts again when used again
    assert held.batches[-1] == ["c"]


# -- from an event loop ----------------------------------------------------------------------------


def test_items_submitted_in_one_turn_of_an_event_loop_go_to_the_writer_together(held: HeldSettle) -> None:
    held.gate.set()
    writer = GroupCommit(held)

    async def main() -> None:
        await asyncio.gather(*(writer.submit_async(item) for item in "abc"))  # one turn
        await writer.submit_async("d")  # a later turn
        await writer.submit_async("e")

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert held.batches == [["a", "b", "c"], ["d"], ["e"]]


def test_each_task_gets_the_outcome_of_its_own_item_and_the_loop_is_never_blocked(held: HeldSettle) -> None:
    held.fail = lambda item: item == "b"
    writer = GroupCommit(held)

    async def main() -> list[BaseException | None]:
        waiting = asyncio.gather(*(writer.submit_async(item) for item in "abc"), return_exceptions=True)
        # The writer is held inside its batch, and the loop still runs other tasks meanwhile.
        await asyncio.to_thread(held.entered.wait, HANG_GUARD_S)
        assert not waiting.done()
        held.gate.set()
        return await waiting

    try:
        outcomes = asyncio.run(main())
    finally:
        held.gate.set()
        writer.close()
    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], ValueError) and str(outcomes[1]) == "b refused"
    assert held.batches == [["a", "b", "c"]]


def test_a_task_cancelled_while_it_waits_still_has_its_item_settled(held: HeldSettle) -> None:
    """A client that hangs up does not take its prediction back from the log."""
    writer = GroupCommit(held)

    async def main() -> None:
        task = asyncio.create_task(writer.submit_async("a"))
        await asyncio.to_thread(held.entered.wait, HANG_GUARD_S)  # handed over and being settled
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        held.gate.set()

    try:
        asyncio.run(main())
    finally:
        held.gate.set()
        writer.close()
    assert held.batches == [["a"]]


def test_a_turn_larger_than_max_batch_is_settled_in_chunks(held: HeldSettle) -> None:
    held.gate.set()
    writer = GroupCommit(held, max_batch=2)

    async def main() -> None:
        await asyncio.gather(*(writer.submit_async(item) for item in "abcde"))

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert held.batches == [["a", "b"], ["c", "d"], ["e"]]


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_batch must be 1 or more"):
        GroupCommit(lambda items: [None] * len(items), max_batch=0)


# -- the store -----------------------------------------------------------------------------------


@pytest.fixture
def inserts(store: Store) -> Iterator[HeldInserts]:
    inserts = HeldInserts(store)
    yield inserts
    inserts.stop_holding()


def inserts_run(store: Store) -> list[int]:
    """The size of each insert of predictions the store runs from now on (one per batch)."""
    sizes: list[int] = []

    def count(_conn, _cursor, statement: str, parameters, _context, executemany: bool) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PREDICTIONS"):
            sizes.append(len(parameters) if executemany else 1)

    event.listen(store.engine, "before_cursor_execute", count)
    return sizes


def committed_ids(store: Store) -> list:
    with store.engine.connect() as connection:
        return list(connection.execute(select(predictions.c.id).order_by(predictions.c.id)).scalars())


def test_concurrent_predictions_land_exactly_once_in_fewer_transactions(
    store: Store, inserts: HeldInserts
) -> None:
    batches = inserts_run(store)
    records = [make_record(i % 10) for i in range(400)]
    plug = start(lambda: store.log_prediction(records[0]))
    inserts.wait_for_insert()  # the writer is busy with the first record
    queued = queue_in_order(log_calls(store, records[1:8]), lambda: store.pending_writes)
    inserts.stop_holding()
    rest = [start(call) for call in log_calls(store, records[8:])]
    assert [caller.result() for caller in [plug, *queued, *rest]] == [None] * 400
    assert count_rows(store) == 400
    assert sorted(committed_ids(store)) == sorted(record.id for record in records)
    assert store.outbox_backlog() == 0
    assert len(batches) < 400  # the 7 queued behind the plug shared one insert, at least


def test_a_record_the_database_refuses_does_not_sink_its_batch(store: Store, inserts: HeldInserts) -> None:
    good = [make_record(1), make_record(2)]
    bad = PredictionRecord.model_construct(**{**make_record(3).model_dump(), "digit": 12})  # CHECK fails
    plug = start(lambda: store.log_prediction(make_record(0)))
    inserts.wait_for_insert()
    first, refused, second = queue_in_order(
        log_calls(store, [good[0], bad, good[1]]), lambda: store.pending_writes
    )
    inserts.stop_holding()
    assert plug.result() is None
    assert first.result() is None and second.result() is None
    outcome = refused.result()
    assert isinstance(outcome, DatabaseError) and "digit_0_9" in str(outcome)
    ids = set(committed_ids(store))
    assert {good[0].id, good[1].id} <= ids and bad.id not in ids
    assert count_rows(store) == 3
    assert store.outbox_backlog() == 0  # refused for good, and said so: not queued to fail again


def test_predictions_logged_in_one_turn_of_an_event_loop_share_one_insert(store: Store) -> None:
    batches = inserts_run(store)
    records = [make_record(i % 10) for i in range(20)]

    async def log_all() -> None:
        await asyncio.gather(*(store.log_prediction_async(record) for record in records))

    asyncio.run(log_all())
    assert batches == [20]
    assert sorted(committed_ids(store)) == sorted(record.id for record in records)
    assert store.outbox_backlog() == 0


def test_close_stops_the_writer_thread(database_url: str, tmp_path: Path) -> None:
    store = Store(database_url, outbox_path=tmp_path / "outbox.sqlite3")
    store.upgrade()
    name = f"store-writer {store.where}"
    store.log_prediction(make_record())
    assert name in {t.name for t in threading.enumerate()}
    store.close()
    assert name not in {t.name for t in threading.enumerate()}
    assert count_rows(store) == 1


def test_a_store_that_only_reads_starts_no_writer_thread(store: Store) -> None:
    before = {t.ident for t in threading.enumerate()}
    assert store.stats().total == 0
    assert {t.ident for t in threading.enumerate()} == before


def test_the_same_record_twice_in_one_batch_is_one_row(store: Store, inserts: HeldInserts) -> None:
    """Two clients' retries of one prediction may share a batch: one row, and neither is refused."""
    plug = start(lambda: store.log_prediction(make_record(0)))
    inserts.wait_for_insert()
    twice = make_record(5)
    callers = queue_in_order(log_calls(store, [twice, twice]), lambda: store.pending_writes)
    inserts.stop_holding()
    assert [caller.result() for caller in [plug, *callers]] == [None] * 3
    assert committed_ids(store).count(twice.id) == 1
    assert count_rows(store) == 2
