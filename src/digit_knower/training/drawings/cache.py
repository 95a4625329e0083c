"""Drawings made once and kept in the cache folder, each file named by a digest of what made it.

Redrawing digits along their skeletons and drawing non-digits take seconds to minutes, and what
they are made from does not change between runs: training's drawings (`training_set`) and the
test-side sets the model card's figures are read on (`quality.cached`) are made once and kept.
A file's name holds a digest of everything that shaped it: the arrays it was made from, the
numbers (counts, seeds) and the source of the modules whose code draws and preprocesses. So a
change to any of them makes a new file instead of reusing a stale one.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import NDArray


def path(
    cache_dir: Path,
    kind: str,
    arrays: Iterable[NDArray[Any]],
    numbers: Iterable[object],
    sources: Iterable[ModuleType],
) -> Path:
    """Where the drawings of this `kind`, made from these arrays, numbers and code, are kept."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr(tuple(numbers)).encode())
    for module in sources:
        digest.update(Path(module.__file__ or "").read_bytes())
    return Path(cache_dir) / f"{kind}-{digest.hexdigest()[:16]}.npz"


def load(file: Path) -> dict[str, NDArray[Any]] | None:
    """The arrays kept in `file`, or None when they were never made."""
    if not file.is_file():
        return None
    with np.load(file) as kept:
        return {name: kept[name] for name in kept.files}


def save(file: Path, arrays: Mapping[str, NDArray[Any]], *, compressed: bool = False) -> None:
    """Written beside, then renamed: a run stopped midway never leaves a broken cache file.

    Compress what is mostly empty canvas (280x280 inks shrink about 60-fold); 28x28 inputs load
    faster as they are.
    """
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_name(f".{file.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        # Numbers only, as np.load reads them back (allow_pickle named, so no array is taken for it).
        (np.savez_compressed if compressed else np.savez)(out, allow_pickle=False, **arrays)
    os.replace(partial, file)
