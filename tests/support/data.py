"""Where the test suite finds the data sets, fetching them once when they are nowhere; and a local
stand-in for their public homes.

The lookup, in order:
1. DIGIT_KNOWER_DATA_DIR, when set;
2. ../shared/data beside the checkout, where it exists (as on the development machine, which has
   no internet);
3. the user's data folder (settings.data_dir), as on a fresh clone.
Whatever set is missing from the folder found is fetched there with `digit-knower data fetch`.
`./scripts/test` runs this module once before pytest (`python -m tests.support.data` prints the
folder) and exports it; the suite's fixtures ask the same function.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import http.server
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from digit_knower.data.download import DataError
from digit_knower.data.layout import DATA_SETS, set_dir

REPO_ROOT = Path(__file__).resolve().parents[2]
# A port where nothing listens: a download from it fails at once, as without network.
NO_NETWORK = "http://127.0.0.1:9/"


def find_data_dir(checkout: Path = REPO_ROOT) -> Path:
    """The data folder the suite reads (see the module's docstring), fetching nothing."""
    configured = os.environ.get("DIGIT_KNOWER_DATA_DIR")
    if configured:
        return Path(configured)
    shared = checkout.parent / "shared" / "data"
    if shared.is_dir():
        return shared
    from digit_knower.settings import Settings

    return Settings().data_dir


def missing_sets(data_dir: Path) -> list[str]:
    """The data sets whose files are not all in the data folder."""
    from digit_knower.data.sources import SOURCES

    return [name for name, source in SOURCES.items() if source.missing(set_dir(data_dir, name))]


def ensure_data_dir(checkout: Path = REPO_ROOT, mirror: str | None = None) -> Path:
    """The data folder the suite reads, with every missing set fetched there first by
    `digit-knower data fetch` (from `mirror` instead of the public homes when given).
    A DataError when a set could not be fetched."""
    data_dir = find_data_dir(checkout)
    missing = missing_sets(data_dir)
    if missing:
        from digit_knower.cli import main

        argv = ["data", "fetch", *missing, "--to", str(data_dir), *(["--mirror", mirror] if mirror else [])]
        if main(argv) != 0:
            raise DataError(
                f"the suite needs {', '.join(missing)} in {data_dir}, and `digit-knower "
                f"{' '.join(argv)}` could not fetch them (see above). Set DIGIT_KNOWER_DATA_DIR to a "
                "data folder that holds them."
            )
    return data_dir


def copy_as_mirror(data_dir: Path, root: Path) -> Path:
    """Copy the real files of every set into root, laid out as `digit-knower data fetch --mirror`
    reads a mirror: mnist/*.gz, pendigits/pendigits.tra, omniglot/omniglot_strokes.npz."""
    from digit_knower.data import mnist, omniglot, pendigits

    for name in DATA_SETS:
        (root / name).mkdir(parents=True, exist_ok=True)
    for name in mnist.FILES:
        found = mnist.find_file(set_dir(data_dir, "mnist"), name)
        assert found is not None, f"{name} missing in {data_dir}"
        target = root / "mnist" / f"{name}.gz"
        if found.suffix == ".gz":
            shutil.copy(found, target)
        else:
            target.write_bytes(gzip.compress(found.read_bytes()))
    shutil.copy(set_dir(data_dir, "pendigits") / pendigits.FILE, root / "pendigits" / pendigits.FILE)
    shutil.copy(set_dir(data_dir, "omniglot") / omniglot.PLAIN_FILE, root / "omniglot" / omniglot.PLAIN_FILE)
    return root


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log: the tests' output stays readable."""


@contextlib.contextmanager
def serve_folder(root: Path) -> Iterator[str]:
    """A real HTTP server on 127.0.0.1 (a free port) serving root's files: the stand-in for the
    public homes of the data sets. Yields its base URL, ending in a slash."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    # stdout carries only the folder (scripts/test captures it); the fetch reports on stderr.
    try:
        with contextlib.redirect_stdout(sys.stderr):
            found = ensure_data_dir()
    except DataError as error:
        print(f"tests/support/data.py: {error}", file=sys.stderr)
        sys.exit(1)
    print(found)
