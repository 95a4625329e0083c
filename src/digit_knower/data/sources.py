"""The data sets by name: what each is, what must lie in its folder, and how it is fetched.

`digit-knower data` and the test suite's data lookup go through this table, so a new set is
added here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digit_knower.data import mnist, omniglot, pendigits


@dataclass(frozen=True)
class Source:
    """One data set: its name (its folder's name), what it is, and its folder's operations."""

    name: str
    description: str
    fetch: Callable[[Path, str | None], object]  # (folder, mirror): download what is missing, verify
    missing: Callable[[Path], list[str]]  # folder -> the files not there yet


# In the order of layout.DATA_SETS, whose names they are.
SOURCES = {
    source.name: source
    for source in (
        Source(
            "mnist",
            "MNIST: 70,000 scanned digits (LeCun, Cortes, Burges; CC BY-SA 3.0)",
            mnist.fetch,
            mnist.missing,
        ),
        Source(
            "pendigits",
            "UCI pen-based digits: 7,494 pen paths by 30 writers (Alpaydin, Alimoglu; CC BY 4.0)",
            pendigits.fetch,
            pendigits.missing,
        ),
        Source(
            "omniglot",
            "Omniglot strokes: 31,000 characters of 50 alphabets drawn with a mouse (Lake et al.; "
            "sketch-rnn data sets, MIT)",
            omniglot.fetch,
            omniglot.missing,
        ),
    )
}
