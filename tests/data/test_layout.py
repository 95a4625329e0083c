"""Where each data set lies below the data folder: one folder per set, or the old MNIST-only folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digit_knower.data.layout import DATA_SETS, set_dir
from digit_knower.data.mnist import FILES, load_test
from digit_knower.data.pendigits import load_pendigits
from digit_knower.data.sources import SOURCES


def test_each_set_has_a_folder_of_its_name_below_the_data_folder(tmp_path: Path) -> None:
    assert [set_dir(tmp_path, name) for name in DATA_SETS] == [
        tmp_path / "mnist",
        tmp_path / "pendigits",
        tmp_path / "omniglot",
    ]


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_a_folder_holding_the_mnist_files_is_mnists_own_and_the_others_lie_beside_it(
    tmp_path: Path, suffix: str
) -> None:
    old = tmp_path / "mnist-files"
    old.mkdir()
    (old / f"{FILES[0]}{suffix}").touch()
    assert set_dir(old, "mnist") == old
    assert set_dir(old, "pendigits") == tmp_path / "pendigits"
    assert set_dir(old, "omniglot") == tmp_path / "omniglot"


def test_a_folder_that_does_not_exist_yet_gets_the_new_layout(tmp_path: Path) -> None:
    assert set_dir(tmp_path / "new", "mnist") == tmp_path / "new" / "mnist"


def test_an_unknown_set_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="unknown data set 'emnist'; the sets are mnist, pendigits, omniglot"
    ):
        set_dir(tmp_path, "emnist")


def test_every_set_of_the_layout_has_a_source() -> None:
    assert tuple(SOURCES) == DATA_SETS


def test_the_mnist_folder_alone_as_the_data_folder_used_to_be_still_finds_every_set(
    data_dir: Path, mnist_dir: Path
) -> None:
    assert set_dir(data_dir, "mnist") == mnist_dir
    assert np.array_equal(
        load_test(mnist_dir, download=False).labels, load_test(data_dir, download=False).labels
    )
    old_layout = set_dir(mnist_dir, "pendigits")
    assert old_layout == set_dir(data_dir, "pendigits")
    assert load_pendigits(mnist_dir, download=False).sha256 == load_pendigits(data_dir, download=False).sha256
