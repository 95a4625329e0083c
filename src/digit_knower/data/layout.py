"""Where each data set lies below the data folder (settings.data_dir, DIGIT_KNOWER_DATA_DIR).

The data folder holds one folder per set: mnist/, pendigits/, omniglot/. Before there were
several sets, the data folder *was* the MNIST folder; such a folder still works: MNIST is read
from it, and the other sets lie beside it (its parent's pendigits/ and omniglot/), as in
../shared/data. Only pathlib here: `digit-knower data where` and the CLI import it.
"""

from __future__ import annotations

from pathlib import Path

DATA_SETS = ("mnist", "pendigits", "omniglot")

# What marks a folder that holds the MNIST files themselves: IDX files, raw or gzipped.
_MNIST_PATTERNS = ("*-idx?-ubyte", "*-idx?-ubyte.gz")


def holds_mnist_files(folder: Path) -> bool:
    """Whether folder holds MNIST's IDX files directly (the old layout), not below mnist/."""
    return any(any(folder.glob(pattern)) for pattern in _MNIST_PATTERNS)


def set_dir(data_dir: Path, name: str) -> Path:
    """The folder where data set `name` lies, or is downloaded to, for this data folder."""
    if name not in DATA_SETS:
        raise ValueError(f"unknown data set {name!r}; the sets are {', '.join(DATA_SETS)}")
    data_dir = Path(data_dir)
    if holds_mnist_files(data_dir):
        return data_dir if name == "mnist" else data_dir.parent / name
    return data_dir / name
