"""Drawings made once and kept: the test-side sets the model card is read on come back from the
cache folder exactly as they were drawn, and anything that shaped them makes a new file.

(Training's own drawings are covered in tests/training/test_data_mix.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.mnist import Split, load_test
from digit_knower.training import reader_quality as quality
from digit_knower.training.drawings import cache as drawing_cache


@pytest.fixture(scope="module")
def test_digits(mnist_dir: Path) -> Split:
    return load_test(mnist_dir, download=False)


def counted(make, calls: list[int]):
    """`make`, under its own name, counting how often it really draws."""

    def drawn(test: Split, count: int) -> quality.DrawingSet:
        calls.append(count)
        return make(test, count)

    drawn.__name__ = make.__name__
    return drawn


@pytest.mark.parametrize("make", [quality.several_digits_set, quality.nondigit_set, quality.mouse_style])
def test_a_set_is_drawn_once_then_read_back_as_it_was(make, test_digits: Split, tmp_path: Path) -> None:
    calls: list[int] = []
    first = quality.cached(tmp_path, counted(make, calls), test_digits, 12)
    files = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    again = quality.cached(tmp_path, counted(make, calls), test_digits, 12)

    assert calls == [12]  # drawn the first time only
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == files
    assert len(files) == 1 and next(iter(files)).startswith(f"test-{make.__name__}-")
    assert again.name == first.name
    assert np.array_equal(again.inks, first.inks)
    assert again.paints == first.paints
    assert again.labels == first.labels  # two or three digits, one, or none: each as drawn


def test_another_count_is_another_set_in_another_file(test_digits: Split, tmp_path: Path) -> None:
    small = quality.cached(tmp_path, quality.mouse_style, test_digits, 3)
    larger = quality.cached(tmp_path, quality.mouse_style, test_digits, 4)
    assert (len(small), len(larger)) == (9, 12)
    assert len(list(tmp_path.iterdir())) == 2


def test_a_file_is_named_by_what_made_it(tmp_path: Path) -> None:
    digits = np.zeros((2, 28, 28), np.uint8)
    named = drawing_cache.path(tmp_path, "kind", (digits,), (1, 2), (quality,))
    assert named == drawing_cache.path(tmp_path, "kind", (digits.copy(),), (1, 2), (quality,))
    assert named.parent == tmp_path and named.name.startswith("kind-") and named.suffix == ".npz"
    others = [
        drawing_cache.path(tmp_path, "kind", (digits + 1,), (1, 2), (quality,)),
        drawing_cache.path(tmp_path, "kind", (digits,), (1, 3), (quality,)),
        drawing_cache.path(tmp_path, "kind", (digits,), (1, 2), (drawing_cache,)),
    ]
    assert len({named, *others}) == 4


def test_nothing_is_kept_until_it_is_whole(tmp_path: Path) -> None:
    file = tmp_path / "kept" / "kind-0123.npz"
    assert drawing_cache.load(file) is None
    drawing_cache.save(file, {"inks": np.arange(6, dtype=np.uint8).reshape(2, 3)}, compressed=True)
    assert [p.name for p in file.parent.iterdir()] == [file.name]  # no partial file left beside it
    assert np.array_equal(drawing_cache.load(file)["inks"], [[0, 1, 2], [3, 4, 5]])
