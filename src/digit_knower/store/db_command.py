"""`digit-knower db upgrade | downgrade | current | flush | outbox`: the database named by
DATABASE_URL, and the local outbox of records waiting for it.

Every failure is one line on stderr and exit status 1 (2 for a command used wrongly), never a
stack trace.
"""

from __future__ import annotations

import argparse
import sys

from digit_knower.store import schema
from digit_knower.store.errors import DatabaseError
from digit_knower.store.outbox import DeadLetter
from digit_knower.store.repository import Store


class _UsageError(Exception):
    """The command line is wrong in a way argparse cannot check."""


def main(args: argparse.Namespace) -> int:
    try:
        with Store.from_settings() as store:
            print(ACTIONS[args.db_command](store, args))
    except _UsageError as err:
        command = " ".join(filter(None, (args.db_command, getattr(args, "outbox_command", None))))
        print(f"digit-knower db {command}: error: {err}", file=sys.stderr)
        return 2
    except DatabaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _upgrade(store: Store, args: argparse.Namespace) -> str:
    store.upgrade(args.revision)
    revision, head = store.current_revision(), schema.head_revision()
    return f"{store.where}: upgraded to revision {revision} (head is {head})"


def _downgrade(store: Store, args: argparse.Namespace) -> str:
    store.downgrade(args.revision)
    return f"{store.where}: downgraded to revision {store.current_revision() or 'none (no tables)'}"


def _current(store: Store, _args: argparse.Namespace) -> str:
    revision, head = store.current_revision(), schema.head_revision()
    state = "up to date" if revision == head else "out of date; run: digit-knower db upgrade"
    return f"{store.where}: revision {revision or 'none (no tables)'}, head {head}: {state}"


def _flush(store: Store, args: argparse.Namespace) -> str:
    def waiting(why: str) -> None:
        print(f"waiting: {why}", file=sys.stderr, flush=True)

    dead_before = store.dead_letter_count()
    applied = store.flush_outbox(wait_s=args.wait, on_retry=waiting)
    lines = [f"{store.where}: applied {applied} outbox entries from {store.outbox.path}"]
    status = store.outbox_status()
    if status.backlog:
        lines.append(f"{status.backlog} entries the database refused wait for another try")
    if status.dead_letters > dead_before:
        lines.append(f"{status.dead_letters - dead_before} refused entries were set aside as dead letters")
    if status.foreign or status.dead_letters:
        lines.append(
            f"left alone: {status.foreign} entries for other databases, {status.dead_letters} dead "
            "letters; see: digit-knower db outbox list"
        )
    return "\n".join(lines)


def _outbox(store: Store, args: argparse.Namespace) -> str:
    return OUTBOX_ACTIONS[args.outbox_command](store, args)


def _outbox_list(store: Store, _args: argparse.Namespace) -> str:
    outbox = store.outbox
    status = outbox.status()
    lines = [
        f"outbox {outbox.path}, for the {store.where} ({store.fingerprint})",
        f"waiting for this database: {status.backlog}",
        f"waiting for other databases: {status.foreign}",
    ]
    for group in outbox.foreign():
        lines += [
            f"  {group.count} for {group.database} (the oldest queued {group.oldest})",
            f"    to write them to this database: digit-knower db outbox retry --database {group.database}",
            f"    to delete them: digit-knower db outbox drop --database {group.database}",
        ]
    dead = outbox.dead_letters()
    lines.append(f"dead letters: {len(dead)}")
    lines += [_dead_letter_line(letter, store.fingerprint) for letter in dead]
    if dead:
        lines.append("  to queue them again: digit-knower db outbox retry ID... (or --all)")
        lines.append("  to delete them: digit-knower db outbox drop ID... (or --all)")
    return "\n".join(lines)


def _dead_letter_line(letter: DeadLetter, own: str) -> str:
    database = "this database" if letter.database in (own, "") else letter.database
    return (
        f"  id {letter.id}: {letter.kind} {letter.key} for {database}, queued {letter.queued_at}, "
        f"refused {letter.attempts} times, the last at {letter.failed_at}: {letter.error}"
    )


def _outbox_retry(store: Store, args: argparse.Namespace) -> str:
    if args.database is not None:
        _chosen(args)
        moved = store.outbox.adopt_foreign(args.database)
        return f"{moved} entries meant for {args.database} will be written to the {store.where}"
    queued = store.outbox.retry_dead_letters(_chosen(args))
    return (
        f"queued {queued} dead letters again; the running page and API write them within a minute, "
        "or run: digit-knower db flush"
    )


def _outbox_drop(store: Store, args: argparse.Namespace) -> str:
    if args.database is not None:
        _chosen(args)
        return f"deleted {store.outbox.drop_foreign(args.database)} entries meant for {args.database}"
    return f"deleted {store.outbox.drop_dead_letters(_chosen(args))} dead letters"


def _chosen(args: argparse.Namespace) -> list[int] | None:
    """The dead letters named: a list of ids, or None for --all. Exactly one way must be used."""
    ways = [bool(args.ids), bool(args.all), args.database is not None]
    if sum(ways) != 1:
        raise _UsageError("name dead letters by their ids, or use --all, or --database (one of the three)")
    return None if args.all else args.ids


ACTIONS = {
    "upgrade": _upgrade,
    "downgrade": _downgrade,
    "current": _current,
    "flush": _flush,
    "outbox": _outbox,
}
OUTBOX_ACTIONS = {"list": _outbox_list, "retry": _outbox_retry, "drop": _outbox_drop}
