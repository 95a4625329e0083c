"""`digit-knower`: the one command line for the data, training, evaluating, serving, the learning
loop and the database.

Each package owns its subcommand, in a module with `add_parser(subparsers)` and `main(args)`.
This file only puts them together and dispatches. Those modules import their heavy packages
(torch, ONNX Runtime, Streamlit, SQLAlchemy, FastAPI) inside `main`, so `--help` is instant and
`serve` and `api` never import torch.
"""

from __future__ import annotations

import argparse
import sys
from importlib import import_module
from types import ModuleType
from typing import Any

from digit_knower.settings import settings_problem

# Subcommand -> the module that owns it, in the order `digit-knower --help` lists them.
COMMANDS = {
    "train": "digit_knower.training.train_command",
    "evaluate": "digit_knower.training.evaluate_command",
    "serve": "digit_knower.web.serve_command",
    "api": "digit_knower.api.api_command",
    "retrain": "digit_knower.lifecycle.retrain_command",
    "models": "digit_knower.lifecycle.models_command",
    "db": "digit_knower.store.db_command",
    "keys": "digit_knower.store.keys_command",
    "data": "digit_knower.data.data_command",
}


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except None: there the help text says what happens."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """A parser that uses HelpFormatter unless told otherwise.

    argparse makes every sub-parser of its parent's class, so the subcommands and their own actions
    (`db outbox list`, ...) all show their defaults without each module having to ask.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def command_module(name: str) -> ModuleType:
    """The module that owns the subcommand `name` (light: its heavy imports wait for `main`)."""
    return import_module(COMMANDS[name])


def build_parser() -> argparse.ArgumentParser:
    """`digit-knower` with every subcommand; the parsed arguments name theirs in `command`."""
    parser = _Parser(
        prog="digit-knower",
        description="Draw a digit, and the machine reads it. Train the CNN on MNIST, "
        "score it, and serve it as a web page or a REST API, logging every prediction.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        command_module(name).add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run `digit-knower` with `argv` (default: the process's arguments); the exit status."""
    problem = settings_problem()
    if problem:
        print(f"digit-knower: {problem}", file=sys.stderr)
        return 2
    args = build_parser().parse_args(argv)
    status: int = command_module(args.command).main(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
