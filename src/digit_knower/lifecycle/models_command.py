"""`digit-knower models list | promote VERSION | rollback`: which model serves, everywhere.

Serving installs (no torch) run these too: nothing here imports the training code, and the store
and the models are imported only when a command runs (`--help` needs neither). The choice is a
row in the database's deployments table, so every web and API process on every machine follows
it within DIGIT_KNOWER_MODEL_REFRESH_S seconds, without a restart. Every failure is one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import getpass
import socket
import sys
from datetime import UTC
from typing import TYPE_CHECKING

from digit_knower.settings import get_settings

if TYPE_CHECKING:
    from digit_knower.lifecycle.catalog import Catalog, VersionRow
    from digit_knower.serving.registry import Registry
    from digit_knower.store import Store


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `models` and its actions to the `digit-knower` command line."""
    parser = subparsers.add_parser(
        "models",
        help="list the model versions; promote one, or roll back",
        description="Every registered model version with its figures and live accuracy, and which one "
        "serves. The serving choice lives in the database: every web and API process follows a "
        "promotion or a rollback within DIGIT_KNOWER_MODEL_REFRESH_S seconds, without a restart. "
        "Model folders come from DIGIT_KNOWER_MODEL_REGISTRY (or, for the shipped model, "
        "DIGIT_KNOWER_MODEL_DIR).",
    )
    actions = parser.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    actions.add_parser(
        "list",
        help="every version: figures, live accuracy, which one serves",
        description="Every registered version, newest first: MNIST test accuracy, the holdout and "
        "mouse-style figures of its retrain, live accuracy on labelled predictions, and which serves.",
    )
    for name, text in [
        ("promote", "make VERSION the serving model everywhere (its folder must load)"),
        ("rollback", "serve again the model that served before the current one"),
    ]:
        action = actions.add_parser(name, help=text, description=text)
        if name == "promote":
            action.add_argument("version", help="a version from `digit-knower models list`")
        action.add_argument("--reason", default="", help="why, for the history")
        action.add_argument("--by", default=None, help="who, for the history (default: user@host)")


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower models ACTION`; its exit status."""
    from digit_knower.reader.predictor import ModelNotFoundError
    from digit_knower.serving.registry import Registry
    from digit_knower.store import DatabaseError, Store

    settings = get_settings()
    registry = Registry.from_settings(settings)
    try:
        with Store.from_settings(settings) as store:
            store.ensure_schema()
            print(ACTIONS[args.models_command](store, registry, args, settings.model_refresh_s))
    except (DatabaseError, ModelNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _list(store: Store, registry: Registry, _args: argparse.Namespace, _refresh_s: float) -> str:
    from digit_knower.lifecycle.catalog import catalog

    store.register_model(registry.baseline.card)  # the shipped model is always a version
    return format_catalog(catalog(store, registry))


def _promote(store: Store, registry: Registry, args: argparse.Namespace, refresh_s: float) -> str:
    from digit_knower.store import UnknownModelError

    store.register_model(registry.baseline.card)
    if args.version not in {m.version for m in store.registered_models()}:
        raise UnknownModelError(
            f"no registered model has the version {args.version!r}; see `digit-knower models list`"
        )
    registry.load(args.version)  # refuse a model no process could load, saying why
    before = store.serving_version() or registry.baseline_version
    done = store.promote(args.version, by=args.by or who(), reason=args.reason)
    if before == done.version:
        return f"{done.version} already serves: nothing changed"
    return f"{done.version} now serves (was {before}); every process switches within {refresh_s:g} s"


def _rollback(store: Store, registry: Registry, args: argparse.Namespace, refresh_s: float) -> str:
    from digit_knower.store.deployments import rollback_target

    store.register_model(registry.baseline.card)
    target = rollback_target(list(reversed(store.deployments())), registry.baseline_version)
    registry.load(target)  # refuse to roll back to a model no process could load
    done = store.rollback(registry.baseline_version, by=args.by or who(), reason=args.reason)
    return (
        f"rolled back: {done.version} serves again (was {done.previous_version}); every process "
        f"switches within {refresh_s:g} s"
    )


ACTIONS = {"list": _list, "promote": _promote, "rollback": _rollback}


def who() -> str:
    """user@host, for the deployment history."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def format_catalog(found: Catalog) -> str:
    """The versions as an aligned table, newest first; `*` marks the one that serves."""
    header = ("", "version", "created (UTC)", "parent", "MNIST test", "holdout", "mouse-style", "live")
    rows = [header, *(_cells(row) for row in found.versions)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    lines.append("")
    if found.history:
        last = found.history[0]
        lines.append(
            f"* serves: {found.serving}, by {last.action} at {last.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC "
            f"by {last.by}" + (f": {last.reason}" if last.reason else "")
        )
    else:
        lines.append(f"* serves: {found.serving}, the shipped model (nothing was ever promoted)")
    lines.append(
        "holdout and mouse-style: the figures of its retrain; live: accuracy on labelled predictions "
        "(how many). (no folder): not in this registry, so no process here can serve it."
    )
    return "\n".join(lines)


def _cells(row: VersionRow) -> tuple[str, ...]:
    live = "—" if row.live_accuracy is None else f"{row.live_accuracy:.1%} ({row.labelled:,})"
    return (
        "*" if row.serving else "",
        row.version + ("" if row.on_disk else " (no folder)"),
        f"{row.created_at.astimezone(UTC):%Y-%m-%d %H:%M}" if row.created_at else "—",
        row.parent or "—",
        _pct(row.test_accuracy),
        _pct(row.holdout_accuracy),
        _pct(row.robustness_accuracy),
        live,
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.2%}"
