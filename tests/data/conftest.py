"""The data package's fixtures: a local HTTP server standing in for the sets' public homes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.data import copy_as_mirror, serve_folder


@pytest.fixture
def mirror_root(data_dir: Path, tmp_path: Path) -> Path:
    """Copies of the real files, laid out as a mirror of the data folder (a test may spoil them)."""
    return copy_as_mirror(data_dir, tmp_path / "mirror")


@pytest.fixture
def mirror(mirror_root: Path) -> Iterator[str]:
    """The base URL of a real HTTP server on 127.0.0.1 serving mirror_root."""
    with serve_folder(mirror_root) as url:
        yield url


@pytest.fixture
def home(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An empty folder served over HTTP, and its URL: put a file in it to publish it."""
    root = tmp_path / "home"
    root.mkdir()
    with serve_folder(root) as url:
        yield root, url
