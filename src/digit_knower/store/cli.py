"""`digit-knower db upgrade | downgrade | current | flush`: the database named by DATABASE_URL.

Every failure is one line on stderr and exit status 1, never a stack trace.
"""

from __future__ import annotations

import argparse
import sys

from digit_knower.store import schema
from digit_knower.store.errors import DatabaseError
from digit_knower.store.repository import Store


def main(args: argparse.Namespace) -> int:
    try:
        with Store.from_settings() as store:
            print(ACTIONS[args.db_command](store, args))
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


def _flush(store: Store, _args: argparse.Namespace) -> str:
    applied = store.flush_outbox()
    return f"{store.where}: applied {applied} outbox entries from {store.outbox.path}"


ACTIONS = {"upgrade": _upgrade, "downgrade": _downgrade, "current": _current, "flush": _flush}
