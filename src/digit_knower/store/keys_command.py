"""`digit-knower keys create | list | revoke`: the API's scoped keys, in the database DATABASE_URL
names (see `store.api_keys`). The store is imported only when a command runs."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from digit_knower.store.api_keys import ApiKey
    from digit_knower.store.repository import Store

SCOPE_HELP = (
    "predict: POST /v1/predictions; label: label its own predictions; read: list its own "
    "predictions and the global statistics; admin: everything, on everyone's predictions"
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `keys` and its actions to the `digit-knower` command line."""
    parser = subparsers.add_parser(
        "keys",
        help="create, list and revoke the API's scoped keys",
        description="The API's keys, each with a name (recorded on the predictions and labels it "
        "makes) and scopes. Only a hash of each key is stored: `create` prints the key once. "
        "DIGIT_KNOWER_API_KEY still works as a trusted admin key. A client sees and labels only its "
        "own predictions; retraining learns only from labels of keys marked --trusted (and from "
        "labels that agree with the model's own sure reading). Exit status 1 when the database "
        "refuses (a name taken, an unknown key), 2 for wrong usage.",
    )
    actions = parser.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="make a key and print it (once)", description=SCOPE_HELP)
    create.add_argument("name", help="1-64 lower-case letters, digits, '.', '_' or '-'")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=("predict", "label", "read", "admin"),
        help="a scope; repeat for more (" + SCOPE_HELP + ")",
    )
    create.add_argument(
        "--trusted",
        action="store_true",
        help="retraining may learn from this key's labels (give it only to people you trust)",
    )
    actions.add_parser("list", help="list the keys (never the keys themselves)")
    revoke = actions.add_parser(
        "revoke",
        help="stop a key for good (the API stops taking it within seconds)",
        description="Revoke a key: it stops working in every API process within 5 s, its labels "
        "are no longer trusted by retraining, and its name is never given to another key.",
    )
    revoke.add_argument("name")


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower keys ACTION`; its exit status."""
    from digit_knower.store.errors import DatabaseError
    from digit_knower.store.repository import Store

    try:
        with Store.from_settings() as store:
            store.ensure_schema()
            print(ACTIONS[args.keys_command](store, args))
    except DatabaseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


def _create(store: Store, args: argparse.Namespace) -> str:
    key, token = store.create_api_key(args.name, args.scope, trusted=args.trusted)
    return (
        f"created key {key.name!r} ({_describe(key)}). The key, shown this once (only its hash is "
        f"kept):\n{token}"
    )


def _list(store: Store, _args: argparse.Namespace) -> str:
    keys = store.list_api_keys()
    if not keys:
        return f"{store.where}: no keys (DIGIT_KNOWER_API_KEY, if set, is the only one)"
    width = max(len(k.name) for k in keys)
    return "\n".join(f"{k.name.ljust(width)}  {_describe(k)}" for k in keys)


def _revoke(store: Store, args: argparse.Namespace) -> str:
    key = store.revoke_api_key(args.name)
    assert key.revoked_at is not None
    return f"revoked key {key.name!r} at {key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"


def _describe(key: ApiKey) -> str:
    from digit_knower.store.api_keys import SCOPES

    scopes = ",".join(s for s in SCOPES if s in key.scopes)
    trusted = ", trusted" if key.trusted else ""
    created = f", created {key.created_at:%Y-%m-%d}" if key.created_at else ""
    revoked = f", REVOKED {key.revoked_at:%Y-%m-%d}" if key.revoked_at else ""
    return f"scopes {scopes}{trusted}{created}{revoked}"


ACTIONS = {"create": _create, "list": _list, "revoke": _revoke}
