"""`digit-knower data`: download the data sets and say where they lie.

Only argparse, pathlib and the settings at import: the sources (numpy, downloads) are imported
when a command runs, so `digit-knower --help` stays instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from digit_knower.data.layout import DATA_SETS, set_dir
from digit_knower.settings import get_settings


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `data` and its actions (`fetch`, `where`) to the `digit-knower` command line."""
    data_dir = get_settings().data_dir
    parser = subparsers.add_parser(
        "data",
        help="download the data sets (MNIST, pen digits, Omniglot) and say where they lie",
        description="The data sets that training and evaluation read: MNIST, UCI's pen-written "
        "digits and Omniglot's mouse-drawn characters. They lie in the data folder "
        f"(DIGIT_KNOWER_DATA_DIR; currently {data_dir}), one folder each: mnist/, pendigits/, "
        "omniglot/. A data folder that holds the MNIST files themselves also works: the other "
        "sets then lie beside it.",
    )
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    fetch = actions.add_parser(
        "fetch",
        help="download the sets that are missing, and verify every one",
        description="Download each named set (default: all three) that is missing from its "
        "public home, with a progress bar, and verify its SHA-256: MNIST from its mirrors (the "
        "checksums of the uncompressed files), the pen digits from UCI (the checksum of the "
        "parsed rows), Omniglot from sketch-rnn's data sets (its original holds pickles: it is "
        "checked before anything reads it, converted once to a plain file, and deleted). Sets "
        "already there are only verified, with no network. Exit status 0 when every set is in "
        "place and verified, 1 when one could not be downloaded or failed its check.",
    )
    fetch.add_argument(
        "sets",
        nargs="*",
        type=_data_set,
        metavar="SET",
        help=f"which sets: {', '.join(DATA_SETS)} (default: all)",
    )
    fetch.add_argument(
        "--to",
        "--data-dir",
        dest="data_dir",
        metavar="DIR",
        type=Path,
        default=data_dir,
        help="the data folder to fill (env DIGIT_KNOWER_DATA_DIR)",
    )
    fetch.add_argument(
        "--mirror",
        metavar="URL",
        help="download from this copy of the data folder instead of the public homes: it serves "
        "URL/mnist/*.gz, URL/pendigits/pendigits.tra and URL/omniglot/omniglot_strokes.npz (or "
        "sketch-rnn's omniglot.npz); e.g. a server inside a network without internet",
    )
    where = actions.add_parser(
        "where",
        help="print where each set lies, and whether it is there",
        description="Print the data folder, then each set's folder and whether its files are "
        "there (`fetch` verifies them). Reads nothing over the network.",
    )
    where.add_argument(
        "--data-dir",
        metavar="DIR",
        type=Path,
        default=data_dir,
        help="the data folder (env DIGIT_KNOWER_DATA_DIR)",
    )


def _data_set(name: str) -> str:
    # A type, not `choices`: argparse checks an empty `SET ...` against choices, and refuses it.
    if name not in DATA_SETS:
        raise argparse.ArgumentTypeError(f"unknown set {name!r} (choose from {', '.join(DATA_SETS)})")
    return name


def main(args: argparse.Namespace) -> int:
    """Run `digit-knower data ACTION`; its exit status."""
    if args.data_command == "fetch":
        return fetch(args.sets or list(DATA_SETS), args.data_dir, args.mirror)
    return where(args.data_dir)


def fetch(names: list[str], data_dir: Path, mirror: str | None = None) -> int:
    """Fetch and verify each named set into the data folder; 0 when all are in place, else 1."""
    from digit_knower.data.download import DataError
    from digit_knower.data.sources import SOURCES

    failed = []
    for name in names:
        folder = set_dir(data_dir, name)
        try:
            SOURCES[name].fetch(folder, mirror)
        except DataError as e:
            print(f"digit-knower data fetch: {name}: {e}", file=sys.stderr)
            failed.append(name)
            continue
        print(f"{name}: verified in {folder}")
    if failed:
        print(f"digit-knower data fetch: not in place: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def where(data_dir: Path) -> int:
    """Print where each set lies and whether its files are there."""
    from digit_knower.data.sources import SOURCES

    print(f"data folder: {data_dir}")
    for name, source in SOURCES.items():
        folder = set_dir(data_dir, name)
        missing = ", ".join(source.missing(folder))
        print(f"  {name:<10} {'missing' if missing else 'present':<8} {folder}")
        print(f"  {'':<10} {'':<8} {source.description}")
        if missing:
            print(f"  {'':<10} {'':<8} no {missing}: run `digit-knower data fetch {name}`")
    return 0
