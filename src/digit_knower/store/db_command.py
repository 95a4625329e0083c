"""`digit-knower db upgrade | downgrade | current | flush | outbox`: the database named by
DATABASE_URL, and the local outbox of records waiting for it.

Every failure is one line on stderr and exit status 1 (2 for a command used wrongly), never a
stack trace. The store (SQLAlchemy, Alembic) is imported only when a command runs, so `--help`
stays light.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digit_knower.store.outbox import DeadLetter
    from digit_knower.store.repository import Store


class _UsageError(Exception):
    """The command line is wrong in a way argparse cannot check."""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `db` and its actions to the `digit-knower` command line."""
    parser = subparsers.add_parser(
        "db",
        help="manage the prediction database (migrations) and the local outbox",
        description="Manage the database named by DATABASE_URL (or the embedded SQLite file) with "
        "Alembic, and the local outbox of records waiting for it (in DIGIT_KNOWER_STATE_DIR).",
    )
    actions = parser.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    for name, text in [
        ("upgrade", "apply all migrations up to the newest (run this first, and after every upgrade)"),
        ("downgrade", "revert migrations down to a revision (default: one step)"),
        ("current", "print the database's revision and whether it is up to date"),
    ]:
        action = actions.add_parser(name, help=text, description=text)
        if name in ("upgrade", "downgrade"):
            action.add_argument(
                "revision",
                nargs="?",
                default="head" if name == "upgrade" else "-1",
                help="Alembic revision id, 'head', 'base', or a relative step like -1",
            )
    _add_flush(actions)
    _add_outbox(actions)
    _add_prune(actions)


def _add_prune(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    prune = actions.add_parser(
        "prune",
        help="drop the pictures of old predictions (keeping their figures)",
        description="Drop the drawing (the 28x28 input) of every prediction older than --older-than "
        "days, or DIGIT_KNOWER_RETENTION_DAYS. The digit read, the verdict, the label and the owner "
        "stay, so the statistics do not change; retraining no longer learns from those rows. To "
        "delete a prediction whole: DELETE /v1/predictions/{id}.",
    )
    prune.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help="the age in days (default: DIGIT_KNOWER_RETENTION_DAYS)",
    )


def _add_flush(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    flush = actions.add_parser(
        "flush",
        help="write the records queued in the local outbox to the database now",
        description="Write the predictions, labels and model cards queued in the local outbox for "
        "this database, in order. The page and the API do this by themselves within seconds of the "
        "database coming back; this is for when neither runs. Exit status 1 when the database "
        "cannot be reached (after --wait).",
    )
    flush.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="while the database cannot be reached, keep trying this long; 0 tries once",
    )


def _add_outbox(actions: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    outbox = actions.add_parser(
        "outbox",
        help="list the outbox; retry or drop dead letters and records for other databases",
        description="The local outbox keeps records the database could not take yet, each tagged "
        "with the database it is meant for (user, host, port and name; never the password). "
        "Records meant for another database (the state folder was used with another DATABASE_URL) "
        "are left alone. A record the database refuses for good (a constraint it will never "
        "satisfy) is set aside as a dead letter after 3 tries, and the records behind it go on. "
        "Exit status 1 when the outbox cannot be read or an id is unknown, 2 for wrong usage.",
    )
    whats = outbox.add_subparsers(dest="outbox_command", required=True, metavar="WHAT")
    whats.add_parser(
        "list",
        help="what waits, for which database, and every dead letter with its reason",
        description="Print how many records wait for this database and for others, and every dead "
        "letter: its id, what it is, and why the database refused it.",
    )
    for name, text in [
        (
            "retry",
            "queue dead letters again (a prediction's labels come along), or have records meant "
            "for another database written to this one (--database)",
        ),
        (
            "drop",
            "delete dead letters for good (a prediction's labels go too), or the records meant for "
            "another database (--database)",
        ),
    ]:
        what = whats.add_parser(name, help=text, description=text + ".")
        what.add_argument(
            "ids", nargs="*", type=int, metavar="ID", help="dead letter ids, as `list` shows them"
        )
        what.add_argument("--all", action="store_true", default=None, help="every dead letter")
        what.add_argument(
            "--database",
            metavar="FINGERPRINT",
            help="the records meant for this other database, as `list` names it "
            "(e.g. postgresql://user@host:5432/name)",
        )


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower db ACTION`; its exit status."""
    from digit_knower.store.errors import DatabaseError
    from digit_knower.store.repository import Store

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
    from digit_knower.store import schema

    migration, head = store.upgrade(args.revision), schema.head_revision()
    if not migration.changed:
        return f"{store.where}: already at revision {migration.after} (head is {head}); nothing to do"
    return f"{store.where}: upgraded to revision {migration.after} (head is {head})"


def _downgrade(store: Store, args: argparse.Namespace) -> str:
    store.downgrade(args.revision)
    return f"{store.where}: downgraded to revision {store.current_revision() or 'none (no tables)'}"


def _current(store: Store, _args: argparse.Namespace) -> str:
    from digit_knower.store import schema

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


def _prune(store: Store, args: argparse.Namespace) -> str:
    from datetime import timedelta

    from digit_knower.settings import get_settings

    days = args.older_than if args.older_than is not None else get_settings().retention_days
    if days is None:
        raise _UsageError("say how old: --older-than DAYS, or set DIGIT_KNOWER_RETENTION_DAYS")
    if not days > 0:
        raise _UsageError(f"--older-than must be more than 0 days, not {days:g}")
    dropped = store.prune(timedelta(days=days))
    return f"{store.where}: dropped the pictures of {dropped} predictions older than {days:g} days"


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
    "prune": _prune,
}
OUTBOX_ACTIONS = {"list": _outbox_list, "retry": _outbox_retry, "drop": _outbox_drop}
